"""Message templates as Meta reports them (status, category and quality webhooks)."""

from django.db import transaction

from channels_app.models import MessageTemplate


@transaction.atomic
def template_event_apply(*, workspace_id: int, waba_id: str, field: str, value: dict) -> MessageTemplate | None:
    """Apply a template status, category or quality webhook to the stored template."""
    meta_id = str(value.get("message_template_id") or "")
    name = value.get("message_template_name") or ""
    language = value.get("message_template_language") or ""
    template = (
        MessageTemplate.objects.select_for_update(no_key=True).filter(waba_id=waba_id, meta_id=meta_id).first()
        if meta_id
        else None
    )
    if template is None and name and language:
        template, _ = MessageTemplate.objects.select_for_update(no_key=True).get_or_create(
            waba_id=waba_id, name=name, language=language, defaults={"workspace_id": workspace_id, "meta_id": meta_id}
        )
    if template is None:
        return None
    if field == "message_template_status_update":
        template.status = str(value.get("event") or template.status)
        rejection = value.get("rejection_info") or {}
        template.rejection_reason = rejection.get("reason") or (value.get("reason") or "")
        template.recommendation = rejection.get("recommendation") or ""
        if value.get("message_template_category"):
            template.category = value["message_template_category"]
    elif field == "template_category_update":
        if "previous_category" in value:  # completed change; the impending notice only warns
            template.category = value.get("new_category") or template.category
    elif field == "message_template_quality_update":
        template.quality = value.get("new_quality_score") or template.quality
    template.meta_id = template.meta_id or meta_id
    template.save()
    return template
