"""Refuse UPDATE and DELETE of audit entries in the database itself, whoever connects.

One UPDATE is let through: the one Django makes when a referenced user, API key or workspace
is deleted (on_delete=SET_NULL), which only turns a reference into NULL; the entry keeps its
labels. There is no path that deletes entries (no service deletes a workspace; the admin's
workspace deletion keeps its entries, workspace set to NULL).

SQLite has no session settings, so its triggers ask `audit_guard_lifted()`, a function Django
connections get from audit_app/guard.py; only `manage.py flush` lifts it. PostgreSQL flushes
with TRUNCATE, which row triggers do not see.

A migration that adds a column to AuditEntry must add it to SQLITE_UNCHANGED below (PostgreSQL
compares whole rows and needs nothing).
"""

from django.db import migrations

TABLE = "audit_app_auditentry"
REFERENCES = ("workspace_id", "actor_user_id", "actor_api_key_id")

POSTGRESQL_FORWARD = f"""
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (NEW.workspace_id IS NULL OR NEW.workspace_id = OLD.workspace_id)
        AND (NEW.actor_user_id IS NULL OR NEW.actor_user_id = OLD.actor_user_id)
        AND (NEW.actor_api_key_id IS NULL OR NEW.actor_api_key_id = OLD.actor_api_key_id)
        AND (to_jsonb(NEW) - ARRAY{list(REFERENCES)}) = (to_jsonb(OLD) - ARRAY{list(REFERENCES)})
    THEN
        RETURN NEW;  -- a referenced row was deleted (SET NULL); the entry itself is unchanged
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON {TABLE}
FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();
"""

POSTGRESQL_BACKWARD = f"""
DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE};
DROP FUNCTION IF EXISTS audit_entry_append_only();
"""

SQLITE_UNCHANGED = (
    "id",
    "action",
    "actor_type",
    "actor_label",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "ip_address",
    "user_agent",
    "request_id",
    "created_at",
)
_sqlite_same = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in SQLITE_UNCHANGED)
_sqlite_references_kept_or_nulled = " AND ".join(
    f"(NEW.{column} IS OLD.{column} OR NEW.{column} IS NULL)" for column in REFERENCES
)

SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW WHEN NOT ({_sqlite_same} AND {_sqlite_references_kept_or_nulled})
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused'); END;
    """,
    f"""
    CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW WHEN audit_guard_lifted() = 0
    BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused'); END;
    """,
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS audit_entry_no_update", "DROP TRIGGER IF EXISTS audit_entry_no_delete"]


def _run(schema_editor, statements_by_vendor: dict) -> None:
    statements = statements_by_vendor.get(schema_editor.connection.vendor)
    if statements is None:
        raise RuntimeError(
            f"The audit log's append-only triggers are written for PostgreSQL and SQLite, "
            f"not {schema_editor.connection.vendor}."
        )
    for statement in [statements] if isinstance(statements, str) else statements:
        schema_editor.execute(statement, params=None)  # no placeholders: "%" in RAISE is literal


def forward(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD})


def backward(apps, schema_editor) -> None:
    _run(schema_editor, {"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD})


class Migration(migrations.Migration):
    dependencies = [("audit_app", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
