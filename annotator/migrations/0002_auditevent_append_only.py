"""Make the audit trail append-only at the database: PostgreSQL refuses UPDATE and DELETE.

TRUNCATE stays possible for the operator (and the test runner's flush).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION annotator_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER annotator_auditevent_append_only
    BEFORE UPDATE OR DELETE ON annotator_auditevent
    FOR EACH ROW EXECUTE FUNCTION annotator_auditevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS annotator_auditevent_append_only ON annotator_auditevent;
DROP FUNCTION IF EXISTS annotator_auditevent_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("annotator", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
