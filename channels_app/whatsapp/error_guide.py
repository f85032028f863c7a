"""What a failed message's Meta error code means and what staff should do about it, in plain words.

Pure data and one lookup, for the console's delivery problems page and the admin. The meaning is
`errors.PLAIN_REASONS` (the sentence the console already shows next to a failed message), completed
here for the codes it leaves out; this module adds the fix and whether resending the same message
can work. It covers every code of the reference's §9.2 table (`errors.KNOWN_CODES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from channels_app.whatsapp import errors


class Resend(StrEnum):
    """Whether sending the same message again can succeed."""

    AFTER_FIX = "after_fix"  # passing trouble, or a cause staff can remove (reconnect, allow-list, unblock...)
    TEMPLATE_ONLY = "template_only"  # only an approved template goes through (the 24-hour window closed)
    NEVER = "never"  # the same message fails the same way: change it, or reach the customer another way


@dataclass(frozen=True)
class ErrorAdvice:
    code: int | None
    meaning: str
    fix: str
    resend: Resend

    @property
    def resend_allowed(self) -> bool:
        return self.resend != Resend.NEVER


_RECONNECT = "Reconnect the channel (Channels → the channel → connect again), then resend."
_WAIT_AND_RESEND = "Nothing to fix on your side: WhatsApp gave up after the automatic retries. Resend it later."
_FIX_PAYLOAD = (
    "Resending the same message fails again. Write it again without the problem (the details say which part), "
    "or tell the developers if the platform built it."
)
_FIX_TEMPLATE = "Fix the template or its parameter values in Templates, then send it again."
_NOT_FOR_MESSAGES = "This error is about setting up the number, not a message; finish the number's registration."

# Meanings for the §9.2 codes errors.PLAIN_REASONS does not phrase.
_MEANINGS: dict[int, str] = {
    132068: "The WhatsApp Flow in this message is blocked.",
    132069: "The WhatsApp Flow in this message is throttled (at most 10 sends an hour).",
    134011: "The business has not accepted the WhatsApp Payments terms.",
    2388019: "The WhatsApp Business Account has too many templates.",
    2388040: "A template field is over its character limit.",
    2388047: "The template's header is not in a valid format.",
    2388072: "The template's body is not in a valid format.",
    2388073: "The template's footer is not in a valid format.",
    2388293: "The template has too many variables for its length.",
    2388299: "The template starts or ends with a variable, which WhatsApp does not allow.",
}

# (what staff should do, whether resending can work), by code. 200-299 share the entry of 200.
_FIXES: dict[int, tuple[str, Resend]] = {
    0: (_RECONNECT, Resend.AFTER_FIX),
    190: (_RECONNECT, Resend.AFTER_FIX),
    3: (
        "Check the access token's permissions (whatsapp_business_messaging) in Meta's token debugger, then resend.",
        Resend.AFTER_FIX,
    ),
    10: (_RECONNECT + " Grant every permission the login asks for.", Resend.AFTER_FIX),
    200: (
        "Give the system user access to the WhatsApp Business Account in Meta Business Settings, or reconnect "
        "the channel, then resend.",
        Resend.AFTER_FIX,
    ),
    4: ("The app sent too many API calls. Wait a few minutes, then resend.", Resend.AFTER_FIX),
    80007: ("The account hit its API rate limit. Wait an hour at most, then resend.", Resend.AFTER_FIX),
    130429: ("The number sent too fast. Slow campaigns down, then resend.", Resend.AFTER_FIX),
    131048: (
        "Pause campaigns and check the number's quality in the channel's page: customers blocked or reported "
        "recent messages. Do not resend now.",
        Resend.NEVER,
    ),
    131056: ("Wait a minute before writing to this customer again, then resend.", Resend.AFTER_FIX),
    131064: (
        "Stop marketing sends and fix the categories of your templates; the limit lifts after Meta's "
        "enforcement period.",
        Resend.NEVER,
    ),
    133016: ("Wait 72 hours before registering the number again. " + _NOT_FOR_MESSAGES, Resend.NEVER),
    368: (
        "Stop sending and read the policy notice in WhatsApp Manager (Account quality); appeal there if it is "
        "a mistake.",
        Resend.NEVER,
    ),
    130497: ("Reach customers in that country another way; do not resend.", Resend.NEVER),
    131031: (
        "Check the account's status in WhatsApp Manager (it may be locked) and the two-step verification PIN.",
        Resend.NEVER,
    ),
    1: ("Check metastatus.com; if WhatsApp is fine, the message itself was refused. " + _FIX_PAYLOAD, Resend.NEVER),
    2: (_WAIT_AND_RESEND, Resend.AFTER_FIX),
    33: ("The number no longer exists on WhatsApp: connect another number to this channel.", Resend.NEVER),
    100: (_FIX_PAYLOAD, Resend.NEVER),
    130403: (
        "The business blocked this customer in WhatsApp (not here). Unblock them in the WhatsApp Business app or "
        "WhatsApp Manager, then resend.",
        Resend.AFTER_FIX,
    ),
    130472: (
        "Nothing to do: Meta holds some customers out of marketing on purpose, and the message was not billed. "
        "Do not resend.",
        Resend.NEVER,
    ),
    131000: (
        _WAIT_AND_RESEND + " If it keeps happening, open a ticket with Meta support with the message's id.",
        Resend.AFTER_FIX,
    ),
    131005: ("Check the channel's permissions (reconnect it if unsure), then resend.", Resend.AFTER_FIX),
    131008: (_FIX_PAYLOAD, Resend.NEVER),
    131009: (_FIX_PAYLOAD, Resend.NEVER),
    131016: (_WAIT_AND_RESEND, Resend.AFTER_FIX),
    131021: ("The customer's number is this channel's own number; nothing can be sent.", Resend.NEVER),
    131026: (
        "Reach the customer another way (email, phone call): check the number is right and that they use "
        "WhatsApp with an up-to-date app. Do not resend.",
        Resend.NEVER,
    ),
    131030: (
        "A test number only reaches allowed numbers: add this number to the allowed list in Meta's WhatsApp "
        "dashboard (API setup), then resend.",
        Resend.AFTER_FIX,
    ),
    131037: ("Get the number's display name approved in WhatsApp Manager, then resend.", Resend.AFTER_FIX),
    131042: (
        "Fix the payment method of the WhatsApp Business Account in Meta Business Settings, then resend.",
        Resend.AFTER_FIX,
    ),
    131045: ("Register the number (connect the channel again), then resend.", Resend.AFTER_FIX),
    131047: (
        "Send an approved template instead (from the conversation or Templates). Free text can go again once the "
        "customer writes.",
        Resend.TEMPLATE_ONLY,
    ),
    131049: (
        "Do not send marketing to this customer for at least 24 hours; campaigns skip them meanwhile.",
        Resend.NEVER,
    ),
    131050: (
        "Never send marketing to this customer again unless they resubscribe (they can reply START). Their "
        "contact page shows the opt-out.",
        Resend.NEVER,
    ),
    131051: ("Send a message type WhatsApp supports (text, media, buttons, template).", Resend.NEVER),
    131052: ("Ask the customer to send the file another way (smaller, or as a link).", Resend.NEVER),
    131053: ("Use a supported file type under WhatsApp's size limit, then send the file again.", Resend.NEVER),
    131057: ("Wait a minute, then resend.", Resend.AFTER_FIX),
    131060: ("Nothing to do: the customer's message is not available.", Resend.NEVER),
    131062: ("This customer has a username only: send a text or a template instead.", Resend.NEVER),
    131063: (
        "Re-enable marketing templates for the account in WhatsApp Manager, or send a utility template.",
        Resend.NEVER,
    ),
    132000: (_FIX_TEMPLATE, Resend.NEVER),
    132001: (
        "Check the template's name and language in Templates; if it waits for review, resend once it is approved.",
        Resend.AFTER_FIX,
    ),
    132005: ("Shorten the parameter values so the filled-in template fits, then send again.", Resend.NEVER),
    132007: ("Edit the template so it follows WhatsApp's policy and submit it for review again.", Resend.NEVER),
    132008: (_FIX_TEMPLATE, Resend.NEVER),
    132012: (_FIX_TEMPLATE + " Named templates take named values, numbered ones numbered values.", Resend.NEVER),
    132015: (
        "Use another approved template meanwhile; edit this one and resend once WhatsApp approves it again.",
        Resend.AFTER_FIX,
    ),
    132016: ("Create a new template: this one can never be sent again.", Resend.NEVER),
    132068: ("Fix the Flow in WhatsApp Manager, then send again.", Resend.NEVER),
    132069: (
        "Send the Flow less often (at most 10 an hour while throttled) and fix it in WhatsApp Manager.",
        Resend.NEVER,
    ),
    133000: ("Deregister the number again, then register it. " + _NOT_FOR_MESSAGES, Resend.NEVER),
    133004: (_WAIT_AND_RESEND, Resend.AFTER_FIX),
    133005: ("Enter the right two-step verification PIN, or reset it in WhatsApp Manager.", Resend.NEVER),
    133006: ("Verify the phone number in WhatsApp Manager, then register it.", Resend.NEVER),
    133008: ("Wait the time Meta gives in the details before trying the PIN again.", Resend.NEVER),
    133009: ("Wait the time Meta gives in the details before trying the PIN again.", Resend.NEVER),
    133010: ("Register the number (connect the channel again), then resend.", Resend.AFTER_FIX),
    133015: ("Wait five minutes, then resend.", Resend.AFTER_FIX),
    134011: ("Accept the WhatsApp Payments terms in WhatsApp Manager.", Resend.NEVER),
    135000: (_FIX_PAYLOAD + " If the message looks right, contact Meta support.", Resend.NEVER),
    137000: (
        "Confirm the customer's identity another way (they may have a new phone), then send the message again "
        "from the conversation.",
        Resend.NEVER,
    ),
}
for _code in (2388019, 2388040, 2388047, 2388072, 2388073, 2388293, 2388299):
    _FIXES[_code] = ("Fix the template's definition and submit it again.", Resend.NEVER)

# Failures the platform records without a Meta code, by the title it gives them.
_UNCODED: dict[str, ErrorAdvice] = {
    "Channel unavailable": ErrorAdvice(
        None,
        "The channel was disconnected or disabled when the message's turn came, so it was never sent.",
        _RECONNECT,
        Resend.AFTER_FIX,
    ),
    "Delivery outcome unknown": ErrorAdvice(
        None,
        "WhatsApp's answer was lost twice: the customer may have received the message, even twice.",
        "Look at the conversation (or ask the customer) before resending, so they do not get it a third time.",
        Resend.AFTER_FIX,
    ),
    "Contact blocked": ErrorAdvice(
        None,
        "The contact was blocked while the message waited to go out, so it was not sent.",
        "Unblock the contact on their page if the block was a mistake, then resend.",
        Resend.AFTER_FIX,
    ),
}


def error_advice(code: int | None, title: str = "") -> ErrorAdvice:
    """The meaning, the fix and the resend rule for a failed message's code (or, without one, its title)."""
    if code is None:
        known = _UNCODED.get(title.strip())
        if known is not None:
            return known
        return ErrorAdvice(
            None,
            title or "The message failed without an error code.",
            "Read the details below; resend once the cause is fixed.",
            Resend.AFTER_FIX,
        )
    key = 200 if 200 <= code <= 299 else code
    meaning = errors.plain_reason(code) or _MEANINGS.get(key, "")
    fix, resend = _FIXES.get(key, ("", Resend.NEVER))
    if not meaning:
        meaning = f"WhatsApp error {code}" + (f": {title}" if title else ".")
    if not fix:
        kind = errors.error_kind(code)
        fix = "Look the code up in Meta's WhatsApp error reference; the details below say what WhatsApp saw." + (
            " It was retried automatically; resend later." if kind == errors.RETRYABLE else ""
        )
        resend = Resend.AFTER_FIX if kind in (errors.RETRYABLE, errors.AUTH) else Resend.NEVER
    return ErrorAdvice(code, meaning, fix, resend)


def codes_covered() -> frozenset[int]:
    """Every code with a written fix (200 stands for 200-299)."""
    return frozenset(_FIXES)
