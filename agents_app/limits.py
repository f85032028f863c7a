"""What one customer may cost: limits on an agent's model calls per conversation and per customer.

Every request to the model (each tool round and each retry) counts, as `AgentRun.model_calls`. Before a
turn calls the model, the calls already made in this conversation over the last hour, and for this
customer (the contact, whatever conversation the calls were made in) over the last day, are added up; at
the agent's limit the turn does not reach the model. The customer gets the agent's fallback message once
and the conversation goes to a teammate, so a customer who keeps writing gets neither silence nor a
notice per message: a handed-off conversation has no agent turns until a teammate hands it back. The
run records which limit held it back.

Monthly budgets hold turns back the same way: once this calendar month's priced cost (agents_app/costs.py)
reaches the workspace's budget (`WorkspaceModelBudget`) or the agent's own (`Agent.monthly_budget`), in the
workspace budget's currency (USD when it has none). A budget of 0 or none means no cap. Turns without a price
count as nothing, so an empty price table never holds anything back.

A turn checks before it starts and then runs to its end (at most MAX_TOOL_ROUNDS calls and their retries),
so a limit can be passed by the calls of the turn that reached it, never by a further turn.
"""

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from agents_app.costs import month_cost
from agents_app.knowledge_agent import Reply
from agents_app.models import Agent, AgentRun, WorkspaceModelBudget
from channels_app.whatsapp.payloads import text_content

CONVERSATION_WINDOW = timedelta(hours=1)
CONTACT_WINDOW = timedelta(days=1)


def model_calls_made(*, since, conversation_id: int | None = None, contact_id: int | None = None) -> int:
    """Model calls made since `since` in one conversation, or for one customer across their conversations."""
    runs = AgentRun.objects.filter(started_at__gte=since)
    if conversation_id is not None:
        runs = runs.filter(conversation_id=conversation_id)
    if contact_id is not None:
        runs = runs.filter(conversation__contact_id=contact_id)
    return runs.aggregate(calls=Sum("model_calls"))["calls"] or 0


def model_call_limit_reached(*, agent: Agent, conversation) -> str:
    """Which of the agent's limits this turn would pass, as a sentence for the agent's log; "" if none."""
    now = timezone.now()
    in_conversation = model_calls_made(since=now - CONVERSATION_WINDOW, conversation_id=conversation.pk)
    if in_conversation >= agent.model_calls_per_conversation_hour:
        return (
            f"Held back by the model-call limit: {in_conversation} calls in this conversation in the last hour "
            f"(the agent allows {agent.model_calls_per_conversation_hour} per conversation per hour)."
        )
    for_contact = model_calls_made(since=now - CONTACT_WINDOW, contact_id=conversation.contact_id)
    if for_contact >= agent.model_calls_per_contact_day:
        return (
            f"Held back by the model-call limit: {for_contact} calls for this customer in the last 24 hours "
            f"(the agent allows {agent.model_calls_per_contact_day} per customer per day)."
        )
    return monthly_budget_reached(agent=agent)


def monthly_budget_reached(*, agent: Agent) -> str:
    """Which monthly budget (workspace's, then agent's) this month's model cost has reached; "" if none."""
    budget = WorkspaceModelBudget.objects.filter(workspace_id=agent.workspace_id).first()
    currency = budget.currency if budget is not None else "USD"
    if budget is not None and budget.monthly_budget:
        spent = month_cost(currency=currency, workspace_id=agent.workspace_id)
        if spent >= budget.monthly_budget:
            return (
                f"Held back by the workspace's monthly budget: its agents' model turns have cost {spent:.2f} "
                f"{currency} this month (the budget is {budget.monthly_budget:.2f} {currency})."
            )
    if agent.monthly_budget:
        spent = month_cost(currency=currency, agent_id=agent.pk)
        if spent >= agent.monthly_budget:
            return (
                f"Held back by the agent's monthly budget: its model turns have cost {spent:.2f} {currency} "
                f"this month (the budget is {agent.monthly_budget:.2f} {currency})."
            )
    return ""


def model_calls_held_back(*, agent: Agent, conversation) -> Reply | None:
    """The turn's answer when a limit holds (the fallback message and a handoff), or None to go on."""
    reason = model_call_limit_reached(agent=agent, conversation=conversation)
    if not reason:
        return None
    return Reply(
        [("text", text_content(agent.fallback_message))],
        handoff=True,
        handoff_reason=f"{reason} A teammate takes over; hand the conversation back to the agent to resume.",
    )
