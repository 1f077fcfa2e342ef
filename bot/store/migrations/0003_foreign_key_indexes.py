"""Indexes on the foreign keys the router, outbox and stats read by (a conversation's history,
its pending draft, a draft's outbox item and signals): without them those reads scan whole
tables as they grow."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_draft_topic')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Draft',
            index=Index(fields=['conversation_id', 'status']),
        ),
        ops.AddIndex(
            model_name='Draft',
            index=Index(fields=['message_id']),
        ),
        ops.AddIndex(
            model_name='InboxItem',
            index=Index(fields=['message_id']),
        ),
        ops.AddIndex(
            model_name='LearningSignal',
            index=Index(fields=['draft_id']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['conversation_id', 'id']),
        ),
        ops.AddIndex(
            model_name='OutboxItem',
            index=Index(fields=['conversation_id']),
        ),
        ops.AddIndex(
            model_name='OutboxItem',
            index=Index(fields=['draft_id']),
        ),
    ]
