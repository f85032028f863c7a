from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agents_app import services
from agents_app.forms import AgentCreateForm, AgentSettingsForm, HttpToolForm, KnowledgeDocumentForm, KnowledgeForm
from agents_app.models import Agent
from agents_app.selectors import agent_runs_recent, agents_list
from whatsapp_platform.errors import PlatformError
from workspaces_app.decorators import workspace_member_required


def _agent(request, agent_id) -> Agent:
    return get_object_or_404(Agent, workspace=request.workspace, public_id=agent_id)


def _form_error(form, exc: PlatformError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@workspace_member_required("view")
def agent_list(request):
    return render(request, "agents/agent_list.html", {"agents": agents_list(workspace=request.workspace)})


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
        "settings_form": AgentSettingsForm(instance=agent),
        "knowledge_form": KnowledgeForm(),
        "document_form": KnowledgeDocumentForm(),
        "knowledge": agent.knowledge.all(),
        "tools": agent.http_tools.all(),
        "tool_form": HttpToolForm(),
        "runs": agent_runs_recent(agent=agent),
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
    from agents_app.tools import http_tool_create

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
    agent.http_tools.filter(pk=tool_id).delete()
    messages.success(request, "Tool removed.")
    return redirect("agent_detail", workspace_slug=request.workspace.slug, agent_id=agent.public_id)
