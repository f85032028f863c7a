"""A template's parameter values for one contact, and the template message built from them.

Values are literal text, or hold "{contact.name}", "{contact.phone}" or "{contact.<attribute>}",
filled from the contact. Per-recipient values (a CSV row's columns) win over the defaults.
Building components and previews is channels_app.whatsapp.template_rules' job; nothing here
knows Meta's component format.
"""

import re

from channels_app.models import MessageTemplate
from channels_app.whatsapp.template_rules import (
    TemplateParametersInvalid,
    template_components_build,
    template_placeholders,
    template_preview,
)
from messaging_app.models import Contact
from whatsapp_platform.errors import InvalidInput

_CONTACT_FIELD = re.compile(r"\{contact\.([A-Za-z_][\w-]*)\}")


def parameter_key(name: str) -> str:
    """A CSV header or form key as a parameter name: "{{first_name}}" and " first_name " are "first_name"."""
    return name.strip().strip("{}").strip()


def contact_field_value(contact: Contact | None, field: str) -> str:
    if contact is None:
        return ""
    if field == "name":
        return contact.profile_name or contact.username or ""
    if field == "phone":
        return contact.phone_display
    value = (contact.attributes or {}).get(field)
    return "" if value is None else str(value)


def values_for_contact(*, defaults: dict, overrides: dict | None, contact: Contact | None) -> dict[str, str]:
    """The values for one recipient: defaults with contact fields filled, then the recipient's own values."""
    values = {}
    for name, value in (defaults or {}).items():
        values[parameter_key(str(name))] = _CONTACT_FIELD.sub(
            lambda m: contact_field_value(contact, m.group(1)), str(value)
        )
    for name, value in (overrides or {}).items():
        if value is not None and str(value) != "":
            values[parameter_key(str(name))] = str(value)
    return values


def template_keys(template: MessageTemplate) -> list[str]:
    """The value keys this template takes: "1", "first_name", "header.1", "button.0"..."""
    return [p.key for p in template_placeholders(template.components, template.parameter_format)]


def template_message_content(*, template: MessageTemplate, values: dict[str, str], header_media_link: str = "") -> dict:
    """Meta's `template` object for these values (name, language, built components).

    Values for keys the template does not take are left out (a CSV may carry other columns);
    a missing value raises InvalidInput naming it.
    """
    keys = set(template_keys(template))
    header_media = {"link": header_media_link} if header_media_link else None
    try:
        components = template_components_build(
            template.components,
            template.parameter_format,
            {k: v for k, v in values.items() if k in keys},
            header_media,
        )
    except TemplateParametersInvalid as exc:
        raise InvalidInput(exc.message, field=exc.field) from None
    content: dict = {"name": template.name, "language": {"code": template.language}}
    if components:
        content["components"] = components
    return content


def template_rendered(*, template: MessageTemplate, values: dict[str, str]) -> dict:
    """What the customer sees: {header_format, header, body, footer, buttons}."""
    return template_preview(template.components, values)
