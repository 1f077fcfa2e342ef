"""Prompt-cache tokens per draft (issue 11): what Claude read from the cache and what it
wrote into it, so ``supportbot stats`` and ``/support stats`` can show the cache hit rate."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0006_card_posting')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Draft',
            name='cache_read_tokens',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Draft',
            name='cache_creation_tokens',
            field=fields.IntField(default=0),
        ),
    ]
