"""The config developers give ``tortoise makemigrations -c bot.store.tortoise_conf.TORTOISE_ORM``.

Only for generating migrations; running code builds its config from settings (``bot.store.db``).
"""

from bot.store.db import tortoise_config

TORTOISE_ORM = tortoise_config("sqlite://:memory:")
