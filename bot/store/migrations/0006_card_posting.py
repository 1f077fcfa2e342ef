"""A card is claimed before it is posted: the token it carries in its Slack message metadata
and when the post began, so a crash between posting and recording finds the card again
instead of posting a second one (issue 16)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0005_learned_answer_review')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Draft',
            name='card_token',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Draft',
            name='card_posting_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
