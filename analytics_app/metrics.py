"""What /metrics tells Prometheus, read from the database on each scrape.

Every read is cheap at any table size: an index range (outbox status, pending webhook events,
the last few minutes of webhooks), or the daily rollup rows (a few per channel per day).
Totals over all time (messages, Graph errors, agent-turn latency) come from those rows, so
they move every 5 minutes, when the rollup runs. Test-console channels are left out.
"""

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Max, Min, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from analytics_app.counters import sends_paced_count
from analytics_app.histogram import BUCKET_COUNT, RESPONSE_BUCKETS_MS, buckets_add, buckets_empty
from analytics_app.models import DailyChannelStats
from channels_app.models import Channel, WebhookEvent
from messaging_app.models import Message
from whatsapp_platform.heartbeats import heartbeats_by_role

# Webhooks are counted over a recent window: the ledger is never pruned, and counting it whole
# on every scrape would grow with it. The window is read by the received_at index.
WEBHOOK_WINDOW_SECONDS = 300
# Inbound media still downloading; older rows were given up on by the media sweeper long ago.
MEDIA_PENDING_WINDOW = timedelta(days=1)
_QUEUE_STATES = (Message.Status.QUEUED, Message.Status.SENDING, Message.Status.UNKNOWN)
_STAGES = ("sent", "delivered", "read", "failed")


def _webhooks(now) -> Iterator[Metric]:
    recent = GaugeMetricFamily(
        "wap_webhook_events_recent",
        f"Webhook POSTs stored in the last {WEBHOOK_WINDOW_SECONDS} s, by state (rejected: bad signature).",
        labels=["state"],
    )
    since = now - timedelta(seconds=WEBHOOK_WINDOW_SECONDS)
    counts = dict(
        WebhookEvent.objects.filter(received_at__gte=since).values_list("state").annotate(n=Count("pk")).order_by()
    )
    for state in WebhookEvent.State.values:
        recent.add_metric([state], counts.get(state, 0))
    yield recent
    yield GaugeMetricFamily(
        "wap_webhook_events_recent_window_seconds",
        "Length of the window wap_webhook_events_recent counts over.",
        value=WEBHOOK_WINDOW_SECONDS,
    )
    pending = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING).aggregate(
        n=Count("pk"), oldest=Min("received_at")
    )
    yield GaugeMetricFamily(
        "wap_webhook_events_pending", "Webhook events stored and not processed yet.", value=pending["n"] or 0
    )
    lag = (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
    yield GaugeMetricFamily(
        "wap_webhook_processing_lag_seconds",
        "Age of the oldest webhook event still waiting to be processed.",
        value=lag,
    )


def _queues(now) -> Iterator[Metric]:
    outbox = GaugeMetricFamily(
        "wap_outbound_queue_messages",
        "Outbound messages not settled yet: queued, being sent, or waiting for the outcome of a lost answer.",
        labels=["status"],
    )
    counts = dict(
        Message.objects.filter(status__in=_QUEUE_STATES)
        .exclude(channel__provider=Channel.Provider.TEST_CONSOLE)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for status in _QUEUE_STATES:
        outbox.add_metric([status], counts.get(status, 0))
    yield outbox
    media = (
        Message.objects.filter(
            timestamp__gte=now - MEDIA_PENDING_WINDOW,
            direction=Message.Direction.INBOUND,
            media_state=Message.MediaState.PENDING,
        )
        .exclude(channel__provider=Channel.Provider.TEST_CONSOLE)
        .count()
    )
    yield GaugeMetricFamily(
        "wap_inbound_media_pending", "Customer media of the last 24 hours still being downloaded.", value=media
    )
    yield CounterMetricFamily(
        "wap_sends_paced",
        "Outbound sends put back in the queue to respect the pair rate or the number's throughput.",
        value=sends_paced_count(),
    )


def _rollup_totals(now) -> Iterator[Metric]:
    rows = DailyChannelStats.objects.exclude(channel__provider=Channel.Provider.TEST_CONSOLE)
    sums = rows.aggregate(
        inbound=Sum("inbound"),
        outbound=Sum("outbound"),
        **{stage: Sum(stage) for stage in _STAGES},
        turns_answered=Sum("turns_answered"),
        turns_handed_off=Sum("turns_handed_off"),
        turns_failed=Sum("turns_failed"),
        slow_turns=Sum("slow_turns"),
        response_ms_sum=Sum("response_ms_sum"),
    )
    messages = CounterMetricFamily(
        "wap_messages", "Messages stored, by direction (rolled up every 5 minutes).", labels=["direction"]
    )
    messages.add_metric(["inbound"], sums["inbound"] or 0)
    messages.add_metric(["outbound"], sums["outbound"] or 0)
    yield messages
    stages = CounterMetricFamily(
        "wap_outbound_messages_by_status",
        "Outbound messages that reached each delivery status; a later status implies the earlier ones "
        "(rolled up every 5 minutes).",
        labels=["status"],
    )
    for stage in _STAGES:
        stages.add_metric([stage], sums[stage] or 0)
    yield stages

    errors = CounterMetricFamily(
        "wap_graph_errors",
        'Failed outbound messages by Graph error code ("none": failed before WhatsApp answered).',
        labels=["code"],
    )
    by_code: dict[str, int] = {}
    for failed_by_code in rows.filter(failed__gt=0).values_list("failed_by_code", flat=True):
        for entry in failed_by_code.values():
            code = "none" if entry.get("code") is None else str(entry["code"])
            by_code[code] = by_code.get(code, 0) + entry.get("count", 0)
    for code, count in sorted(by_code.items()):
        errors.add_metric([code], count)
    yield errors

    turns = CounterMetricFamily("wap_agent_turns", "Agent turns by how they ended.", labels=["outcome"])
    for outcome in ("answered", "handed_off", "failed"):
        turns.add_metric([outcome], sums[f"turns_{outcome}"] or 0)
    yield turns
    yield CounterMetricFamily(
        "wap_agent_turns_slow", "Agent turns whose first reply took over 30 s.", value=sums["slow_turns"] or 0
    )
    buckets = buckets_empty()
    for row_buckets in rows.filter(agent_turns__gt=0).values_list("response_buckets", flat=True):
        buckets_add(buckets, row_buckets)
    cumulative, running = [], 0
    for index in range(BUCKET_COUNT):
        running += buckets[index]
        bound = str(RESPONSE_BUCKETS_MS[index] / 1000) if index < len(RESPONSE_BUCKETS_MS) else "+Inf"
        cumulative.append((bound, running))
    yield HistogramMetricFamily(
        "wap_agent_turn_response_seconds",
        "Customer's message to the agent's first reply, per turn (AgentRun.response_ms; rolled up every 5 minutes).",
        buckets=cumulative,
        sum_value=(sums["response_ms_sum"] or 0) / 1000,
    )
    latest = rows.aggregate(at=Max("computed_at"))["at"]
    yield GaugeMetricFamily(
        "wap_analytics_rollup_age_seconds",
        "Seconds since the daily figures were last recomputed (the totals above are this old).",
        value=(now - latest).total_seconds() if latest else float("nan"),
    )


def _processes() -> Iterator[Metric]:
    alive = GaugeMetricFamily(
        "wap_processes_alive",
        "Background processes (Celery workers, the scheduler) whose heartbeat is recent, by role.",
        labels=["role"],
    )
    age = GaugeMetricFamily(
        "wap_process_heartbeat_age_seconds",
        "Seconds since the newest heartbeat of a role (NaN: never seen).",
        labels=["role"],
    )
    for role, state in heartbeats_by_role().items():
        alive.add_metric([role], state["alive"])
        seconds = state["last_beat_seconds"]
        age.add_metric([role], float("nan") if seconds is None else seconds)
    yield alive
    yield age


class PlatformCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from _webhooks(now)
        yield from _queues(now)
        yield from _rollup_totals(now)
        yield from _processes()


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(PlatformCollector())
