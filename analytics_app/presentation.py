"""The report as people read it: one table per chart (the same cells on the page and in its CSV), and chart data.

Numbers are formatted once here, so the table under a chart and its CSV download never disagree.
An empty cell means "no data" (a rate over zero conversations, a percentile of no replies).
"""

from dataclasses import dataclass

from analytics_app.histogram import RESPONSE_BUCKETS_MS
from analytics_app.selectors import SCORE_LABELS, AnalyticsReport, Figures


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    footer: list[list[str]]


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


def _seconds(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms >= RESPONSE_BUCKETS_MS[-1]:
        return f"≥{RESPONSE_BUCKETS_MS[-1] / 1000:.0f}"  # the open-ended bucket: slower than we measure
    return f"{ms / 1000:.1f}"


def _seconds_value(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)


def _volume(report: AnalyticsReport) -> Table:
    rows = [[day.isoformat(), str(f.inbound), str(f.outbound)] for day, f in report.days]
    t = report.totals
    return Table(
        "volume", "Messages per day", ["Day", "Inbound", "Outbound"], rows, [["Total", str(t.inbound), str(t.outbound)]]
    )


def _funnel(report: AnalyticsReport) -> Table:
    t = report.totals
    stages = [("Outbound", t.outbound), ("Sent", t.sent), ("Delivered", t.delivered), ("Read", t.read)]
    rows = [[stage, str(count), _percent(count, t.outbound)] for stage, count in stages]
    rows.append(["Failed", str(t.failed), _percent(t.failed, t.outbound)])
    return Table("funnel", "Delivery funnel", ["Stage", "Messages", "Share of outbound (%)"], rows, [])


def _failure_label(entry: dict) -> tuple[str, str]:
    code = entry.get("code")
    return ("" if code is None else str(code)), (entry.get("title") or "Unknown")


def _failures(report: AnalyticsReport) -> Table:
    t = report.totals
    rows = [[*_failure_label(e), str(e["count"]), _percent(e["count"], t.failed)] for e in t.failures]
    footer = [["Total", "", str(t.failed), _percent(t.failed, t.failed)]] if rows else []
    return Table(
        "failures",
        "Failed messages by reason",
        ["Error code", "Reason", "Messages", "Share of failed (%)"],
        rows,
        footer,
    )


def _response_row(label: str, f: Figures) -> list[str]:
    return [
        label,
        str(f.agent_turns),
        str(f.replies_timed),
        _seconds(f.response_percentile_ms(0.5)),
        _seconds(f.response_percentile_ms(0.9)),
        _seconds(f.first_response_percentile_ms(0.5)),
        _seconds(f.first_response_percentile_ms(0.9)),
        str(f.slow_turns),
    ]


def _response(report: AnalyticsReport) -> Table:
    headers = [
        "Day",
        "Agent turns",
        "Replies timed",
        "Per reply p50 (s)",
        "Per reply p90 (s)",
        "First response p50 (s)",
        "First response p90 (s)",
        "Slow turns (over 30 s)",
    ]
    rows = [_response_row(day.isoformat(), f) for day, f in report.days]
    return Table("response", "Agent response time", headers, rows, [_response_row("All days", report.totals)])


def _conversation_row(label: str, f: Figures) -> list[str]:
    return [
        label,
        str(f.conversations),
        str(f.agent_handled),
        str(f.handed_off),
        _percent(f.handed_off, f.conversations),
        str(f.resolved_by_agent),
        _percent(f.resolved_by_agent, f.conversations),
    ]


def _conversations(report: AnalyticsReport) -> Table:
    headers = [
        "Day",
        "Conversations",
        "Answered by the agent",
        "Handed to a human",
        "Handoff rate (%)",
        "Resolved by the agent alone",
        "Resolved by the agent alone (%)",
    ]
    rows = [_conversation_row(day.isoformat(), f) for day, f in report.days]
    return Table(
        "conversations", "Handoffs and resolution", headers, rows, [_conversation_row("All days", report.totals)]
    )


def _satisfaction(report: AnalyticsReport) -> Table:
    t = report.totals
    scores = sorted(set(SCORE_LABELS) | set(t.ratings_by_score), reverse=True)
    rows = [
        [
            f"{score} · {SCORE_LABELS.get(score, 'Other')}",
            str(t.ratings_by_score.get(score, 0)),
            _percent(t.ratings_by_score.get(score, 0), t.ratings),
        ]
        for score in scores
    ]
    average = t.rating_average
    footer = [
        ["All ratings", str(t.ratings), _percent(t.ratings, t.ratings)],
        ["Average score (1–5)", "" if average is None else f"{average:.2f}", ""],
    ]
    return Table("satisfaction", "Customer satisfaction", ["Score", "Ratings", "Share (%)"], rows, footer)


TABLE_BUILDERS = {
    "volume": _volume,
    "funnel": _funnel,
    "failures": _failures,
    "response": _response,
    "conversations": _conversations,
    "satisfaction": _satisfaction,
}


def report_tables(report: AnalyticsReport) -> dict[str, Table]:
    return {name: build(report) for name, build in TABLE_BUILDERS.items()}


def report_charts(report: AnalyticsReport) -> dict:
    """What static/js/analytics.js draws: plain numbers and labels, embedded as a JSON data block."""
    labels = [day.isoformat() for day, _ in report.days]
    t = report.totals
    failures = t.failures
    scores = sorted(set(SCORE_LABELS) | set(t.ratings_by_score))
    return {
        "volume": {
            "labels": labels,
            "inbound": [f.inbound for _, f in report.days],
            "outbound": [f.outbound for _, f in report.days],
        },
        "funnel": {
            "labels": ["Outbound", "Sent", "Delivered", "Read", "Failed"],
            "values": [t.outbound, t.sent, t.delivered, t.read, t.failed],
        },
        "failures": {
            "labels": [" ".join(part for part in _failure_label(e) if part) for e in failures],
            "values": [e["count"] for e in failures],
        },
        "response": {
            "labels": labels,
            "p50": [_seconds_value(f.response_percentile_ms(0.5)) for _, f in report.days],
            "p90": [_seconds_value(f.response_percentile_ms(0.9)) for _, f in report.days],
            "first_p50": [_seconds_value(f.first_response_percentile_ms(0.5)) for _, f in report.days],
            "first_p90": [_seconds_value(f.first_response_percentile_ms(0.9)) for _, f in report.days],
            "slow": [f.slow_turns for _, f in report.days],
            "slow_seconds": 30,
        },
        "conversations": {
            "labels": labels,
            "resolved": [f.resolved_by_agent for _, f in report.days],
            "handed_off": [f.handed_off for _, f in report.days],
            "other": [f.conversations - f.resolved_by_agent - f.handed_off for _, f in report.days],
        },
        "satisfaction": {
            "labels": [f"{score} · {SCORE_LABELS.get(score, 'Other')}" for score in scores],
            "values": [t.ratings_by_score.get(score, 0) for score in scores],
        },
    }


def report_summary(report: AnalyticsReport) -> list[tuple[str, str, str]]:
    """The headline figures: (label, value, detail)."""
    t = report.totals
    average = t.rating_average

    def with_unit(value: str, unit: str) -> str:
        return f"{value} {unit}" if value else "—"

    return [
        ("Messages in", f"{t.inbound:,}", f"{t.outbound:,} out"),
        (
            "Delivered",
            with_unit(_percent(t.delivered, t.outbound), "%"),
            f"read {with_unit(_percent(t.read, t.outbound), '%')}",
        ),
        ("Failed", f"{t.failed:,}", f"{with_unit(_percent(t.failed, t.outbound), '%')} of outbound"),
        (
            "Agent reply time",
            with_unit(_seconds(t.response_percentile_ms(0.5)), "s"),
            f"p90 {with_unit(_seconds(t.response_percentile_ms(0.9)), 's')} · {t.slow_turns:,} slow",
        ),
        (
            "Handoff rate",
            with_unit(_percent(t.handed_off, t.conversations), "%"),
            f"{t.handed_off:,} of {t.conversations:,} conversations",
        ),
        (
            "Resolved by the agent alone",
            with_unit(_percent(t.resolved_by_agent, t.conversations), "%"),
            f"{t.resolved_by_agent:,} conversations",
        ),
        ("Satisfaction", "—" if average is None else f"{average:.2f} / 5", f"{t.ratings:,} ratings"),
    ]
