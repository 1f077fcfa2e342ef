"""The config ``tortoise makemigrations -c bot.tortoise_conf.TORTOISE_ORM`` uses for developers.

Only for generating migrations; running code builds its config from settings (``bot.db``).
"""

from bot.db import tortoise_config

TORTOISE_ORM = tortoise_config("sqlite://:memory:")
