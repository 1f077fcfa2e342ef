"""Learned answers' review state: proposed until an admin accepts them, stale when the KB
article they rest on changes or disappears (issue 12)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_raw_mail')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LearnedAnswerReview',
            fields=[
                ('answer_id', fields.CharField(primary_key=True, unique=True, db_index=True,
                                               max_length=128)),
                ('status', fields.CharField(default='proposed', db_index=True, max_length=16)),
                ('question', fields.TextField(default='')),
                ('answer', fields.TextField(default='')),
                ('grounded_in', fields.CharField(null=True, db_index=True, max_length=1024)),
                ('reason', fields.TextField(null=True)),
                ('decided_by', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'learned_answer_review', 'app': 'models', 'pk_attr': 'answer_id'},
            bases=['Model'],
        ),
    ]
