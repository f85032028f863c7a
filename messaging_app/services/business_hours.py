"""Business hours: when a channel's team is at work, and what customers get outside those hours.

The time maths (open at an instant, the next opening, DST) is in messaging_app/hours.py.

A closed period is named by the instant it began (the last closing at or before a moment), so the
away message and the "we're back" message go out exactly once per conversation per closed period:
each is claimed with a conditional UPDATE on the conversation's `*_period_start` fields.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from channels_app.models import Channel
from channels_app.selectors import templates_approved
from channels_app.whatsapp.template_rules import TemplateParametersInvalid, template_components_build
from messaging_app.hours import (
    WEEKDAYS,
    Range,
    business_hours_closed_since,
    business_hours_display,
    business_hours_next_close,
    business_hours_next_open,
    business_hours_open_at,
    business_hours_opened_since,
    clock_minutes,
    schedule_of,
    time_zones,
)
from messaging_app.models import BusinessHours, BusinessHoursRange, ClosedDate, Conversation, Message
from messaging_app.selectors import business_hours_of_conversation
from messaging_app.services.handoff import conversation_handoff
from messaging_app.services.outbound import message_send
from messaging_app.window import window_open
from whatsapp_platform.errors import InvalidInput, PlatformError

logger = logging.getLogger(__name__)

MAX_RANGES_PER_DAY = 8
WHATSAPP_TEXT_LIMIT = 4096

# Variables the away and "we're back" messages may use, with what staff are told they become.
VARIABLES = {
    "next_open": "when you open next, in the channel's time zone, e.g. Monday 9:00",
    "contact_email": "the contact email below",
    "contact_phone": "the contact phone below",
    "alternative_contact": "the other ways to reach you, below",
    "business_name": "your workspace's name",
    "customer_name": "the customer's WhatsApp name",
}
_VARIABLE = re.compile(r"\{\{(.*?)\}\}")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def message_render(text: str, values: dict[str, str]) -> str:
    """Replace {{variable}}s (validated when the hours were saved) with their values."""
    return _VARIABLE.sub(lambda match: values.get(match.group(1).strip(), ""), text)


def message_values(hours: BusinessHours, conversation: Conversation, *, now: datetime) -> dict[str, str]:
    schedule = schedule_of(hours)
    return {
        "next_open": business_hours_display(business_hours_next_open(schedule, now), schedule.tz, now=now),
        "contact_email": hours.contact_email,
        "contact_phone": hours.contact_phone,
        "alternative_contact": hours.alternative_contact,
        "business_name": conversation.workspace.name,
        "customer_name": conversation.contact.profile_name,
    }


def business_hours_agent_context(*, conversation: Conversation, now: datetime) -> str:
    """One line for the agent's system prompt: open or closed, and until or from when."""
    hours = business_hours_of_conversation(conversation=conversation)
    if hours is None or not hours.enabled:
        return ""
    schedule = schedule_of(hours)
    if business_hours_open_at(schedule, now):
        until = business_hours_display(business_hours_next_close(schedule, now), schedule.tz, now=now)
        return f"Business hours ({hours.timezone}): open now, until {until}."
    back = business_hours_display(business_hours_next_open(schedule, now), schedule.tz, now=now)
    return (
        f"Business hours ({hours.timezone}): closed now; the team is back {back}. "
        "If the customer needs a person, hand over all the same: the platform tells them when the team replies."
    )


# --- saving the hours --------------------------------------------------------------------------


class BusinessHoursInvalid(InvalidInput):
    """The hours were not saved. `errors` maps each field ("timezone", "weekly.monday"...) to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


@dataclass
class _Parsed:
    enabled: bool
    timezone: str
    mode: str
    ranges: list[Range]
    closed_dates: list[tuple[date, str]]
    away_message: str
    contact_email: str
    contact_phone: str
    alternative_contact: str
    back_message: str
    back_template_name: str
    back_template_language: str
    back_template_values: dict


def _time_parse(value, *, end: bool) -> time:
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if end and (hour, minute) == (24, 0):
            return time(0, 0)  # the end of the day: the range ends at midnight
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError(f"“{value}” is not a time: use 24-hour HH:MM, e.g. 09:00 or 17:30.")


def _week_minutes(r: Range) -> tuple[int, int]:
    start = r.weekday * 1440 + clock_minutes(r.start)
    return start, start + r.minutes


def _overlaps(a: Range, b: Range) -> bool:
    """On the weekly circle (a Sunday-night range runs into Monday)."""
    week = 7 * 1440
    a_start, a_end = _week_minutes(a)
    b_start, b_end = _week_minutes(b)
    return any(a_start < b_end + shift and b_start + shift < a_end for shift in (-week, 0, week))


def _range_label(r: Range) -> str:
    return f"{WEEKDAYS[r.weekday].capitalize()} {r.start:%H:%M}–{r.end:%H:%M}"


def _weekly_parse(weekly, errors: dict[str, str]) -> list[Range]:
    if not isinstance(weekly, dict):
        errors["weekly"] = "Give the weekly hours as an object with a list of ranges per weekday, e.g. "
        errors["weekly"] += '{"monday": [{"start": "09:00", "end": "17:00"}]}.'
        return []
    unknown = [key for key in weekly if key not in WEEKDAYS]
    if unknown:
        errors["weekly"] = f"Unknown weekday “{unknown[0]}”: use {', '.join(WEEKDAYS)}."
    ranges: list[Range] = []
    for weekday, name in enumerate(WEEKDAYS):
        field = f"weekly.{name}"
        items = weekly.get(name) or []
        if not isinstance(items, list):
            errors[field] = 'Give a list of ranges, e.g. [{"start": "09:00", "end": "17:00"}].'
            continue
        if len(items) > MAX_RANGES_PER_DAY:
            errors[field] = f"At most {MAX_RANGES_PER_DAY} ranges a day."
            continue
        for item in items:
            if not isinstance(item, dict) or "start" not in item or "end" not in item:
                errors[field] = 'Each range needs a start and an end, e.g. {"start": "09:00", "end": "17:00"}.'
                break
            try:
                r = Range(weekday, _time_parse(item["start"], end=False), _time_parse(item["end"], end=True))
            except ValueError as exc:
                errors[field] = str(exc)
                break
            clash = next((other for other in ranges if _overlaps(other, r)), None)
            if clash is not None:
                errors[field] = f"{_range_label(r)} overlaps {_range_label(clash)}."
                break
            ranges.append(r)
    return ranges


def _closed_dates_parse(items, errors: dict[str, str]) -> list[tuple[date, str]]:
    if items in (None, ""):
        return []
    if not isinstance(items, list):
        errors["closed_dates"] = 'Give a list of dates, e.g. [{"date": "2026-12-25", "label": "Christmas Day"}].'
        return []
    found: dict[date, str] = {}
    for item in items:
        raw = item.get("date") if isinstance(item, dict) else None
        label = str(item.get("label") or "").strip() if isinstance(item, dict) else ""
        try:
            day = date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            day = None
        if day is None:
            errors["closed_dates"] = f"“{raw if raw is not None else item}” is not a date: use YYYY-MM-DD."
            break
        if day in found:
            errors["closed_dates"] = f"{day.isoformat()} is listed twice."
            break
        if len(label) > 120:
            errors["closed_dates"] = f"The label of {day.isoformat()} is {len(label)} characters; keep it to 120."
            break
        found[day] = label
    return sorted(found.items())


def _text(document: dict, key: str, errors: dict[str, str], *, limit: int = WHATSAPP_TEXT_LIMIT) -> str:
    value = document.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[key] = "Give text."
        return ""
    value = value.strip()
    if len(value) > limit:
        errors[key] = f"This is {len(value)} characters; keep it to {limit}."
    return value


def _variables_check(text: str, field: str, parsed_contacts: dict[str, str], errors: dict[str, str]) -> None:
    for match in _VARIABLE.finditer(text):
        name = match.group(1).strip()
        if name not in VARIABLES:
            errors[field] = f"Unknown variable {match.group(0)}: use {', '.join('{{' + v + '}}' for v in VARIABLES)}."
            return
        if name in parsed_contacts and not parsed_contacts[name]:
            errors[field] = f"The message uses {{{{{name}}}}}: fill in the {name.replace('_', ' ')} too."
            return


def _back_template_parse(channel: Channel, value, contacts: dict, errors: dict) -> tuple[str, str, dict]:
    if value in (None, "", {}):
        return "", "", {}
    if not isinstance(value, dict) or not value.get("name") or not value.get("language"):
        errors["back_template"] = 'Give the template as {"name": …, "language": …, "values": {…}}, or null.'
        return "", "", {}
    name, language = str(value["name"]).strip(), str(value["language"]).strip()
    template = templates_approved(channel=channel).filter(name=name, language=language).first()
    if template is None:
        errors["back_template"] = (
            f"No approved template “{name}” ({language}) on this number's WhatsApp Business Account. "
            "Sync templates on the Templates page, or wait for Meta's approval."
        )
        return name, language, {}
    values = value.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        errors["back_template.values"] = (
            'Give the parameter values as an object, e.g. {"1": "{{customer_name}}"} or {"first_name": "…"}.'
        )
        return name, language, {}
    for text in values.values():
        _variables_check(text, "back_template.values", contacts, errors)
    # The variables' own values are known only when sending; stand-ins show whether every parameter is filled.
    stand_ins = {key: message_render(text, dict.fromkeys(VARIABLES, "x")) for key, text in values.items()}
    try:
        template_components_build(template.components, template.parameter_format, stand_ins)
    except TemplateParametersInvalid as exc:
        errors.setdefault("back_template.values", str(exc))
    return name, language, values


def business_hours_parse(*, channel: Channel, document) -> _Parsed:
    """Validate a whole business-hours document (the API's shape); every problem is reported at once."""
    errors: dict[str, str] = {}
    if not isinstance(document, dict):
        raise BusinessHoursInvalid({"document": "Send the business hours as a JSON object."})
    enabled = document.get("enabled", True)
    if not isinstance(enabled, bool):
        errors["enabled"] = "Give true or false."
    tz_name = document.get("timezone")
    if not isinstance(tz_name, str) or tz_name not in time_zones():
        errors["timezone"] = (
            f"“{tz_name or ''}” is not a time zone we know: use an IANA name such as Europe/London or America/New_York."
        )
    mode = document.get("mode")
    if mode not in BusinessHours.Mode.values:
        errors["mode"] = f"Choose what happens outside business hours: {', '.join(BusinessHours.Mode.values)}."
    ranges = _weekly_parse(document.get("weekly"), errors)
    if enabled is True and not ranges and not any(k.startswith("weekly") for k in errors):
        errors["weekly"] = "Add at least one opening range, or turn business hours off."
    closed_dates = _closed_dates_parse(document.get("closed_dates"), errors)

    contact_email = _text(document, "contact_email", errors, limit=254)
    if contact_email:
        try:
            validate_email(contact_email)
        except DjangoValidationError:
            errors["contact_email"] = f"“{contact_email}” is not an email address."
    contact_phone = _text(document, "contact_phone", errors, limit=32)
    alternative_contact = _text(document, "alternative_contact", errors, limit=1000)
    contacts = {
        "contact_email": contact_email,
        "contact_phone": contact_phone,
        "alternative_contact": alternative_contact,
    }
    away_message = _text(document, "away_message", errors)
    _variables_check(away_message, "away_message", contacts, errors)
    if enabled is True and mode != BusinessHours.Mode.AGENT and not away_message and "away_message" not in errors:
        errors["away_message"] = "Write the away message customers get outside business hours."
    back_message = _text(document, "back_message", errors)
    _variables_check(back_message, "back_message", contacts, errors)
    back_name, back_language, back_values = _back_template_parse(
        channel, document.get("back_template"), contacts, errors
    )
    if errors:
        raise BusinessHoursInvalid(errors)
    return _Parsed(
        enabled=enabled,
        timezone=tz_name,
        mode=mode,
        ranges=ranges,
        closed_dates=closed_dates,
        away_message=away_message,
        contact_email=contact_email,
        contact_phone=contact_phone,
        alternative_contact=alternative_contact,
        back_message=back_message,
        back_template_name=back_name,
        back_template_language=back_language,
        back_template_values=back_values,
    )


def business_hours_save(*, channel: Channel, document) -> BusinessHours:
    """Replace the channel's business hours with `document` (all of it, validated first), atomically."""
    parsed = business_hours_parse(channel=channel, document=document)
    with transaction.atomic():
        BusinessHours.objects.get_or_create(channel=channel)
        hours = BusinessHours.objects.select_for_update().get(channel=channel)
        for field in (
            "enabled",
            "timezone",
            "mode",
            "away_message",
            "contact_email",
            "contact_phone",
            "alternative_contact",
            "back_message",
            "back_template_name",
            "back_template_language",
            "back_template_values",
        ):
            setattr(hours, field, getattr(parsed, field))
        hours.save()
        hours.ranges.all().delete()
        BusinessHoursRange.objects.bulk_create(
            BusinessHoursRange(hours=hours, weekday=r.weekday, start=r.start, end=r.end) for r in parsed.ranges
        )
        hours.closed_dates.all().delete()
        ClosedDate.objects.bulk_create(
            ClosedDate(hours=hours, date=day, label=label) for day, label in parsed.closed_dates
        )
        if not parsed.enabled:
            # Without hours nobody waits for an opening.
            Conversation.objects.filter(channel=channel, closed_arrival_at__isnull=False).update(closed_arrival_at=None)
    logger.info("business hours saved", extra={"channel_id": channel.pk, "enabled": parsed.enabled})
    return BusinessHours.objects.prefetch_related("ranges", "closed_dates").get(pk=hours.pk)


# --- customers writing while closed, and the opening ------------------------------------------


def business_hours_inbound_apply(*, conversation: Conversation, now: datetime) -> bool:
    """Before anyone answers new customer messages: outside business hours, follow the channel's rule.

    Records the arrival (the queue at opening), sends the away message once per closed period unless
    someone (the agent or a teammate) already answered in it, and in the "wait for the team" mode hands
    the conversation to humans. Returns False when the agent must not answer this turn.
    """
    if conversation.contact.blocked_at:
        return True  # nothing is sent to a blocked contact; whatever else applies to them decides
    hours = business_hours_of_conversation(conversation=conversation)
    if hours is None or not hours.enabled:
        return True
    schedule = schedule_of(hours)
    period = business_hours_closed_since(schedule, now)
    if period is None:
        return True
    Conversation.objects.filter(pk=conversation.pk).update(
        closed_arrival_at=Coalesce("closed_arrival_at", Value(now)), closed_period_start=period
    )
    if hours.mode == BusinessHours.Mode.AGENT:
        return True
    answered = Message.objects.filter(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        sender__in=[Message.Sender.AGENT, Message.Sender.TEAMMATE],
        timestamp__gte=period,
    ).exists()
    if not answered:
        _away_send(hours, conversation, period=period, now=now)
    if hours.mode == BusinessHours.Mode.AWAY_WAIT:
        if conversation.state == Conversation.State.AGENT:
            back = business_hours_display(business_hours_next_open(schedule, now), schedule.tz, now=now)
            conversation_handoff(
                conversation=conversation, reason=f"Wrote outside business hours; waits for the team (back {back})."
            )
        return False
    return True


def _claim(conversation: Conversation, field: str, period: datetime) -> bool:
    """Take the right to send this period's message: True for exactly one caller per period."""
    return (
        Conversation.objects.filter(pk=conversation.pk)
        .filter(Q(**{f"{field}__isnull": True}) | ~Q(**{field: period}))
        .update(**{field: period})
        == 1
    )


def _away_send(hours: BusinessHours, conversation: Conversation, *, period: datetime, now: datetime) -> None:
    body = message_render(hours.away_message, message_values(hours, conversation, now=now))
    # The claim and the outbox row commit together; a message WhatsApp's rules refuse (checked before any
    # write) keeps the claim: never twice in one period.
    with transaction.atomic():
        if not _claim(conversation, "away_period_start", period):
            return
        try:
            message_send(
                conversation=conversation,
                message_type="text",
                content={"body": body[:WHATSAPP_TEXT_LIMIT], "preview_url": False},
                sender=Message.Sender.SYSTEM,
            )
        except PlatformError as exc:
            logger.warning("away message not sent", extra={"conversation_id": conversation.pk, "error": exc.message})


def business_hours_openings_run(*, now: datetime | None = None) -> dict[str, int]:
    """Every minute: at each open channel, drop served conversations from the opening queue and send
    "we're back" once to those still waiting since the closed period that just ended."""
    now = now or timezone.now()
    counts = {"unqueued": 0, "back_sent": 0}
    for hours in (
        BusinessHours.objects.filter(enabled=True, channel__status=Channel.Status.ACTIVE)
        .select_related("channel")
        .prefetch_related("ranges", "closed_dates")
    ):
        schedule = schedule_of(hours)
        opened = business_hours_opened_since(schedule, now)
        if opened is None:
            continue
        counts["unqueued"] += (
            Conversation.objects.filter(channel=hours.channel, closed_arrival_at__isnull=False)
            .exclude(state=Conversation.State.WAITING_HUMAN)
            .update(closed_arrival_at=None)
        )
        if not (hours.back_message or hours.back_template_name):
            continue
        ended = business_hours_closed_since(schedule, opened - timedelta(seconds=1))
        waiting = (
            Conversation.objects.filter(
                channel=hours.channel, state=Conversation.State.WAITING_HUMAN, closed_period_start=ended
            )
            .filter(Q(back_period_start__isnull=True) | ~Q(back_period_start=F("closed_period_start")))
            .select_related("channel", "contact", "workspace")
        )
        for conversation in waiting[:1000]:
            counts["back_sent"] += _back_send(hours, conversation, period=ended, now=now)
    return counts


def _back_send(hours: BusinessHours, conversation: Conversation, *, period: datetime, now: datetime) -> bool:
    """Inside the 24-hour window the "we're back" text, after it the template (WhatsApp allows nothing else).

    Claimed first, whatever follows: a conversation that cannot get it is not looked at again each minute.
    """
    with transaction.atomic():
        if not _claim(conversation, "back_period_start", period):
            return False
        values = message_values(hours, conversation, now=now)
        if conversation.contact.blocked_at:
            return False
        if hours.back_message and window_open(conversation, now=now):
            message_type, content = "text", {"body": message_render(hours.back_message, values), "preview_url": False}
        elif hours.back_template_name:
            message_type, content = "template", back_template_content(hours, conversation.channel, values)
        else:
            return False  # the window closed and there is no template to reopen it with
        if content is None:
            return False
        try:
            message_send(
                conversation=conversation, message_type=message_type, content=content, sender=Message.Sender.SYSTEM
            )
        except PlatformError as exc:
            logger.warning(
                "we're-back message not sent", extra={"conversation_id": conversation.pk, "error": exc.message}
            )
            return False
    return True


def back_template_content(hours: BusinessHours, channel: Channel, values: dict[str, str]) -> dict | None:
    """Meta's template object for the "we're back" template, its parameter values rendered; None when the
    template is no longer approved (or no longer fits its values)."""
    template = (
        templates_approved(channel=channel)
        .filter(name=hours.back_template_name, language=hours.back_template_language)
        .first()
    )
    if template is None:
        return None
    rendered = {key: message_render(text, values) for key, text in (hours.back_template_values or {}).items()}
    try:
        components = template_components_build(template.components, template.parameter_format, rendered)
    except TemplateParametersInvalid as exc:
        logger.warning("we're-back template does not fit", extra={"channel_id": channel.pk, "error": str(exc)})
        return None
    content = {"name": template.name, "language": {"code": template.language}}
    if components:
        content["components"] = components
    return content
