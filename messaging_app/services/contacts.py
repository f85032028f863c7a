import logging

from django.db import IntegrityError, transaction
from django.db.models import Q

from channels_app.models import Channel
from events_app.services import conversation_event_emit
from messaging_app.models import Contact, Conversation

logger = logging.getLogger(__name__)


def _digits(phone: str | None) -> str | None:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    return digits or None


def contact_resolve(
    *,
    channel: Channel,
    wa_id: str | None,
    user_id: str | None,
    profile_name: str = "",
    username: str = "",
    parent_user_id: str = "",
) -> Contact:
    """The channel's contact for this sender, created or completed as identities arrive.

    The BSUID wins when both identities point at different rows (a number reassigned to a
    new user): the phone number moves to the BSUID's contact.
    """
    wa_id = _digits(wa_id)
    if not wa_id and not user_id:
        raise ValueError("a sender needs a phone number or a business-scoped user id")
    for _ in range(3):  # a concurrent insert of the same sender loses the race and re-reads
        try:
            with transaction.atomic():
                return _contact_resolve_once(channel, wa_id, user_id, profile_name, username, parent_user_id)
        except IntegrityError:
            continue
    return _contact_resolve_once(channel, wa_id, user_id, profile_name, username, parent_user_id)


def _contact_resolve_once(channel, wa_id, user_id, profile_name, username, parent_user_id) -> Contact:
    lookup = Q()
    if user_id:
        lookup |= Q(user_id=user_id)
    if wa_id:
        lookup |= Q(wa_id=wa_id)
    candidates = list(Contact.objects.select_for_update(no_key=True).filter(lookup, channel=channel))
    by_user = next((c for c in candidates if user_id and c.user_id == user_id), None)
    by_phone = next((c for c in candidates if wa_id and c.wa_id == wa_id), None)
    contact = by_user or by_phone
    if contact is None:
        return Contact.objects.create(
            workspace_id=channel.workspace_id,
            channel=channel,
            wa_id=wa_id,
            user_id=user_id,
            profile_name=profile_name[:256],
            username=username[:64],
            parent_user_id=parent_user_id or "",
        )
    if by_user and by_phone and by_user.pk != by_phone.pk:
        if by_phone.user_id:  # the number was reassigned to another WhatsApp user
            Contact.objects.filter(pk=by_phone.pk).update(wa_id=None)
        else:
            # A phone-only row from before BSUIDs holds the number; keep both rather than guess a merge.
            wa_id = None
    changed = []
    for field, value in (("wa_id", wa_id), ("user_id", user_id), ("parent_user_id", parent_user_id)):
        if value and getattr(contact, field) != value:
            setattr(contact, field, value)
            changed.append(field)
    for field, value, limit in (("profile_name", profile_name, 256), ("username", username, 64)):
        if value and getattr(contact, field) != value[:limit]:
            setattr(contact, field, value[:limit])
            changed.append(field)
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def contact_identity_change(
    *, channel: Channel, old_wa_id: str | None, old_user_id: str | None, new_wa_id: str | None, new_user_id: str | None
) -> Contact | None:
    """A `system` webhook said the user changed number or BSUID: update the same contact, never fork it."""
    old_wa_id, new_wa_id = _digits(old_wa_id), _digits(new_wa_id)
    with transaction.atomic():
        lookup = Q(pk__in=[])
        if old_user_id:
            lookup |= Q(user_id=old_user_id)
        if old_wa_id:
            lookup |= Q(wa_id=old_wa_id)
        contact = Contact.objects.select_for_update(no_key=True).filter(lookup, channel=channel).first()
        if contact is None:
            return None
        # Anyone already holding the new identity on this channel gives it up: it is this person's now.
        if new_wa_id and new_wa_id != contact.wa_id:
            Contact.objects.filter(channel=channel, wa_id=new_wa_id).exclude(pk=contact.pk).exclude(
                user_id__isnull=True
            ).update(wa_id=None)
            contact.wa_id = new_wa_id
        if new_user_id and new_user_id != contact.user_id:
            contact.user_id = new_user_id
        contact.save(update_fields=["wa_id", "user_id", "updated_at"])
        logger.info("contact identity changed", extra={"contact_id": contact.pk, "channel_id": channel.pk})
        return contact


def conversation_for_contact(*, contact: Contact) -> Conversation:
    """The contact's conversation on its channel, locked for the caller's transaction."""
    for _ in range(3):
        conversation = (
            Conversation.objects.select_for_update(no_key=True)
            .filter(channel_id=contact.channel_id, contact=contact)
            .first()
        )
        if conversation is not None:
            return conversation
        try:
            with transaction.atomic():
                channel = contact.channel
                conversation = Conversation.objects.create(
                    workspace_id=contact.workspace_id,
                    channel=channel,
                    contact=contact,
                    assigned_agent_id=channel.agent_id,
                    state=Conversation.State.AGENT if channel.agent_id else Conversation.State.WAITING_HUMAN,
                )

                conversation_event_emit(type="conversation.created", conversation=conversation)
                return conversation
        except IntegrityError:
            continue
    return Conversation.objects.select_for_update(no_key=True).get(channel_id=contact.channel_id, contact=contact)


def conversations_for_contacts(*, channel: Channel, contacts: list[Contact]) -> dict[int, Conversation]:
    """conversation_for_contact for many contacts of one channel at once: by contact id, locked for the
    caller's transaction, in two statements when none is new and three when some are (a campaign's chunk).

    Each conversation carries the given contact and channel objects, so building a send reads no more rows.
    """
    found = {
        conversation.contact_id: conversation
        for conversation in Conversation.objects.select_for_update(no_key=True).filter(
            channel_id=channel.pk, contact_id__in=[contact.pk for contact in contacts]
        )
    }
    missing = [contact for contact in contacts if contact.pk not in found]
    created: list[Conversation] = []
    if missing:
        try:
            with transaction.atomic():
                created = Conversation.objects.bulk_create(
                    [
                        Conversation(
                            workspace_id=contact.workspace_id,
                            channel=channel,
                            contact=contact,
                            assigned_agent_id=channel.agent_id,
                            state=Conversation.State.AGENT if channel.agent_id else Conversation.State.WAITING_HUMAN,
                        )
                        for contact in missing
                    ]
                )
        except IntegrityError:
            # One of them wrote meanwhile and got its conversation first: one at a time, as for a single send.
            for contact in missing:
                found[contact.pk] = conversation_for_contact(contact=contact)
        else:
            for conversation in created:
                conversation_event_emit(type="conversation.created", conversation=conversation)
                found[conversation.contact_id] = conversation
    by_id = {contact.pk: contact for contact in contacts}
    for contact_id, conversation in found.items():
        conversation.contact = by_id[contact_id]
        conversation.channel = channel
    return found
