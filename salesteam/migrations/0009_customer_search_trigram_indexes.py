"""Trigram indexes for the customer search (the deal form's suggestions, /api/v1/customers/?search=):
Django's icontains is UPPER(column::text) LIKE UPPER('%…%'), which no b-tree index serves; on
PostgreSQL a GIN index of the same expression with pg_trgm's operator class does. SQLite, the
embedded default, keeps scanning its few customers."""

from django.db import migrations

COLUMNS = ("name", "external_id")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customer_{column}_trgm ON salesteam_customer"
            f" USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("salesteam", "0008_deal_team_created_index")]

    operations = [migrations.RunPython(create, drop)]
