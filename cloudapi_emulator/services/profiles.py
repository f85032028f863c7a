"""The WhatsApp Business Profile API: `GET|POST /<phone_number_id>/whatsapp_business_profile`.

Limits follow Meta's business-profiles page where it is explicit: `about` may not be empty and
takes 1-139 characters. The stored copy of that page was cut after `about`, so the other
limits (address 256, description 512, email 128 in an email shape, at most 2 websites of
256 characters each with http:// or https://) come from integrators who quote Meta's table.
Meta names no error code for these; the emulator answers 100 (Invalid parameter).
"""

import re
import secrets
from typing import Any

from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import App, BusinessProfile, PhoneNumber
from cloudapi_emulator.services.uploads import upload_for_handle

PROFILE_FIELDS = ("about", "address", "description", "email", "profile_picture_url", "websites", "vertical")
# Business categories. Meta's own list was not in the stored page; integrators' copies differ
# (UNDEFINED and NOT_A_BIZ appear in some), so the emulator accepts their union rather than
# refuse a value Meta takes.
VERTICALS = (
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "NOT_A_BIZ",
)
MAX_LENGTHS = {"about": 139, "address": 256, "description": 512, "email": 128}
MAX_WEBSITES = 2
MAX_WEBSITE_LENGTH = 256
PICTURE_TYPES = {"image/jpeg", "image/jpg", "image/png"}
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def profile_of(number: PhoneNumber) -> BusinessProfile:
    profile, _ = BusinessProfile.objects.get_or_create(number=number)
    return profile


def profile_fields(profile: BusinessProfile, fields: list[str], *, picture_url: str) -> dict[str, Any]:
    """The fields asked for (all of them when none are), leaving out those never set."""
    for name in fields:
        if name not in PROFILE_FIELDS:
            raise GraphError(100, f"Tried accessing nonexisting field ({name}) on node type (WhatsAppBusinessProfile)")
    values: dict[str, Any] = {
        "about": profile.about,
        "address": profile.address,
        "description": profile.description,
        "email": profile.email,
        "profile_picture_url": picture_url if profile.picture_key else "",
        "websites": list(profile.websites),
        "vertical": profile.vertical,
    }
    result = {name: values[name] for name in (fields or PROFILE_FIELDS) if values[name]}
    result["messaging_product"] = "whatsapp"
    return result


def _text(params: dict[str, Any], name: str) -> str:
    value = params[name]
    if not isinstance(value, str):
        raise GraphError(100, f"Param {name} must be a string.")
    if len(value) > MAX_LENGTHS[name]:
        raise GraphError(100, f"Param {name} must be at most {MAX_LENGTHS[name]} characters long.")
    return value


def profile_update(*, number: PhoneNumber, params: dict[str, Any], app: App | None) -> BusinessProfile:
    """Validate every field sent, then save them together; fields not sent keep their values."""
    if params.get("messaging_product") != "whatsapp":
        raise GraphError(100, "The parameter messaging_product is required and must be 'whatsapp'.")
    changes: dict[str, Any] = {}
    if "about" in params:
        about = _text(params, "about")
        if not about.strip():
            raise GraphError(100, "Param about must be between 1 and 139 characters long.")
        changes["about"] = about
    for name in ("address", "description"):
        if name in params:
            changes[name] = _text(params, name)
    if "email" in params:
        email = _text(params, "email")
        if email and not EMAIL_SHAPE.match(email):
            raise GraphError(100, "Param email must be a valid email address.")
        changes["email"] = email
    if "vertical" in params:
        if params["vertical"] not in VERTICALS:
            raise GraphError(100, f"Param vertical must be one of {', '.join(VERTICALS)}.")
        changes["vertical"] = params["vertical"]
    if "websites" in params:
        changes["websites"] = _websites(params["websites"])
    profile = profile_of(number)
    if "profile_picture_handle" in params:
        upload = upload_for_handle(handle=str(params["profile_picture_handle"] or ""), app=app)
        if upload is None:
            raise GraphError(100, "Param profile_picture_handle is not a valid uploaded file handle.")
        if upload.file_type not in PICTURE_TYPES:
            raise GraphError(100, "The profile picture must be a JPEG or PNG image.")
        changes["picture"] = upload
        changes["picture_key"] = secrets.token_urlsafe(24)
    for name, value in changes.items():
        setattr(profile, name, value)
    profile.save()
    return profile


def _websites(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(site, str) for site in value):
        raise GraphError(100, "Param websites must be an array of URLs.")
    if len(value) > MAX_WEBSITES:
        raise GraphError(100, f"Param websites takes at most {MAX_WEBSITES} URLs.")
    for site in value:
        if len(site) > MAX_WEBSITE_LENGTH:
            raise GraphError(100, f"Each website must be at most {MAX_WEBSITE_LENGTH} characters long.")
        if not site.startswith(("http://", "https://")):
            raise GraphError(100, "Each website must start with http:// or https://.")
    return list(value)


def profile_picture_for_key(key: str) -> tuple[bytes, str] | None:
    """The photo's bytes and type behind a `profile_picture_url` key, or None."""
    profile = BusinessProfile.objects.select_related("picture").filter(picture_key=key).first() if key else None
    if profile is None or profile.picture is None:
        return None
    return bytes(profile.picture.data), profile.picture.file_type.replace("image/jpg", "image/jpeg")
