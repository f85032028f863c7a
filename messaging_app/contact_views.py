"""Contacts: find a customer, see what the business knows of them and every conversation, and change
their tags, attributes, marketing consent and block."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from messaging_app import selectors
from messaging_app.contact_forms import ContactAttributeForm, ContactFilterForm, ContactTagsForm
from messaging_app.models import Contact
from messaging_app.services import contact_admin, privacy
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can

PAGE_SIZE = 50


def _contact(request, contact_id: int) -> Contact:
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact in this workspace.")
    return contact


def _back(request, contact: Contact):
    return redirect("contact_detail", request.workspace.slug, contact.pk)


@require_GET
@workspace_member_required("view")
def contact_list(request):
    form = ContactFilterForm(request.GET or None, workspace=request.workspace)
    contacts = selectors.contacts_search(workspace=request.workspace, **form.filters())
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "contacts/contact_list.html", {"form": form, "page": page, "query": query.urlencode()})


@require_GET
@workspace_member_required("view")
def contact_detail(request, contact_id: int):
    contact = _contact(request, contact_id)
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "conversations": selectors.contact_conversations(contact=contact),
            "attributes": sorted((contact.attributes or {}).items()),
            "tags_form": ContactTagsForm(),
            "attribute_form": ContactAttributeForm(),
            "erased": privacy.contact_is_erased(contact),
            "can_erase": member_can(membership=request.membership, permission="govern"),
        },
    )


@require_POST
@workspace_member_required("reply")
def contact_tags_update(request, contact_id: int):
    contact = _contact(request, contact_id)
    remove = request.POST.get("remove", "")
    try:
        if remove:
            contact_admin.contact_update(contact=contact, remove_tags=[remove], by=f"user:{request.user.pk}")
            messages.success(request, f"Tag “{remove}” removed.")
        else:
            form = ContactTagsForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Type one or more tags, separated by commas.")
                return _back(request, contact)
            contact_admin.contact_update(
                contact=contact, add_tags=form.cleaned_data["tags"], by=f"user:{request.user.pk}"
            )
            messages.success(request, "Tags saved.")
    except PlatformError as exc:
        messages.error(request, exc.message)
    return _back(request, contact)


@require_POST
@workspace_member_required("reply")
def contact_attributes_update(request, contact_id: int):
    contact = _contact(request, contact_id)
    remove = request.POST.get("remove", "")
    if remove:
        changes = {remove: None}
    else:
        form = ContactAttributeForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give the attribute a name (letters, digits and _) and a value.")
            return _back(request, contact)
        changes = {form.cleaned_data["key"].strip(): form.cleaned_data["value"]}
    try:
        contact_admin.contact_update(contact=contact, attributes=changes, by=f"user:{request.user.pk}")
    except PlatformError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Attribute removed." if remove else "Attribute saved.")
    return _back(request, contact)


@require_POST
@workspace_member_required("reply")
def contact_marketing_update(request, contact_id: int):
    contact = _contact(request, contact_id)
    opted_out = request.POST.get("marketing") == "opt_out"
    if contact_admin.contact_marketing_set(contact=contact, opted_out=opted_out):
        messages.success(
            request,
            "Marked as opted out of marketing (by staff)." if opted_out else "Marked as receiving marketing again.",
        )
    else:
        messages.info(request, "Nothing changed: that was already the contact's marketing status.")
    return _back(request, contact)


@require_POST
@workspace_member_required("reply")
def contact_block_update(request, contact_id: int):
    contact = _contact(request, contact_id)
    if request.POST.get("action") == "unblock":
        contact_admin.contact_unblock(contact=contact, by=f"user:{request.user.pk}")
        messages.success(request, f"{contact} is unblocked: the agent answers them again and you can write to them.")
    else:
        contact_admin.contact_block(contact=contact, by=f"user:{request.user.pk}")
        messages.success(request, f"{contact} is blocked: no agent replies and no messages are sent to them.")
    return _back(request, contact)


@require_GET
@workspace_member_required("configure")
def contact_export(request, contact_id: int):
    """Everything stored about the contact, as a JSON download."""
    contact = _contact(request, contact_id)
    document = selectors.contact_export_document(contact=contact)
    privacy.contact_export_audit(contact=contact, document=document, request=request, form="json")
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    return response


@require_GET
@workspace_member_required("configure")
def contact_archive(request, contact_id: int):
    """Everything stored about the contact with its media files, as a zip (a person's access request)."""
    contact = _contact(request, contact_id)
    archive = privacy.contact_export_archive(contact=contact, request=request)
    return FileResponse(
        archive, as_attachment=True, filename=privacy.contact_export_filename(contact), content_type="application/zip"
    )


@require_http_methods(["GET", "POST"])
@workspace_member_required("view")
def contact_erase(request, contact_id: int):
    """Owners only: a page that says what erasing removes, then erasure once the contact's number is typed."""
    contact = _contact(request, contact_id)
    if not member_can(membership=request.membership, permission="govern"):
        raise PermissionDenied("Only the workspace's owners can erase a contact.")
    error, status = "", 200
    if request.method == "POST":
        if privacy.contact_is_erased(contact):
            messages.info(request, "This contact was already erased.")
            return _back(request, contact)
        if privacy.contact_erase_confirmation_matches(contact, request.POST.get("confirm", "")):
            try:
                counts = privacy.contact_erase(contact=contact, request=request)
            except PlatformError as exc:
                error, status = exc.message, exc.http_status
            else:
                messages.success(
                    request,
                    f"Contact erased: {counts['messages']} message(s), {counts['media_files']} file(s), "
                    f"{counts['agent_runs']} agent run(s) and {counts['webhook_bodies']} webhook body(ies) cleared.",
                )
                return _back(request, contact)
        else:
            error, status = "Type the contact's phone number (or its id) exactly to confirm.", 400
    return render(
        request,
        "contacts/contact_erase.html",
        {"contact": contact, "erased": privacy.contact_is_erased(contact), "error": error},
        status=status,
    )
