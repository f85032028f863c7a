"""The database side of "append-only": what the triggers of migration 0002 ask the connection.

PostgreSQL's trigger refuses every DELETE and every UPDATE but the SET NULL of a deleted
reference. `manage.py flush` (and so every transactional test) empties tables with TRUNCATE
there, which row triggers do not see.

SQLite flushes with DELETE, so its triggers consult `audit_guard_lifted()`, a function this
module registers on each Django connection: it answers 1 only inside `guard_lifted()`, which
only the `flush` command enters (audit_app/management/commands/flush.py). A client that is not
Django (the sqlite3 shell) has no such function, so its UPDATE or DELETE fails as well.
"""

import contextlib
import contextvars

from django.db.backends.signals import connection_created

_lifted: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_guard_lifted", default=False)

SQLITE_FUNCTION = "audit_guard_lifted"


def _guard_lifted_sql() -> int:
    return 1 if _lifted.get() else 0


def _register(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 0, _guard_lifted_sql)


def connect() -> None:
    connection_created.connect(_register, dispatch_uid="audit_app.guard")


@contextlib.contextmanager
def guard_lifted():
    """Let this thread delete audit entries on SQLite. Only for emptying the whole database (flush)."""
    token = _lifted.set(True)
    try:
        yield
    finally:
        _lifted.reset(token)
