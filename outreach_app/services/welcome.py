"""The welcome template a channel sends on a contact's first message (sent from consent.py's hook)."""

from channels_app.models import Channel
from channels_app.selectors import templates_approved
from outreach_app.models import WelcomeTemplate
from whatsapp_platform.errors import InvalidInput


def welcome_template_set(
    *, channel: Channel, template_name: str, language: str, parameter_values: dict | None = None, enabled: bool = True
) -> WelcomeTemplate | None:
    """Choose the channel's welcome template; an empty name removes it."""
    if not template_name:
        WelcomeTemplate.objects.filter(channel=channel).delete()
        return None
    template = templates_approved(channel=channel).filter(name=template_name, language=language).first()
    if template is None:
        raise InvalidInput(f"No approved template {template_name!r} in {language!r} on this channel.", field="template")
    welcome, _ = WelcomeTemplate.objects.update_or_create(
        channel=channel,
        defaults={
            "template": template,
            "parameter_values": {str(k): str(v) for k, v in (parameter_values or {}).items()},
            "enabled": enabled,
        },
    )
    return welcome
