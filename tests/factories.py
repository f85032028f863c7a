"""Factories: the small cast every test module arranges its world with."""

import factory
from factory.django import DjangoModelFactory

from agents_app.models import Agent
from channels_app.models import Channel
from workspaces_app.models import Membership, Role, User, Workspace
from workspaces_app.services import api_key_create

PASSWORD = "correct horse battery staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class WorkspaceFactory(DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.AGENT


class AgentFactory(DjangoModelFactory):
    class Meta:
        model = Agent

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")
    instructions = "Be helpful."


class ChannelFactory(DjangoModelFactory):
    class Meta:
        model = Channel

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"WhatsApp line {n}")
    status = Channel.Status.ACTIVE
    phone_number_id = factory.Sequence(lambda n: f"10{n:08d}")
    display_phone_number = factory.Sequence(lambda n: f"+44 20 7946 {n:04d}")
    access_token = "EAAG-test-token"


def member(workspace: Workspace, role: str = Role.AGENT, **user_fields) -> User:
    """A user with the given role in the workspace (owners and admins are staff, as in the product)."""
    user_fields.setdefault("is_staff", role in (Role.OWNER, Role.ADMIN))
    user = UserFactory(**user_fields)
    MembershipFactory(workspace=workspace, user=user, role=role)
    return user


def api_key_for(workspace: Workspace, name: str = "Test key", role: str = Role.OWNER) -> str:
    return api_key_create(workspace=workspace, name=name, role=role).plaintext


def conversation_with(
    channel,
    *,
    wa_id: str = "16505551234",
    user_id: str | None = None,
    name: str = "Sheena Nelson",
    last_inbound_at=None,
    agent=None,
):
    """A contact and their conversation on the channel."""
    from django.utils import timezone

    from messaging_app.models import Contact, Conversation

    contact = Contact.objects.create(
        workspace=channel.workspace, channel=channel, wa_id=wa_id, user_id=user_id, profile_name=name
    )
    return Conversation.objects.create(
        workspace=channel.workspace,
        channel=channel,
        contact=contact,
        assigned_agent=agent,
        last_inbound_at=timezone.now() if last_inbound_at is None else last_inbound_at,
    )


def outbound_message(conversation, *, wamid: str | None = None, status: str = "accepted", body: str = "Hello!"):
    from django.utils import timezone

    from messaging_app.models import Message

    return Message.objects.create(
        workspace=conversation.workspace,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.OUTBOUND,
        message_type="text",
        content={"body": body},
        wamid=wamid,
        timestamp=timezone.now(),
        sender=Message.Sender.AGENT,
        status=status,
    )
