"""The analytics page, its CSV downloads, and the Prometheus /metrics endpoint."""

import csv
import hmac
import io
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from analytics_app import presentation, selectors
from analytics_app.forms import AnalyticsFilterForm
from analytics_app.histogram import RESPONSE_BUCKETS_MS
from analytics_app.metrics import REGISTRY
from analytics_app.services.rollup import RECENT_DAYS, local_day_bounds, local_today, workspace_zone
from workspaces_app.decorators import workspace_member_required


def _filters(request) -> tuple[AnalyticsFilterForm, dict]:
    workspace = request.workspace
    form = AnalyticsFilterForm(request.GET or None, workspace=workspace, today=local_today(workspace))
    return form, form.filters()


def _report(request, filters: dict) -> selectors.AnalyticsReport:
    return selectors.analytics_report(
        workspace=request.workspace, start=filters["start"], end=filters["end"], channel=filters["channel"]
    )


def _query(filters: dict) -> str:
    params = {"start": filters["start"].isoformat(), "end": filters["end"].isoformat()}
    if filters["channel"] is not None:
        params["channel"] = str(filters["channel"].public_id)
    return urlencode(params)


@require_GET
@workspace_member_required("view")
def analytics_dashboard(request):
    form, filters = _filters(request)
    report = _report(request, filters)
    tz = workspace_zone(request.workspace)
    start_at, _ = local_day_bounds(filters["start"], tz)
    _, end_at = local_day_bounds(filters["end"], tz)
    today = local_today(request.workspace)
    presets = [
        (label, urlencode({"start": (today - timedelta(days=days - 1)).isoformat(), "end": today.isoformat()}))
        for label, days in (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90))
    ]
    return render(
        request,
        "analytics/dashboard.html",
        {
            "form": form,
            "filters": filters,
            "query": _query(filters),
            "presets": presets,
            "report": report,
            "summary": presentation.report_summary(report),
            "tables": presentation.report_tables(report),
            "charts": presentation.report_charts(report),
            "comments": selectors.rating_comments_recent(
                workspace=request.workspace, start_at=start_at, end_at=end_at, channel=filters["channel"]
            ),
            "timezone": tz.key,
            "bucket_bounds_s": [f"{bound / 1000:g}" for bound in RESPONSE_BUCKETS_MS],
            "recent_days": RECENT_DAYS,
        },
    )


def _csv_safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (an error title from Meta, say) is read as text."""
    return f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


@require_GET
@workspace_member_required("view")
def analytics_export(request, table: str):
    """One chart's table as CSV, for the same range and channel as the page."""
    if table not in presentation.TABLE_BUILDERS:
        raise Http404("No such table.")
    _, filters = _filters(request)
    built = presentation.TABLE_BUILDERS[table](_report(request, filters))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(built.headers)
    writer.writerows([_csv_safe(cell) for cell in row] for row in [*built.rows, *built.footer])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    scope = f"-{filters['channel'].public_id}" if filters["channel"] else ""
    filename = f"{request.workspace.slug}-{table}-{filters['start']}-{filters['end']}{scope}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def metrics(request):
    """Prometheus text exposition, for a scraper holding METRICS_TOKEN (`Authorization: Bearer <token>`).

    Without a configured token the endpoint does not exist (404): platform-wide figures are never public.
    """
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse(
            "Authorization: Bearer <METRICS_TOKEN> required.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("Wrong metrics token.\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
