"""The original bytes of every accepted mail (compressed), so a parse can be redone."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_foreign_key_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RawMail',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha256', fields.CharField(unique=True, max_length=64)),
                ('size', fields.IntField()),
                ('data', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True, db_index=True)),
            ],
            options={'table': 'raw_mail', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
