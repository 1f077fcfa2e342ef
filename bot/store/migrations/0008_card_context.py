"""An index on a conversation's customer: every approval card links the customer's latest
earlier conversations (issue 13), a read that would otherwise scan the conversation table."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0007_draft_cache_tokens')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Conversation',
            index=Index(fields=['customer_id', 'id']),
        ),
    ]
