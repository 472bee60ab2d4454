"""Rows of one price key never overlap: an exclusion constraint on PostgreSQL.

SQLite (the embedded default) cannot hold one; there apps.costs.catalog checks
under the database's write lock, as it also does on PostgreSQL to answer with a
clear message before the constraint would refuse.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE costs_price ADD CONSTRAINT price_key_no_overlap EXCLUDE USING gist (
    (COALESCE(provider_id, 0)) WITH =, kind WITH =, region WITH =, instance_type WITH =, zone WITH =,
    tstzrange(valid_from, valid_to, '[)') WITH &&
);
"""
DROP = "ALTER TABLE costs_price DROP CONSTRAINT IF EXISTS price_key_no_overlap;"


def add(apps, schema_editor):
    """Add the constraint where the database can hold it."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def remove(apps, schema_editor):
    """Drop it again."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("costs", "0001_price_catalog_exchange_rates")]

    operations = [migrations.RunPython(add, remove)]
