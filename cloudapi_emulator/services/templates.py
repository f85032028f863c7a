"""Message templates: create (validated like Meta), review after a delay, list, delete (reference §7).

Creation errors use code 100 with Meta's 2388xxx `error_subcode` where one is documented:
2388019 too many templates, 2388024 name and language exist, 2388040 text too long,
2388047 component format, 2388293 too many variables for the text, 2388299 variables at
the start or end of the text, or next to each other.
"""

import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from cloudapi_emulator import clock, conf, ids
from cloudapi_emulator.dispatcher import deferred_handler_register
from cloudapi_emulator.errors import GraphError
from cloudapi_emulator.models import Template, WebhookDelivery
from cloudapi_emulator.services.webhooks import review_enqueue, waba_webhook_enqueue

VARIABLE = re.compile(r"\{\{\s*([^{}\s]*)\s*\}\}")
NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
CATEGORIES = {"AUTHENTICATION", "MARKETING", "UTILITY"}
HEADER_FORMATS = {"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}
MAX_TEMPLATES_PER_WABA = 250


def template_variables(text: str) -> list[str]:
    """Distinct variable names (`1`, `first_name`…) in order of first appearance."""
    seen: list[str] = []
    for name in VARIABLE.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def _component(components: list[dict], kind: str) -> dict | None:
    return next((c for c in components if str(c.get("type", "")).upper() == kind), None)


def template_expected_parameters(template: Template) -> dict[str, Any]:
    """What a send must supply: header/body variable names, media header format, URL buttons needing a suffix."""
    header = _component(template.components, "HEADER")
    body = _component(template.components, "BODY")
    buttons = _component(template.components, "BUTTONS")
    header_format = str(header.get("format", "TEXT")).upper() if header else None
    url_buttons = [
        index
        for index, button in enumerate((buttons or {}).get("buttons", []))
        if str(button.get("type", "")).upper() == "URL" and VARIABLE.search(button.get("url", ""))
    ]
    return {
        "header_format": header_format,
        "header": template_variables(header.get("text", "")) if header and header_format == "TEXT" else [],
        "body": template_variables(body.get("text", "")) if body else [],
        "url_buttons": url_buttons,
    }


def _fail(details: str, subcode: int | None = None, user_title: str = "") -> GraphError:
    return GraphError(100, details, subcode=subcode, user_title=user_title, user_msg=details if subcode else "")


def _check_text(text: Any, *, where: str, limit: int, named: bool) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        raise _fail(f"The {where} component needs a text.", 2388047, "Component format is not valid")
    if len(text) > limit:
        raise _fail(f"The {where} text is longer than {limit} characters.", 2388040, "Character limit exceeded")
    variables = template_variables(text)
    if not variables:
        return []
    stripped = text.strip()
    if stripped.startswith("{{") or stripped.endswith("}}"):
        raise _fail(
            f"Variables can't be at the start or end of the {where} text.",
            2388299,
            "Variables can't be at the start or end of the template",
        )
    if re.search(r"\}\}\s*\{\{", text):
        raise _fail(f"Variables in the {where} text can't be next to each other.", 2388299, "Adjacent variables")
    for name in variables:
        if named and not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _fail(f"Named parameter {{{{{name}}}}} must use lowercase letters, digits and underscores.")
        if not named and not name.isdigit():
            raise _fail(f"Positional parameter {{{{{name}}}}} must be a number; set parameter_format to named.")
    if not named and [int(n) for n in variables] != list(range(1, len(variables) + 1)):
        raise _fail(f"Variables in the {where} text must be {{{{1}}}}, {{{{2}}}}… in order.")
    static = re.sub(r"[\W_]+", "", VARIABLE.sub("", text))
    if len(static) < 3 * len(variables):
        raise _fail(
            f"The {where} text has too many variables for its length.",
            2388293,
            "Too many variables for the length of the text",
        )
    return variables


def _check_examples(example: Any, *, kind: str, variables: list[str], named: bool) -> None:
    """Meta refuses a template unless every variable has an example value."""
    if not variables:
        return
    example = example if isinstance(example, dict) else {}
    if named:
        key = f"{kind}_text_named_params"
        given = {p.get("param_name") for p in example.get(key, []) if isinstance(p, dict) and p.get("example")}
        ok = set(variables) <= given
    elif kind == "body":
        rows = example.get("body_text") or []
        ok = bool(rows) and isinstance(rows[0], list) and len(rows[0]) >= len(variables)
    else:
        ok = len(example.get("header_text") or []) >= len(variables)
    if not ok:
        raise _fail(f"Example values are required for every {kind} parameter (example.{kind}_text…).")


def _check_buttons(component: dict) -> None:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise _fail("The BUTTONS component needs a list of buttons.", 2388047, "Component format is not valid")
    kinds = [str(b.get("type", "")).upper() for b in buttons if isinstance(b, dict)]
    if len(kinds) != len(buttons):
        raise _fail("Each button is an object.")
    limits = {"QUICK_REPLY": 10, "URL": 2, "PHONE_NUMBER": 1}
    if len(buttons) > 10:
        raise _fail("A template has at most 10 buttons.")
    for kind, most in limits.items():
        if kinds.count(kind) > most:
            raise _fail(f"A template has at most {most} {kind} button(s).")
    for button, kind in zip(buttons, kinds, strict=True):
        if kind not in {*limits, "COPY_CODE", "OTP", "FLOW", "CATALOG", "MPM", "VOICE_CALL"}:
            raise _fail(f"Unknown button type {kind}.")
        text = button.get("text", "")
        if kind not in {"OTP", "COPY_CODE", "CATALOG", "MPM"} and (not isinstance(text, str) or not text.strip()):
            raise _fail(f"A {kind} button needs a text.")
        if isinstance(text, str) and len(text) > 25:
            raise _fail("Button text is at most 25 characters.", 2388040, "Character limit exceeded")
        if kind == "URL":
            url = button.get("url", "")
            if not isinstance(url, str) or not re.match(r"^https?://", url) or len(url) > 2000:
                raise _fail("A URL button needs an http(s) url of at most 2000 characters.")
            if VARIABLE.search(url) and not button.get("example"):
                raise _fail("Example values are required for a URL button with a variable.")
        if kind == "PHONE_NUMBER" and not button.get("phone_number"):
            raise _fail("A PHONE_NUMBER button needs a phone_number.")


def template_definition_validate(body: dict[str, Any]) -> dict[str, Any]:
    """The normalised definition, or GraphError as Meta answers a bad `POST /<waba_id>/message_templates`."""
    name, language, category = body.get("name"), body.get("language"), body.get("category")
    for key, value in (("name", name), ("language", language), ("category", category)):
        if value in (None, ""):
            raise GraphError(100, f"The parameter {key} is required.")
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail("Template name can only have lowercase letters, numbers and underscores (at most 512).")
    if not isinstance(language, str) or not LANGUAGE.match(language):
        raise _fail(f"Invalid language code {language!r}.")
    if not isinstance(category, str) or category.upper() not in CATEGORIES:
        raise _fail("category must be one of AUTHENTICATION, MARKETING, UTILITY.")
    parameter_format = str(body.get("parameter_format") or "positional").upper()
    if parameter_format not in {"POSITIONAL", "NAMED"}:
        raise _fail("parameter_format must be positional or named.")
    named = parameter_format == "NAMED"
    components = body.get("components")
    if not isinstance(components, list) or not components or not all(isinstance(c, dict) for c in components):
        raise GraphError(100, "The parameter components is required (a list of objects).")
    normalised = []
    seen_types = set()
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind not in {"HEADER", "BODY", "FOOTER", "BUTTONS"}:
            raise _fail(f"Unknown component type {component.get('type')!r}.", 2388047, "Component format is not valid")
        if kind in seen_types:
            raise _fail(f"Only one {kind} component is allowed.", 2388047, "Component format is not valid")
        seen_types.add(kind)
        item = {**component, "type": kind}
        if kind == "HEADER":
            header_format = str(component.get("format", "")).upper()
            if header_format not in HEADER_FORMATS:
                raise _fail("HEADER format must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION.", 2388047)
            item["format"] = header_format
            if header_format == "TEXT":
                variables = _check_text(component.get("text"), where="header", limit=60, named=named)
                if len(variables) > 1:
                    raise _fail("A header has at most one variable.", 2388047, "Component format is not valid")
                _check_examples(component.get("example"), kind="header", variables=variables, named=named)
            elif header_format != "LOCATION" and not (component.get("example") or {}).get("header_handle"):
                raise _fail("A media header needs example.header_handle.")
        elif kind == "BODY":
            variables = _check_text(component.get("text"), where="body", limit=1024, named=named)
            _check_examples(component.get("example"), kind="body", variables=variables, named=named)
        elif kind == "FOOTER":
            text = component.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _fail("The footer component needs a text.", 2388047)
            if len(text) > 60:
                raise _fail("The footer text is longer than 60 characters.", 2388040, "Character limit exceeded")
            if VARIABLE.search(text):
                raise _fail("A footer cannot have variables.", 2388047, "Component format is not valid")
        else:
            _check_buttons(component)
        normalised.append(item)
    if "BODY" not in seen_types:
        raise _fail("A template needs a BODY component.", 2388047, "Component format is not valid")
    return {
        "name": name,
        "language": language,
        "category": category.upper(),
        "parameter_format": parameter_format,
        "components": normalised,
    }


@transaction.atomic
def template_create(*, waba_id: str, body: dict[str, Any]) -> Template:
    """Validate and store as PENDING; the review (APPROVED, or REJECTED for names with "reject") comes later."""
    definition = template_definition_validate(body)
    live = Template.objects.filter(waba_id=waba_id).exclude(status=Template.Status.DELETED)
    if live.count() >= MAX_TEMPLATES_PER_WABA:
        raise _fail("This WhatsApp Business Account has reached its template limit.", 2388019, "Too many templates")
    if live.filter(name=definition["name"], language=definition["language"]).exists():
        raise _fail(
            f"Content in {definition['language']} already exists for {definition['name']}.",
            2388024,
            "Content in this language already exists",
        )
    template = Template.objects.create(
        template_id=ids.numeric_id(16), waba_id=waba_id, created_at=clock.now(), **definition
    )
    review_enqueue(template_pk=template.pk, due_at=clock.now() + timedelta(seconds=conf.get("TEMPLATE_REVIEW_SECONDS")))
    return template


def template_add(
    *,
    waba_id: str,
    name: str,
    language: str = "en_US",
    category: str = "UTILITY",
    components: list[dict] | None = None,
    parameter_format: str = "positional",
    status: str = Template.Status.APPROVED,
) -> Template:
    """Seed a template directly (no review, no checks): for tests and demo data."""
    return Template.objects.create(
        template_id=ids.numeric_id(16),
        waba_id=waba_id,
        name=name,
        language=language,
        category=category.upper(),
        parameter_format=parameter_format.upper(),
        components=components or [{"type": "BODY", "text": "Hello from the emulator."}],
        status=status,
        created_at=clock.now(),
    )


def _status_value(template: Template, event: str) -> dict[str, Any]:
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(template.template_id),
        "message_template_name": template.name,
        "message_template_language": template.language,
        "reason": template.rejected_reason or "NONE",
        "message_template_category": template.category,
    }
    if event == "REJECTED":
        value["rejection_info"] = {
            "reason": "The template was rejected by the emulator because its name contains 'reject'.",
            "recommendation": "Rename the template to have it approved.",
        }
    return value


@transaction.atomic
def template_review_decide(*, template: Template) -> Template:
    """End the review of a PENDING template and announce it with `message_template_status_update`."""
    rows = Template.objects.filter(pk=template.pk, status=Template.Status.PENDING)
    rejected = "reject" in template.name
    status = Template.Status.REJECTED if rejected else Template.Status.APPROVED
    if rows.update(status=status, rejected_reason="INVALID_FORMAT" if rejected else "") != 1:
        return template  # deleted or decided meanwhile
    template.refresh_from_db()
    waba_webhook_enqueue(
        waba_id=template.waba_id, field="message_template_status_update", value=_status_value(template, status)
    )
    return template


def _review_end(body: str) -> None:
    template_review_decide(template=Template.objects.get(pk=int(body)))


deferred_handler_register(WebhookDelivery.Kind.TEMPLATE_REVIEW, _review_end)


def templates_for(*, waba_id: str, name: str = "", status: str = "", category: str = "", language: str = ""):
    templates: QuerySet[Template] = Template.objects.filter(waba_id=waba_id).exclude(status=Template.Status.DELETED)
    if name:
        templates = templates.filter(name=name)
    if status:
        templates = templates.filter(status__in=[s.strip().upper() for s in status.split(",")])
    if category:
        templates = templates.filter(category__in=[c.strip().upper() for c in category.split(",")])
    if language:
        templates = templates.filter(language=language)
    return templates.order_by("id")


def template_as_graph(template: Template) -> dict[str, Any]:
    return {
        "name": template.name,
        "parameter_format": template.parameter_format,
        "components": template.components,
        "language": template.language,
        "status": template.status,
        "category": template.category,
        "id": template.template_id,
    }


@transaction.atomic
def template_delete(*, waba_id: str, name: str, hsm_id: str = "") -> int:
    """Delete every language of `name`, or only template `hsm_id`; GraphError 100 when none matches."""
    templates = templates_for(waba_id=waba_id, name=name)
    if hsm_id:
        templates = templates.filter(template_id=hsm_id)
    doomed = list(templates)
    if not doomed:
        raise GraphError(100, f"Message template {name!r} was not found.", subcode=2593002)
    if any(t.status == Template.Status.DISABLED for t in doomed):
        raise GraphError(100, "Disabled templates cannot be deleted.")
    Template.objects.filter(pk__in=[t.pk for t in doomed]).update(status=Template.Status.DELETED)
    for template in doomed:
        template.status = Template.Status.DELETED
        waba_webhook_enqueue(
            waba_id=waba_id, field="message_template_status_update", value=_status_value(template, "DELETED")
        )
    return len(doomed)
