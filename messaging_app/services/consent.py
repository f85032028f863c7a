"""Marketing consent: opt-outs from keywords, Meta's user_preferences and error 131050.

It writes only the contact, so it lives with the contact; outreach reads it (campaigns skip opted-out contacts).
Every path lands in the same two functions, so the contact's opt-out carries when and how it
happened, and a confirmation goes only when the state really changed ("confirm once").
"""

import logging

from django.db.models import Q
from django.utils import timezone

from channels_app.models import Channel
from messaging_app.models import Contact, Message

logger = logging.getLogger(__name__)

MARKETING_OPTED_OUT = 131050  # the user stopped marketing messages from this business
MARKETING_LIMITED = 131049  # per-user marketing limit: not delivered, do not retry for 24 h


class Source:
    KEYWORD = "keyword"
    USER_PREFERENCES = "user_preferences"
    ERROR_131050 = "error_131050"
    STAFF = "staff"


def contact_marketing_opt_out(*, contact_id: int, source: str, at=None) -> bool:
    """Opt the contact out of marketing; True when they were opted in until now."""
    changed = Contact.objects.filter(pk=contact_id, marketing_opt_out=False).update(
        marketing_opt_out=True,
        marketing_opt_out_at=at or timezone.now(),
        marketing_opt_out_source=source[:32],
        updated_at=timezone.now(),
    )
    if changed:
        logger.info("contact opted out of marketing", extra={"contact_id": contact_id, "source": source})
    return changed == 1


def contact_marketing_opt_in(*, contact_id: int, source: str) -> bool:
    """Resubscribe the contact; True when they were opted out until now."""
    changed = Contact.objects.filter(pk=contact_id, marketing_opt_out=True).update(
        marketing_opt_out=False, marketing_opt_out_at=None, marketing_opt_out_source="", updated_at=timezone.now()
    )
    if changed:
        logger.info("contact resubscribed to marketing", extra={"contact_id": contact_id, "source": source})
    return changed == 1


def user_preference_apply(*, channel: Channel, item) -> int:
    """Meta's `user_preferences` webhook (a `channels_app.whatsapp.webhooks.UserPreference`): stop or resume."""
    if item.category != "marketing_messages":
        return 0
    identities = Q(pk__in=[])
    if item.wa_id:
        identities |= Q(wa_id="".join(ch for ch in item.wa_id if ch.isdigit()))
    if item.user_id:
        identities |= Q(user_id=item.user_id)
    value = str(item.value or "").lower()
    changed = 0
    for contact_id in Contact.objects.filter(identities, channel=channel).values_list("pk", flat=True):
        if value == "stop":
            changed += contact_marketing_opt_out(
                contact_id=contact_id, source=Source.USER_PREFERENCES, at=item.timestamp
            )
        elif value == "resume":
            changed += contact_marketing_opt_in(contact_id=contact_id, source=Source.USER_PREFERENCES)
    return changed


def send_failure_observe(*, contact_id: int, code: int | None) -> None:
    """A send failed with Meta's code (answered at once, or in a `failed` status webhook).

    131050: the user stopped marketing messages, so they are opted out here too. 131049 needs
    nothing written: the failed message is the record, and campaigns skip the contact for 24 h.
    """
    if code == MARKETING_OPTED_OUT:
        contact_marketing_opt_out(contact_id=contact_id, source=Source.ERROR_131050)


def status_failure_observe(*, channel: Channel, item) -> None:
    """A status webhook (`StatusUpdate`): a `failed` one may carry 131050."""
    if item.status != "failed" or not item.errors:
        return
    codes = {error.get("code") for error in item.errors if isinstance(error, dict)}
    if MARKETING_OPTED_OUT not in codes:
        return
    contact_id = Message.objects.filter(channel=channel, wamid=item.wamid).values_list("contact_id", flat=True).first()
    if contact_id is not None:
        send_failure_observe(contact_id=contact_id, code=MARKETING_OPTED_OUT)
