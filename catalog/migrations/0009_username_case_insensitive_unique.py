"""A unique index on lower(username) of the user table: sign-up and renames check
``username__iexact`` first, but two at once could both pass the check and save "demo" and "DEMO".

The index is created only when no usernames already differ only in case; otherwise the migration
stops and names them (rename all but one of each group, then migrate again)."""

from django.conf import settings
from django.db import migrations

INDEX = "catalog_username_lower_unique"


def _table(apps, schema_editor) -> tuple[str, str]:
    model = apps.get_model(settings.AUTH_USER_MODEL)
    quote = schema_editor.quote_name
    return quote(model._meta.db_table), quote(model._meta.get_field("username").column)


def create_index(apps, schema_editor) -> None:
    table, column = _table(apps, schema_editor)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT array_agg({column} ORDER BY {column}) FROM {table} "
                       f"GROUP BY lower({column}) HAVING count(*) > 1 ORDER BY 1")
        clashes = [names for (names,) in cursor.fetchall()]
    if clashes:
        groups = "; ".join(", ".join(repr(name) for name in names) for names in clashes)
        raise RuntimeError(
            f"Cannot add the case-insensitive unique index on usernames: {len(clashes)} group(s) of "
            f"usernames differ only in case: {groups}. Rename all but one in each group, then migrate again.")
    schema_editor.execute(f"CREATE UNIQUE INDEX {schema_editor.quote_name(INDEX)} ON {table} (lower({column}))")


def drop_index(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(INDEX)}")


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0008_cart_line"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
