from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from agents_app import services
from agents_app.costs import month_usage
from agents_app.forms import AgentCreateForm, AgentSettingsForm, HttpToolForm, KnowledgeDocumentForm, KnowledgeForm
from agents_app.models import Agent, AgentRun
from agents_app.selectors import (
    agent_runs_for_conversation,
    agent_runs_recent,
    agent_whatsapp_channels,
    agents_with_channel_counts,
)
from agents_app.tools import http_tool_create, http_tool_delete
from messaging_app.bubbles import CUSTOMER, conversation_bubbles, conversation_version
from messaging_app.forms import CustomerComposeForm
from messaging_app.models import Conversation, Message
from messaging_app.services.handoff import conversation_hand_back
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required


def _agent(request, agent_id) -> Agent:
    return get_object_or_404(Agent, workspace=request.workspace, public_id=agent_id)


def _form_error(form, exc: PlatformError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@workspace_member_required("view")
def agent_list(request):
    agents = agents_with_channel_counts(workspace=request.workspace)
    return render(request, "agents/agent_list.html", {"agents": agents})


@workspace_member_required("configure")
def agent_create(request):
    form = AgentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {"name": data["name"], "provider": data["provider"], "instructions": ""}
        if data["provider"] != Agent.Provider.KNOWLEDGE_BASE:
            # A model agent is configured on its page (model, key) before it can pass validation.
            values["provider"] = Agent.Provider.KNOWLEDGE_BASE
        try:
            agent = services.agent_save(workspace=request.workspace, values=values, example=data["example"])
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            if data["provider"] != Agent.Provider.KNOWLEDGE_BASE:
                messages.info(request, "Choose the model and API key below, then save to switch the provider.")
            return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
    return render(request, "agents/agent_create.html", {"form": form}, status=400 if form.errors else 200)


def _detail(request, agent: Agent, status: int = 200, **forms):
    context = {
        "agent": agent,
        "channels": agent_whatsapp_channels(agent=agent),
        "settings_form": AgentSettingsForm(instance=agent),
        "knowledge_form": KnowledgeForm(),
        "document_form": KnowledgeDocumentForm(),
        "knowledge": agent.knowledge.all(),
        "tools": agent.http_tools.all(),
        "tool_form": HttpToolForm(),
        "runs": agent_runs_recent(agent=agent),
        "usage": month_usage(workspace=agent.workspace, agent=agent),
        "has_api_key": bool(agent.api_key),
    }
    context.update(forms)
    return render(request, "agents/agent_detail.html", context, status=status)


@workspace_member_required("view")
def agent_detail(request, agent_id):
    return _detail(request, _agent(request, agent_id))


@require_POST
@workspace_member_required("configure")
def agent_settings_update(request, agent_id):
    agent = _agent(request, agent_id)
    form = AgentSettingsForm(request.POST, instance=Agent.objects.get(pk=agent.pk))
    if form.is_valid():
        data = form.cleaned_data
        api_key = "" if data["clear_api_key"] else (data["api_key"] or None)
        try:
            services.agent_save(workspace=request.workspace, agent=form.instance, values=data, api_key=api_key)
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Agent saved.")
            return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
    return _detail(request, agent, status=400, settings_form=form)


@require_POST
@workspace_member_required("configure")
def agent_knowledge_add(request, agent_id):
    agent = _agent(request, agent_id)
    if "document" in request.FILES:
        form = KnowledgeDocumentForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["document"]
            try:
                services.knowledge_document_add(agent=agent, filename=upload.name, content=upload.read())
            except PlatformError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"'{upload.name}' added to the agent's knowledge.")
                return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
        return _detail(request, agent, status=400, document_form=form)
    form = KnowledgeForm(request.POST)
    if form.is_valid():
        try:
            services.knowledge_add(agent=agent, **form.cleaned_data)
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Answer added.")
            return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
    return _detail(request, agent, status=400, knowledge_form=form)


@require_POST
@workspace_member_required("configure")
def agent_knowledge_remove(request, agent_id, entry_id: int):
    agent = _agent(request, agent_id)
    services.knowledge_remove(agent=agent, entry_id=entry_id)
    messages.success(request, "Removed from the agent's knowledge.")
    return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)


@require_POST
@workspace_member_required("configure")
def agent_tool_add(request, agent_id):
    agent = _agent(request, agent_id)
    form = HttpToolForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            http_tool_create(
                agent=agent,
                name=data["name"],
                description=data["description"],
                method=data["method"],
                url_template=data["url_template"],
                parameters=data["parameters"] or {},
                headers=data["headers"] or None,
                timeout_seconds=data["timeout_seconds"],
            )
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Tool '{data['name']}' added.")
            return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
    return _detail(request, agent, status=400, tool_form=form)


@require_POST
@workspace_member_required("configure")
def agent_tool_remove(request, agent_id, tool_id: int):
    agent = _agent(request, agent_id)
    for tool in agent.http_tools.filter(pk=tool_id):
        http_tool_delete(tool=tool)
    messages.success(request, "Tool removed.")
    return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)


# --- The test console: chat with the agent as a customer would, and watch its turns ------------


def _test_chat_version(conversation) -> str:
    """Changes when the chat or the side pane would: messages, statuses, state, turns starting and ending."""
    runs = AgentRun.objects.filter(conversation=conversation).aggregate(n=Count("id"), done=Count("finished_at"))
    return f"{conversation_version(conversation)}.{runs['n']}.{runs['done']}.{int(_agent_busy(conversation))}"


def _agent_busy(conversation) -> bool:
    """The agent is about to answer: a turn runs, or customer messages wait out the debounce."""
    if conversation.state != Conversation.State.AGENT:
        return False
    if conversation.agent_turn_until and conversation.agent_turn_until > timezone.now():
        return True
    return conversation.messages.filter(direction=Message.Direction.INBOUND, handled_at__isnull=True).exists()


def _test_console_context(request, agent: Agent) -> dict:
    conversation = services.agent_test_conversation(agent=agent, user=request.user)
    kwargs = {"workspace_slug": request.workspace.slug, "agent_id": agent.public_id}
    return {
        "agent": agent,
        "conversation": conversation,
        "bubbles": conversation_bubbles(conversation, side=CUSTOMER),
        "chat_version": _test_chat_version(conversation),
        "agent_busy": _agent_busy(conversation),
        "runs": agent_runs_for_conversation(conversation=conversation),
        "can_send": True,
        "urls": {
            name: reverse(f"agent_test_{name}", kwargs=kwargs)
            for name in ("console", "chat", "send", "tap", "reset", "hand_back")
        },
    }


@require_GET
@workspace_member_required("reply")
def agent_test_console(request, agent_id):
    agent = _agent(request, agent_id)
    context = _test_console_context(request, agent)
    context["compose_form"] = CustomerComposeForm()
    return render(request, "agents/test_console.html", context)


@require_GET
@workspace_member_required("reply")
def agent_test_chat(request, agent_id):
    """The transcript and the runs, polled; 204 while nothing changed."""
    agent = _agent(request, agent_id)
    conversation = services.agent_test_conversation(agent=agent, user=request.user)
    if request.GET.get("v") and request.GET["v"] == _test_chat_version(conversation):
        return HttpResponse(status=204)
    return render(request, "agents/_test_chat.html", _test_console_context(request, agent))


def _test_answer(request, agent: Agent, *, form=None, error: str = "") -> HttpResponse:
    """htmx gets the composer (fresh, or with its errors) and a nudge to refresh the chat."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("agent_test_console", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
    context = _test_console_context(request, agent)
    context["compose_form"] = form or CustomerComposeForm()
    context["error"] = error
    response = render(request, "agents/_test_composer.html", context, status=400 if error or form else 200)
    response["HX-Trigger"] = "test-chat-changed"
    return response


@require_POST
@workspace_member_required("reply")
def agent_test_send(request, agent_id):
    agent = _agent(request, agent_id)
    form = CustomerComposeForm(request.POST, request.FILES)
    if not form.is_valid():
        return _test_answer(request, agent, form=form, error=" ".join(_form_messages(form)))
    data = form.cleaned_data
    try:
        if data.get("media_type"):
            kind = data["media_type"]
            content = {"voice": True} if kind == "audio" and data.get("voice") else {}
            if data["body"] and kind in ("image", "video", "document"):
                content["caption"] = data["body"]
            services.agent_test_message_send(
                agent=agent,
                user=request.user,
                message_type=kind,
                content=content,
                file=(data["data"], data["filename"], data["mime_type"]),
            )
            if data["body"] and "caption" not in content:
                services.agent_test_message_send(
                    agent=agent, user=request.user, message_type="text", content={"body": data["body"]}
                )
        else:
            services.agent_test_message_send(
                agent=agent, user=request.user, message_type="text", content={"body": data["body"]}
            )
    except PlatformError as exc:
        return _test_answer(request, agent, form=form, error=exc.message)
    return _test_answer(request, agent)


def _form_messages(form) -> list[str]:
    return [str(error) for errors in form.errors.values() for error in errors]


@require_POST
@workspace_member_required("reply")
def agent_test_tap(request, agent_id):
    agent = _agent(request, agent_id)
    try:
        services.agent_test_tap(
            agent=agent, user=request.user, wamid=request.POST.get("wamid", ""), choice=request.POST.get("choice", "")
        )
    except PlatformError as exc:
        return _test_answer(request, agent, error=exc.message)
    return _test_answer(request, agent)


@require_POST
@workspace_member_required("reply")
def agent_test_reset(request, agent_id):
    agent = _agent(request, agent_id)
    try:
        services.agent_test_conversation_reset(agent=agent, user=request.user)
    except PlatformError as exc:
        messages.error(request, exc.message)
    return redirect("agent_test_console", workspace_slug=request.workspace.slug, agent_id=agent.public_id)


@require_POST
@workspace_member_required("reply")
def agent_test_hand_back(request, agent_id):
    agent = _agent(request, agent_id)
    conversation_hand_back(conversation=services.agent_test_conversation(agent=agent, user=request.user))
    messages.success(request, "Handed back: the agent answers your next message.")
    return redirect("agent_test_console", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
