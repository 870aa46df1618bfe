"""Make the audit trail append-only on the embedded SQLite database too: triggers refuse
UPDATE and DELETE, as 0002's trigger does on PostgreSQL."""

from django.db import migrations

FORWARD = [
    """
    CREATE TRIGGER annotator_auditevent_no_update BEFORE UPDATE ON annotator_auditevent
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    """,
    """
    CREATE TRIGGER annotator_auditevent_no_delete BEFORE DELETE ON annotator_auditevent
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS annotator_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS annotator_auditevent_no_delete;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("annotator", "0008_annotation_source_import")]

    operations = [migrations.RunPython(forward, backward)]
