"""An agent answers at most `max_concurrent_turns` conversations at once; the others wait, and are woken in order.

The same rules under real worker processes and a slow loopback model are in tests/pipeline/.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents_app.turns import TurnClaim, turn_claim, turn_release
from messaging_app.models import Conversation
from tests.factories import AgentFactory, ChannelFactory, conversation_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent():
    return AgentFactory(max_concurrent_turns=1)


def _conversations(agent, count: int) -> list[Conversation]:
    channel = ChannelFactory(workspace=agent.workspace, agent=agent)
    conversations = [conversation_with(channel, wa_id=f"1650555{i:04d}", agent=agent) for i in range(count)]
    Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(state=Conversation.State.AGENT)
    return conversations


def test_a_conversation_beyond_the_agents_cap_waits_and_one_with_a_turn_running_is_busy(agent):
    first, second = _conversations(agent, 2)

    assert turn_claim(conversation_id=first.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns) == TurnClaim.CLAIMED
    assert turn_claim(conversation_id=first.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns) == TurnClaim.BUSY
    assert (
        turn_claim(conversation_id=second.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)
        == TurnClaim.AT_CAPACITY
    )

    second.refresh_from_db()
    assert second.turn_waiting_since is not None and second.agent_turn_until is None


def test_another_agents_running_turns_do_not_count_against_the_cap(agent):
    (busy,) = _conversations(agent, 1)
    other_agent = AgentFactory(workspace=agent.workspace, max_concurrent_turns=1)
    (other,) = _conversations(other_agent, 1)

    assert turn_claim(conversation_id=busy.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns) == TurnClaim.CLAIMED
    assert turn_claim(conversation_id=other.pk, agent_id=other_agent.pk, cap=1) == TurnClaim.CLAIMED


def test_a_lapsed_turn_of_a_dead_worker_no_longer_holds_a_place(agent):
    dead, waiting = _conversations(agent, 2)
    Conversation.objects.filter(pk=dead.pk).update(agent_turn_until=timezone.now() - timedelta(seconds=1))

    assert (
        turn_claim(conversation_id=waiting.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns) == TurnClaim.CLAIMED
    )


def test_ending_a_turn_hands_the_place_to_the_longest_waiting_conversation(
    agent, django_capture_on_commit_callbacks, monkeypatch
):
    running, first_waiting, second_waiting = _conversations(agent, 3)
    woken: list[tuple] = []
    monkeypatch.setattr("agents_app.turns.task_enqueue", lambda name, *args, **kw: woken.append((name, *args)))
    turn_claim(conversation_id=running.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)
    turn_claim(conversation_id=first_waiting.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)
    turn_claim(conversation_id=second_waiting.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)

    with django_capture_on_commit_callbacks(execute=True):
        turn_release(conversation_id=running.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)

    assert woken == [("messaging.conversation_inbound_handle", first_waiting.pk)]  # one place freed: one woken
    assert (
        turn_claim(conversation_id=first_waiting.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns, waiting=True)
        == TurnClaim.CLAIMED
    )
    first_waiting.refresh_from_db()
    assert first_waiting.turn_waiting_since is None


def test_a_waiting_conversation_a_teammate_took_over_is_not_woken_for_the_agent(
    agent, django_capture_on_commit_callbacks, monkeypatch
):
    running, taken_over, waiting = _conversations(agent, 3)
    woken: list[tuple] = []
    monkeypatch.setattr("agents_app.turns.task_enqueue", lambda name, *args, **kw: woken.append((name, *args)))
    for conversation in (running, taken_over, waiting):
        turn_claim(conversation_id=conversation.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)
    Conversation.objects.filter(pk=taken_over.pk).update(state=Conversation.State.HUMAN)

    with django_capture_on_commit_callbacks(execute=True):
        turn_release(conversation_id=running.pk, agent_id=agent.pk, cap=agent.max_concurrent_turns)

    assert woken == [("messaging.conversation_inbound_handle", waiting.pk)]
