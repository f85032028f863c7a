"""The WhatsApp business profile customers see: about, address, description, email, websites, industry, photo."""

import logging

from channels_app.models import Channel
from channels_app.services.channels import graph_client_for_channel
from channels_app.whatsapp import errors as graph_errors
from channels_app.whatsapp.payloads import PayloadInvalid, business_profile_check
from whatsapp_platform.errors import PlatformError
from whatsapp_platform.images import ImageTooLarge, ImageUnreadable, image_size_check

logger = logging.getLogger(__name__)

PHOTO_TYPES = ("image/jpeg", "image/png")
PHOTO_MAX_BYTES = 5 * 1000 * 1000
PHOTO_MIN_SIDE = 192


class ProfileError(PlatformError):
    code = "business_profile_error"
    http_status = 400


def business_profile_get(*, channel: Channel) -> dict:
    try:
        return graph_client_for_channel(channel).business_profile_get(channel.phone_number_id)
    except graph_errors.GraphError as exc:
        raise ProfileError(f"Could not read the business profile from WhatsApp ({exc.plain_reason or exc}).") from None


def _photo_check(content: bytes, mime_type: str) -> None:
    if mime_type not in PHOTO_TYPES:
        raise ProfileError("The profile photo must be a JPEG or PNG image.", field="photo")
    if len(content) > PHOTO_MAX_BYTES:
        raise ProfileError(f"The photo is {len(content):,} bytes; WhatsApp allows 5 MB.", field="photo")
    try:
        width, height = image_size_check(content)
    except ImageTooLarge as exc:
        raise ProfileError(str(exc), field="photo", code=exc.code) from exc
    except ImageUnreadable as exc:
        raise ProfileError(f"The photo could not be read as an image ({exc}).", field="photo") from exc
    if min(width, height) < PHOTO_MIN_SIDE:
        raise ProfileError(
            f"The photo is {width}×{height}; WhatsApp needs at least {PHOTO_MIN_SIDE}×{PHOTO_MIN_SIDE} pixels.",
            field="photo",
        )


def business_profile_update(*, channel: Channel, profile: dict, photo: tuple[bytes, str, str] | None = None) -> dict:
    """Check every field against Meta's limits, upload a new photo if given, then save the profile."""
    profile = {key: value for key, value in profile.items() if value is not None}
    try:
        business_profile_check(profile)
    except PayloadInvalid as exc:
        raise ProfileError(exc.reason[:1].upper() + exc.reason[1:] + ".", field=exc.field.split("[")[0]) from None
    graph = graph_client_for_channel(channel)
    try:
        if photo is not None:
            content, mime_type, filename = photo
            _photo_check(content, mime_type)
            if not channel.meta_app_id:
                raise ProfileError(
                    "Uploading a photo needs the ID of the Meta app the token belongs to: add it when "
                    "reconnecting this channel by hand.",
                    field="photo",
                )
            profile["profile_picture_handle"] = graph.resumable_upload(
                app_id=channel.meta_app_id, content=content, mime_type=mime_type, filename=filename
            )
        graph.business_profile_update(channel.phone_number_id, profile)
    except graph_errors.GraphError as exc:
        reason = exc.details or exc.title or exc.plain_reason
        raise ProfileError(f"WhatsApp refused the profile change: {reason}") from None
    logger.info("business profile updated", extra={"channel_id": channel.pk, "fields": sorted(profile)})
    return business_profile_get(channel=channel)
