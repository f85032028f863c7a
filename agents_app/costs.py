"""What agents' model turns cost: a turn priced from the price table, and a month's tokens and cost (reads only).

Prices are per million tokens (`ModelPrice`, kept by admins). A turn is priced when it finishes, from the
longest model-name prefix the table has for its provider; with no matching price its cost stays None and
pages say "no price set" rather than showing a made-up figure. Input read from the prompt cache and input
written to it have their own prices when the table gives them, else the input price.

Months are calendar months in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from agents_app.models import AgentRun, ModelPrice

MILLION = Decimal(1_000_000)
COST_PLACES = Decimal("0.000001")


def model_price_for(*, provider: str, model: str) -> ModelPrice | None:
    """The table's price for a provider's model: the longest prefix of the model's name that has one."""
    if not model:
        return None
    prices = [price for price in ModelPrice.objects.filter(provider=provider) if model.startswith(price.model_prefix)]
    return max(prices, key=lambda price: len(price.model_prefix), default=None)


def run_cost(
    *, price: ModelPrice, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0
) -> Decimal:
    """What these tokens cost at `price`, in its currency, to the millionth."""
    cached = price.input_per_million if price.cached_input_per_million is None else price.cached_input_per_million
    written = price.input_per_million if price.cache_write_per_million is None else price.cache_write_per_million
    total = (
        input_tokens * price.input_per_million
        + output_tokens * price.output_per_million
        + cache_read_tokens * cached
        + cache_write_tokens * written
    ) / MILLION
    return total.quantize(COST_PLACES)


def run_price(run: AgentRun) -> None:
    """Set `run.cost` and `run.cost_currency` from the price table (cost None when no price is set).

    A turn that made no model call (offline agent, handoff, held back) costs nothing and needs no price.
    """
    tokens = run.input_tokens + run.output_tokens + run.cache_read_tokens + run.cache_write_tokens
    if not tokens:
        run.cost, run.cost_currency = (Decimal(0), "") if run.model_calls == 0 else (None, "")
        return
    price = model_price_for(provider=run.provider, model=run.model)
    if price is None:
        run.cost, run.cost_currency = None, ""
        return
    run.cost = run_cost(
        price=price,
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        cache_read_tokens=run.cache_read_tokens,
        cache_write_tokens=run.cache_write_tokens,
    )
    run.cost_currency = price.currency


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.now() if now is None else now
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_cost(*, currency: str, workspace_id: int | None = None, agent_id: int | None = None) -> Decimal:
    """The month's cost so far in `currency`, for a workspace's agents or one agent."""
    runs = AgentRun.objects.filter(started_at__gte=month_start(), cost_currency=currency)
    if workspace_id is not None:
        runs = runs.filter(workspace_id=workspace_id)
    if agent_id is not None:
        runs = runs.filter(agent_id=agent_id)
    return runs.aggregate(total=Sum("cost"))["total"] or Decimal(0)


@dataclass(frozen=True)
class Usage:
    """A month's model usage of one agent (or of the whole workspace: `agent` None), per currency."""

    label: str
    runs: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    costs: dict[str, Decimal]  # currency → total
    unpriced_runs: int  # turns with tokens but no price in the table


def _usage(runs: QuerySet[AgentRun], label: str) -> Usage:
    model_runs = runs.filter(model_calls__gt=0)
    totals = model_runs.aggregate(
        runs=Count("pk"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cache_read_tokens=Sum("cache_read_tokens"),
        cache_write_tokens=Sum("cache_write_tokens"),
        unpriced=Count("pk", filter=Q(cost__isnull=True)),
    )
    costs = {
        row["cost_currency"]: row["total"]
        for row in model_runs.exclude(cost_currency="").values("cost_currency").annotate(total=Sum("cost"))
    }
    return Usage(
        label=label,
        runs=totals["runs"] or 0,
        input_tokens=totals["input_tokens"] or 0,
        output_tokens=totals["output_tokens"] or 0,
        cache_read_tokens=totals["cache_read_tokens"] or 0,
        cache_write_tokens=totals["cache_write_tokens"] or 0,
        costs=costs,
        unpriced_runs=totals["unpriced"] or 0,
    )


def month_usage(*, workspace, agent=None) -> list[Usage]:
    """This month's tokens and cost: one row for the agent (when given) and one for the whole workspace."""
    runs = AgentRun.objects.filter(workspace=workspace, started_at__gte=month_start())
    rows = [_usage(runs.filter(agent=agent), agent.name)] if agent is not None else []
    return [*rows, _usage(runs, "All agents in this workspace")]
