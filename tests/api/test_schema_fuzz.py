"""Schemathesis over the OpenAPI schema: generated requests to every operation, against a live server
with the Cloud API emulator behind it, never get a 5xx and never a response that breaks the schema.

Bounded in time: a handful of examples per operation (API_FUZZ_EXAMPLES to raise it locally).
"""

import os
from datetime import timedelta

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from agents_app.models import HttpTool, KnowledgeEntry
from channels_app.models import Channel, MessageTemplate
from outreach_app.models import Campaign, ScheduledMessage
from tests.factories import (
    AgentFactory,
    ChannelFactory,
    WorkspaceFactory,
    api_key_for,
    conversation_with,
    outbound_message,
)

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "8"))


@pytest.fixture
def api_schema(db):
    from drf_spectacular.generators import SchemaGenerator

    generated = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(generated)


@pytest.fixture
def workspace_with_data(emulator, settings):
    """A workspace with a channel on the emulator, an agent with knowledge, a conversation and messages."""
    settings.API_RATE_LIMIT_PER_SECOND = 10_000  # the fuzzer is one key firing fast
    settings.API_RATE_LIMIT_BURST = 10_000
    workspace = WorkspaceFactory(name="Lucky Shrub", slug="lucky-shrub")
    agent = AgentFactory(workspace=workspace, name="Shrubby")
    KnowledgeEntry.objects.create(agent=agent, title="Opening hours", body="9 to 5, Monday to Friday.")
    channel = ChannelFactory(workspace=workspace, provider=Channel.Provider.SANDBOX, agent=agent)
    conversation = conversation_with(channel, agent=agent)
    outbound_message(conversation, wamid="wamid.fuzz-1")
    entry = agent.knowledge.first()
    tool = HttpTool.objects.create(
        agent=agent,
        name="order_status",
        description="Looks up an order.",
        url_template="https://shop.example/api/orders/{order_id}",
        parameters={"type": "object", "properties": {"order_id": {"type": "string"}}},
    )
    template = MessageTemplate.objects.create(
        workspace=workspace,
        waba_id=channel.waba_id,
        name="order_update",
        language="en_US",
        category="UTILITY",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Your order {{1}} has shipped.", "example": {"body_text": [["#1042"]]}}],
    )
    campaign = Campaign.objects.create(
        workspace=workspace,
        channel=channel,
        name="Spring sale",
        template=template,
        template_name=template.name,
        template_language=template.language,
        parameter_values={"1": "#1042"},
    )
    scheduled = ScheduledMessage.objects.create(
        workspace=workspace,
        channel=channel,
        contact=conversation.contact,
        message_type="text",
        content={"body": "Your appointment is tomorrow at 10:00."},
        send_at=timezone.now() + timedelta(days=1),
    )
    ids = {
        "tool_id": tool.pk,
        "template_id": str(template.public_id),
        "campaign_id": str(campaign.public_id),
        "scheduled_id": str(scheduled.public_id),
        "agent_id": str(agent.public_id),
        "channel_id": str(channel.public_id),
        "conversation_id": conversation.pk,
        "contact_id": conversation.contact_id,
        "entry_id": entry.pk,
    }
    return {"key": api_key_for(workspace), "url": emulator.url, "ids": ids}


def test_no_operation_answers_5xx_or_breaks_its_schema(api_schema, workspace_with_data):
    headers = {"Authorization": f"Bearer {workspace_with_data['key']}"}
    base_url = workspace_with_data["url"]
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Deletions last, so the objects the other operations work on still exist when they run.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    known = workspace_with_data["ids"]
    assert len(operations) >= 20  # the whole API, not an empty schema

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            # Real ids for the path, so the requests reach real objects rather than stopping at 404.
            for name in list(case.path_parameters or {}):
                if name in known:
                    case.path_parameters[name] = known[name]
            response = case.call_and_validate(
                base_url=base_url,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
                timeout=20,
            )
            statuses.setdefault(case.operation.label, set()).add(response.status_code)

        try:
            exercise()
        except Exception as failure:  # collect every operation's failure, not only the first
            failures.append(f"{operation.label}: {failure}"[:3000])
    assert not failures, "\n\n".join(failures)
    # The fuzzer reached real work, not only validation errors: most operations succeeded at least once.
    succeeded = [label for label, seen in statuses.items() if any(200 <= code < 300 for code in seen)]
    never = {label: seen for label, seen in statuses.items() if label not in succeeded}
    assert len(succeeded) >= len(operations) // 2, "\n".join(f"{k}: {v}" for k, v in never.items())
