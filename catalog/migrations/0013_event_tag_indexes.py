# Built concurrently: on a shop's events table (impressions included) a plain CREATE INDEX would
# hold up every write of an event, and so every page that logs one, until it is done.

import django.db.models.fields.json
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('catalog', '0012_saved_items'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='event',
            index=models.Index(django.db.models.fields.json.KeyTransform('exp', 'context'), models.F('kind'), condition=models.Q(('context__has_key', 'exp')), name='event_experiment'),
        ),
        AddIndexConcurrently(
            model_name='event',
            index=models.Index(django.db.models.fields.json.KeyTransform('promo', 'context'), models.F('kind'), condition=models.Q(('context__has_key', 'promo')), name='event_promotion'),
        ),
    ]
