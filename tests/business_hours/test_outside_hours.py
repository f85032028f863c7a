"""Customers writing outside business hours, end to end: emulator customer → signed webhook → inbound
pipeline → away message / agent / the team, with the whole process's clock frozen (ticking) in London.

Monday 9:00–17:00 to Friday; 4 January 2030 is a Friday.
"""

from channels_app.models import MessageTemplate
from messaging_app.models import Conversation, Message
from messaging_app.selectors import conversations_queued_for_opening
from messaging_app.services.business_hours import business_hours_openings_run
from messaging_app.tasks import business_hours_openings
from tests.agents.llm_servers import openai_server  # noqa: F401
from tests.conftest import wait_until

from .conftest import SHIPPING


def customer_says(sandbox, body: str, customer=None) -> None:
    sandbox.emulator.customer_says(sandbox.number, customer or sandbox.customer, "text", {"body": body})
    sandbox.emulator.drain()


def handled(sandbox) -> bool:
    inbound = Message.objects.filter(channel=sandbox.channel, direction="in")
    return inbound.exists() and not inbound.filter(handled_at__isnull=True).exists()


def sent_texts(sandbox, since: int = 0) -> list[str]:
    """Free-form texts the business sent, as the emulator (Graph) received them, in order."""
    bodies = sandbox.emulator.requests_received(sandbox.number.phone_number_id)[since:]
    return [b["text"]["body"] for b in bodies if b.get("type") == "text"]


def requests_so_far(sandbox) -> int:
    return len(sandbox.emulator.requests_received(sandbox.number.phone_number_id))


def away_messages(sandbox) -> list[Message]:
    return list(Message.objects.filter(conversation=sandbox.conversation, sender="system").order_by("pk"))


def conversation(sandbox) -> Conversation:
    return Conversation.objects.get(pk=sandbox.conversation.pk)


# --- the three modes ----------------------------------------------------------------------------


def test_mode_a_the_agent_answers_at_night_and_no_away_message_is_sent(sandbox, shop_agent, hours, clock):
    hours("agent")
    clock(2030, 1, 4, 21, 30)
    before = requests_so_far(sandbox)
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: SHIPPING in sent_texts(sandbox, before))
    assert away_messages(sandbox) == []
    assert conversation(sandbox).state == "agent"
    assert conversation(sandbox).closed_arrival_at is not None  # noted all the same, in case it is handed over


def test_mode_b_sends_the_away_message_and_the_conversation_waits_for_the_team(sandbox, shop_agent, hours, clock):
    hours("away_wait")
    clock(2030, 1, 4, 18, 0)
    before = requests_so_far(sandbox)
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: sent_texts(sandbox, before))
    wait_until(lambda: handled(sandbox))
    assert sent_texts(sandbox, before) == [
        "Thanks for writing! We're closed now and back Monday 9:00. Urgent? Email help@luckyshrub.test."
    ]
    assert not Message.objects.filter(conversation=sandbox.conversation, sender="agent").exists()
    waiting = conversation(sandbox)
    assert waiting.state == "waiting_human" and waiting.closed_arrival_at is not None


def test_mode_c_sends_the_away_message_first_and_the_agent_still_answers(sandbox, shop_agent, hours, clock):
    hours("away_and_agent")
    clock(2030, 1, 5, 11, 0)  # Saturday
    before = requests_so_far(sandbox)
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: len(sent_texts(sandbox, before)) >= 2)
    away, answer = sent_texts(sandbox, before)[:2]
    assert away.startswith("Thanks for writing! We're closed now and back Monday 9:00.")
    assert answer == SHIPPING
    assert conversation(sandbox).state == "agent"


def test_mode_c_sends_no_away_message_when_the_agent_already_answered_in_this_closed_period(
    sandbox, shop_agent, hours, clock
):
    clock(2030, 1, 4, 18, 0)
    customer_says(sandbox, "Do you ship to Canada?")  # no business hours yet: the agent answers
    wait_until(lambda: Message.objects.filter(conversation=sandbox.conversation, sender="agent").exists())
    hours("away_and_agent")  # switched on later the same evening
    clock(2030, 1, 4, 19, 0)
    before = requests_so_far(sandbox)
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: SHIPPING in sent_texts(sandbox, before))
    wait_until(lambda: handled(sandbox))
    assert away_messages(sandbox) == []


def test_during_opening_hours_the_agent_answers_as_usual(sandbox, shop_agent, hours, clock):
    hours("away_wait")
    clock(2030, 1, 7, 10, 0)  # Monday
    before = requests_so_far(sandbox)
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: SHIPPING in sent_texts(sandbox, before))
    assert away_messages(sandbox) == []
    assert conversation(sandbox).closed_arrival_at is None


def test_on_a_closed_date_the_away_message_names_the_next_open_day(sandbox, shop_agent, hours, clock):
    hours("away_wait", closed_dates=[{"date": "2030-01-07", "label": "Stocktaking"}])
    clock(2030, 1, 7, 11, 0)  # Monday, but closed
    before = requests_so_far(sandbox)
    customer_says(sandbox, "Hello?")
    wait_until(lambda: sent_texts(sandbox, before))
    assert "back Tuesday 9:00" in sent_texts(sandbox, before)[0]


# --- once per closed period -----------------------------------------------------------------------


def test_two_messages_in_one_closed_period_get_one_away_message_and_the_next_period_another(
    sandbox, shop_agent, hours, clock
):
    hours("away_wait")
    clock(2030, 1, 4, 18, 0)  # Friday evening
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: len(away_messages(sandbox)) == 1)
    clock(2030, 1, 5, 10, 0)  # Saturday morning: the same closed period
    customer_says(sandbox, "Hello? Anyone?")
    wait_until(lambda: handled(sandbox))
    assert len(away_messages(sandbox)) == 1

    clock(2030, 1, 7, 18, 30)  # Monday evening: a new closed period, nobody answered yet
    customer_says(sandbox, "Still waiting…")
    wait_until(lambda: len(away_messages(sandbox)) == 2)
    assert "back Tuesday 9:00" in away_messages(sandbox)[1].content["body"]


def test_a_teammate_answering_after_hours_gets_no_away_message_on_top(sandbox, hours, clock):
    from messaging_app.services.outbound import message_send

    hours("away_wait")
    clock(2030, 1, 7, 16, 50)  # Monday, open
    customer_says(sandbox, "Are you still there?")
    wait_until(lambda: handled(sandbox))
    clock(2030, 1, 7, 17, 5)  # closed, but a teammate stays on
    message_send(conversation=conversation(sandbox), message_type="text", content={"body": "Yes!"}, sender="teammate")
    clock(2030, 1, 7, 17, 6)
    customer_says(sandbox, "Great, one more question")
    wait_until(lambda: handled(sandbox))
    assert away_messages(sandbox) == []

    clock(2030, 1, 8, 17, 30)  # Tuesday's closed period: nobody has answered in it
    customer_says(sandbox, "Hello again")
    wait_until(lambda: len(away_messages(sandbox)) == 1)


# --- the opening ------------------------------------------------------------------------------------


def test_we_are_back_goes_out_once_at_opening(sandbox, shop_agent, hours, clock):
    hours("away_wait", back_message="Good morning {{customer_name}}! We're open and a teammate will reply shortly.")
    clock(2030, 1, 7, 7, 30)  # Monday before opening
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: len(away_messages(sandbox)) == 1)
    clock(2030, 1, 7, 8, 59)
    business_hours_openings.delay()
    assert len(away_messages(sandbox)) == 1  # not yet

    clock(2030, 1, 7, 9, 0, 30)
    before = requests_so_far(sandbox)
    business_hours_openings.delay()
    business_hours_openings.delay()
    wait_until(lambda: sent_texts(sandbox, before))
    assert sent_texts(sandbox, before) == ["Good morning Sheena Nelson! We're open and a teammate will reply shortly."]
    clock(2030, 1, 7, 10, 0)
    assert business_hours_openings_run()["back_sent"] == 0
    assert len(away_messages(sandbox)) == 2  # the away message and "we're back", nothing more


def test_we_are_back_is_a_template_when_the_24_hour_window_has_closed(sandbox, shop_agent, hours, clock):
    components = [
        {
            "type": "BODY",
            "text": "Hi {{1}}, we're open again. A teammate will answer your message here shortly.",
            "example": {"body_text": [["Sheena"]]},
        }
    ]
    sandbox.emulator.template(sandbox.number, "back_in_office", language="en_GB", components=components)
    MessageTemplate.objects.create(
        workspace=sandbox.channel.workspace,
        waba_id=sandbox.channel.waba_id,
        name="back_in_office",
        language="en_GB",
        category="UTILITY",
        status="APPROVED",
        components=components,
    )
    hours(
        "away_wait",
        back_message="We're open again!",
        back_template={"name": "back_in_office", "language": "en_GB", "values": {"1": "{{customer_name}}"}},
    )
    clock(2030, 1, 4, 18, 0)  # Friday evening; by Monday 9:00 the window closed long ago
    customer_says(sandbox, "Do you ship to Canada?")
    wait_until(lambda: len(away_messages(sandbox)) == 1)

    clock(2030, 1, 7, 9, 0, 30)
    before = requests_so_far(sandbox)
    assert business_hours_openings_run() == {"unqueued": 0, "back_sent": 1}
    sent = wait_until(lambda: sandbox.emulator.requests_received(sandbox.number.phone_number_id)[before:])
    assert sent[0]["type"] == "template"
    assert sent[0]["template"]["name"] == "back_in_office"
    assert sent[0]["template"]["language"] == {"code": "en_GB"}
    assert sent[0]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Sheena Nelson"}]}
    ]
    back = away_messages(sandbox)[-1]
    wait_until(
        lambda: Message.objects.filter(pk=back.pk, status__in=["accepted", "sent", "delivered", "read"]).exists()
    )
    assert business_hours_openings_run()["back_sent"] == 0


def test_conversations_that_arrived_while_closed_are_listed_first_until_served(sandbox, hours, clock):
    hours("away_wait")
    night_owl = sandbox.emulator.customer(sandbox.number, name="Night Owl", phone="447700900123")
    clock(2030, 1, 4, 23, 0)
    customer_says(sandbox, "I'll ask at night", customer=night_owl)
    wait_until(lambda: handled(sandbox))
    clock(2030, 1, 7, 10, 0)  # Monday, open: Sheena writes again
    customer_says(sandbox, "Morning!")
    wait_until(lambda: handled(sandbox))

    listed = list(conversations_queued_for_opening(workspace=sandbox.channel.workspace))
    assert [c.contact.profile_name for c in listed] == ["Night Owl", "Sheena Nelson"]
    assert [c.queued_for_opening for c in listed] == [True, False]

    # Served by a teammate: it leaves the queue at the next run of the opening job.
    Conversation.objects.filter(contact__profile_name="Night Owl").update(state="human")
    assert business_hours_openings_run()["unqueued"] == 1
    assert not any(c.queued_for_opening for c in conversations_queued_for_opening(workspace=sandbox.channel.workspace))


# --- what the agent is told -------------------------------------------------------------------------


def test_a_model_agent_is_told_whether_business_hours_are_open_and_when_they_next_open(
    sandbox,
    hours,
    clock,
    openai_server,  # noqa: F811
):
    from agents_app.models import AgentRun
    from tests.factories import AgentFactory

    agent = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Fern",
        provider="openai",
        model="test-model",
        api_key="sk-test",
        base_url=openai_server.base_url,
        debounce_seconds=0,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    hours("agent")
    clock(2030, 1, 5, 11, 0)  # Saturday
    openai_server.reply_text("We're closed today, but I can help!")
    customer_says(sandbox, "Are you open?")
    run = wait_until(lambda: AgentRun.objects.filter(status="answered").first())
    system = run.prompt[0]["content"]
    assert "Business hours (Europe/London): closed now; the team is back Monday 9:00." in system
    assert "Business hours" in openai_server.last.json["messages"][0]["content"]

    clock(2030, 1, 7, 10, 0)  # Monday, open
    openai_server.reply_text("Yes, we're open!")
    customer_says(sandbox, "And now?")
    wait_until(lambda: AgentRun.objects.filter(status="answered").count() == 2)
    system = AgentRun.objects.filter(status="answered").latest("pk").prompt[0]["content"]
    assert "Business hours (Europe/London): open now, until today 17:00." in system
