"""Django's `flush`, able to empty the audit log too.

Emptying every table is a deliberate reset (a developer's database, the end of each transactional
test), not a change to the record, so the append-only guard is lifted for it. On PostgreSQL flush
uses TRUNCATE, which the row triggers never see; on SQLite it uses DELETE, which they refuse
outside `guard_lifted()` (see audit_app/guard.py).
"""

from django.core.management.commands.flush import Command as DjangoFlushCommand

from audit_app.guard import guard_lifted


class Command(DjangoFlushCommand):
    def handle(self, **options):
        with guard_lifted():
            return super().handle(**options)
