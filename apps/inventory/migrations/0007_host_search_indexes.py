"""Hosts by name, and searched by a part of their name or instance id, from indexes instead of a scan.

The btree on (hostname, id) gives ``?ordering=hostname`` and ``-hostname`` a page read off the index.
The console's ``?q=`` is ``UPPER(hostname) LIKE UPPER('%q%')`` (Django's icontains); a GIN index of
pg_trgm trigrams on exactly that expression serves it. Only PostgreSQL has them: on SQLite (make run's
default) the trigram part does nothing.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# Django's icontains compares UPPER("column"::text); the index is on the same expression, so the planner uses it.
TRIGRAM_INDEXES = {
    "host_hostname_trgm_idx": "hostname",
    "host_instance_id_trgm_idx": "instance_id",
}


class AddTrigramExtension(TrigramExtension):
    """pg_trgm, created where missing. Undoing the migration keeps it: another index may use it (and Django's
    own backwards step queries pg_extension even on SQLite)."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        """Leave the extension in place."""


def create_trigram_indexes(apps, schema_editor):
    """The GIN trigram indexes, on PostgreSQL only."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "inventory_host" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    """Undo create_trigram_indexes."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0006_host_failure_reason_servicepool_below_desired_since"),
    ]

    operations = [
        AddTrigramExtension(),
        migrations.AddIndex(
            model_name="host",
            index=models.Index(fields=["hostname", "id"], name="host_hostname_order_idx"),
        ),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
