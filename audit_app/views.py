from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit_app.actions import action_label
from audit_app.forms import AuditFilterForm
from audit_app.selectors import audit_entries_list
from workspaces_app.decorators import workspace_member_required

PAGE_SIZE = 50


@require_GET
@workspace_member_required("configure")
def audit_log(request):
    """Settings → Audit log: who did what, when and from where, newest first. Owners and admins only."""
    form = AuditFilterForm(request.GET or None, workspace=request.workspace)
    entries = audit_entries_list(workspace=request.workspace, **form.filters())
    before = form.before_id()
    if before:
        entries = entries.filter(id__lt=before)
    page = list(entries[: PAGE_SIZE + 1])
    next_before = page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None
    rows = [
        {"entry": entry, "label": action_label(entry.action), "changes": _changes_rows(entry.changes)}
        for entry in page[:PAGE_SIZE]
    ]
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "audit/audit_log.html",
        {"form": form, "rows": rows, "next_before": next_before, "paged": bool(before), "query": query.urlencode()},
    )


def _changes_rows(changes: dict) -> list[tuple[str, object, object]]:
    rows = []
    for field, value in (changes or {}).items():
        old, new = value if isinstance(value, list) and len(value) == 2 else (None, value)
        rows.append((field.replace("_", " "), "—" if old in (None, "") else old, "—" if new in (None, "") else new))
    return rows
