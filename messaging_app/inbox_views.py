"""The inbox: conversations waiting for people first, each one as a live chat staff can take over."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from agents_app.selectors import agent_runs_for_conversation
from messaging_app.bubbles import STAFF, conversation_bubbles, conversation_version
from messaging_app.forms import InboxFilterForm, StaffComposeForm
from messaging_app.models import Conversation
from messaging_app.selectors import conversation_window_closes_at, inbox_page, inbox_version
from messaging_app.services import conversations as conversation_services
from messaging_app.services.handoff import conversation_hand_back
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required
from workspaces_app.selectors import member_can

PAGE_SIZE = 50


def _filters(request) -> InboxFilterForm:
    form = InboxFilterForm(request.GET or None, workspace=request.workspace, user=request.user)
    form.is_valid()
    return form


def _inbox_context(request) -> dict:
    form = _filters(request)
    number = request.GET.get("page", "1")
    page = inbox_page(
        workspace=request.workspace,
        user=request.user,
        page=int(number) if number.isdigit() else 1,
        size=PAGE_SIZE,
        **form.filters(),
    )
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("v", None)
    return {
        "filter_form": form,
        "page": page,
        "query": query.urlencode(),
        "inbox_version": inbox_version(workspace=request.workspace),
    }


@require_GET
@workspace_member_required("view")
def inbox(request):
    return render(request, "messaging/inbox.html", _inbox_context(request))


@require_GET
@workspace_member_required("view")
def inbox_list(request):
    """The list partial htmx polls; 204 while nothing in the workspace's conversations changed."""
    if request.GET.get("v") and request.GET["v"] == inbox_version(workspace=request.workspace):
        return HttpResponse(status=204)
    return render(request, "messaging/_inbox_list.html", _inbox_context(request))


def _conversation(request, conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.exclude(channel__provider="test_console")
        .select_related("contact", "channel", "assigned_agent", "assigned_user", "workspace")
        .filter(workspace=request.workspace, pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation in this workspace.")
    return conversation


def _conversation_context(request, conversation: Conversation, **extra) -> dict:
    slug = request.workspace.slug
    urls = {
        name: reverse(f"conversation_{name}", kwargs={"workspace_slug": slug, "conversation_id": conversation.pk})
        for name in ("detail", "chat", "reply", "action", "runs", "composer")
    }
    reply_to = None
    reply_to_wamid = request.GET.get("reply_to", "")
    if reply_to_wamid:
        reply_to = conversation.messages.filter(wamid=reply_to_wamid).first()
    return {
        "conversation": conversation,
        "contact": conversation.contact,
        "bubbles": conversation_bubbles(conversation, side=STAFF),
        "chat_version": conversation_version(conversation),
        "window_closes_at": conversation_window_closes_at(conversation=conversation),
        "members": request.workspace.memberships.select_related("user").order_by("user__email"),
        "can_send": member_can(membership=request.membership, permission="reply"),
        "reply_to": reply_to,
        "compose_form": extra.pop("compose_form", None) or StaffComposeForm(),
        "urls": urls,
        "now": timezone.now(),
        **extra,
    }


@require_GET
@workspace_member_required("view")
def conversation_detail(request, conversation_id: int):
    conversation = _conversation(request, conversation_id)
    conversation_services.conversation_seen(conversation=conversation)
    context = _conversation_context(request, conversation)
    context.update(_inbox_context(request))
    return render(request, "messaging/conversation.html", context)


@require_GET
@workspace_member_required("view")
def conversation_chat(request, conversation_id: int):
    """The transcript and header, polled; 204 while the conversation is unchanged."""
    conversation = _conversation(request, conversation_id)
    if request.GET.get("v") and request.GET["v"] == conversation_version(conversation):
        return HttpResponse(status=204)
    conversation_services.conversation_seen(conversation=conversation)
    return render(request, "messaging/_conversation_chat.html", _conversation_context(request, conversation))


@require_GET
@workspace_member_required("reply")
def conversation_composer(request, conversation_id: int):
    """The composer, replying to a message when `?reply_to=<wamid>`."""
    conversation = _conversation(request, conversation_id)
    return render(request, "messaging/_composer.html", _conversation_context(request, conversation))


@require_GET
@workspace_member_required("view")
def conversation_runs(request, conversation_id: int):
    """The agent's turns in this conversation, on demand."""
    conversation = _conversation(request, conversation_id)
    runs = agent_runs_for_conversation(conversation=conversation, limit=50)
    return render(request, "messaging/_conversation_runs.html", {"runs": runs, "conversation": conversation})


def _after_post(request, conversation: Conversation, *, error: str = "", form=None) -> HttpResponse:
    if request.htmx:
        context = _conversation_context(request, conversation, compose_form=form, error=error)
        response = render(request, "messaging/_composer.html", context, status=400 if error else 200)
        response["HX-Trigger"] = "conversation-changed"
        return response
    if error:
        messages.error(request, error)
    return redirect("conversation_detail", workspace_slug=request.workspace.slug, conversation_id=conversation.pk)


@require_POST
@workspace_member_required("reply")
def conversation_reply(request, conversation_id: int):
    """A teammate's message: text (maybe with quick-reply buttons), or a file with a caption, maybe as a reply."""
    conversation = _conversation(request, conversation_id)
    form = StaffComposeForm(request.POST, request.FILES)
    if not form.is_valid():
        return _after_post(request, conversation, error=" ".join(form.error_messages()), form=form)
    reply_to = None
    if form.cleaned_data.get("reply_to"):
        reply_to = conversation.messages.filter(pk=form.cleaned_data["reply_to"]).first()
        if reply_to is None:
            return _after_post(request, conversation, error="The message you reply to is not in this conversation.")
    try:
        conversation_services.conversation_reply(
            conversation=conversation, user=request.user, reply_to=reply_to, **form.message()
        )
    except PlatformError as exc:
        return _after_post(request, conversation, error=exc.message, form=form)
    return _after_post(request, conversation)


@require_POST
@workspace_member_required("reply")
def conversation_action(request, conversation_id: int):
    """Take over, hand back to the agent, assign, close."""
    conversation = _conversation(request, conversation_id)
    action = request.POST.get("action", "")
    try:
        if action == "take_over":
            conversation_services.conversation_take_over(conversation=conversation, user=request.user)
            messages.success(request, "You have the conversation: the agent is paused.")
        elif action == "hand_back":
            if conversation.channel.agent_id is None and conversation.assigned_agent_id is None:
                raise PlatformError("This channel has no agent to hand back to: assign one on the channel's page.")
            conversation_hand_back(conversation=conversation)
            messages.success(request, "Handed back: the agent answers the customer's next message.")
        elif action == "assign":
            assignee = _member_user(request, request.POST.get("assignee", ""))
            conversation_services.conversation_assign(conversation=conversation, user=assignee)
            messages.success(request, f"Assigned to {assignee.email}." if assignee else "Unassigned.")
        elif action == "close":
            conversation_services.conversation_close(conversation=conversation, user=request.user)
            messages.success(request, "Closed. The customer's next message reopens it.")
        else:
            raise PlatformError("Unknown action: choose take over, hand back, assign or close.")
    except PlatformError as exc:
        messages.error(request, exc.message)
    return redirect("conversation_detail", workspace_slug=request.workspace.slug, conversation_id=conversation.pk)


def _member_user(request, user_id: str):
    if not user_id:
        return None
    memberships = request.workspace.memberships.select_related("user")
    membership = memberships.filter(user_id=user_id).first() if user_id.isdigit() else None
    if membership is None:
        raise PlatformError("Choose a member of this workspace.")
    return membership.user
