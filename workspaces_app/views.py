from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents_app.selectors import agents_list
from channels_app.selectors import channels_list
from whatsapp_platform.errors import PlatformError
from workspaces_app import selectors, services
from workspaces_app.adapters import INVITATION_SESSION_KEY
from workspaces_app.decorators import workspace_member_required
from workspaces_app.forms import ApiKeyForm, InvitationForm, MembershipRoleForm, RetentionForm, WorkspaceSettingsForm
from workspaces_app.models import Invitation, Membership, User


def _form_error(form, exc: PlatformError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
def console_home(request):
    workspace = selectors.workspaces_for_user(user=request.user).first()
    if workspace is None:
        return render(request, "workspaces/no_workspace.html")
    return redirect("workspace_overview", workspace_slug=workspace.slug)


@workspace_member_required("view")
def workspace_overview(request):
    workspace = request.workspace
    return render(
        request,
        "workspaces/overview.html",
        {
            "channels": channels_list(workspace=workspace),
            "agents": agents_list(workspace=workspace),
            "members_count": workspace.memberships.count(),
        },
    )


def _settings_form(request, data=None) -> WorkspaceSettingsForm:
    workspace = request.workspace
    form = WorkspaceSettingsForm(
        data,
        initial={
            "name": workspace.name,
            "require_mfa": workspace.require_mfa,
            "notify_handoff_by_email": workspace.notify_handoff_by_email,
            "csat_enabled": workspace.csat_enabled,
            "csat_question": workspace.csat_question,
        },
    )
    # Owners decide whether two-factor is required (services.workspace_settings_update); a disabled
    # field keeps its initial value whatever is posted.
    form.fields["require_mfa"].disabled = not selectors.member_can(membership=request.membership, permission="govern")
    return form


def _settings_context(request, **forms) -> dict:
    workspace = request.workspace
    context = {
        "settings_form": _settings_form(request),
        "invitation_form": InvitationForm(actor_role=request.membership.role),
        "api_key_form": ApiKeyForm(actor_role=request.membership.role),
        "memberships": selectors.memberships_list(workspace=workspace),
        "invitations": selectors.invitations_pending_list(workspace=workspace),
        "api_keys": selectors.api_keys_list(workspace=workspace),
        "role_form": MembershipRoleForm(actor_role=request.membership.role),
        "grantable_roles": selectors.roles_grantable(actor_role=request.membership.role),
        "retention_form": RetentionForm(
            initial={
                "retention_days": workspace.retention_days,
                "webhook_body_retention_days": workspace.webhook_body_retention_days,
            }
        ),
        "can_set_retention": selectors.member_can(membership=request.membership, permission="govern"),
    }
    context.update(forms)
    return context


@workspace_member_required("view")
def workspace_settings(request):
    return render(request, "workspaces/settings.html", _settings_context(request))


@require_POST
@workspace_member_required("configure")
def workspace_settings_update(request):
    form = _settings_form(request, request.POST)
    if form.is_valid():
        try:
            services.workspace_settings_update(workspace=request.workspace, by=request.user, **form.cleaned_data)
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Workspace settings saved.")
            return redirect("workspace_settings", workspace_slug=request.workspace.slug)
    return render(request, "workspaces/settings.html", _settings_context(request, settings_form=form), status=400)


@require_POST
@workspace_member_required("govern")
def workspace_retention_update(request):
    """Owners only: how long customers' message contents and raw webhooks are kept."""
    form = RetentionForm(request.POST)
    if form.is_valid():
        try:
            services.workspace_retention_update(workspace=request.workspace, by=request.user, **form.cleaned_data)
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Retention saved; the daily job applies it.")
            return redirect("workspace_settings", workspace_slug=request.workspace.slug)
    return render(request, "workspaces/settings.html", _settings_context(request, retention_form=form), status=400)


@require_POST
@workspace_member_required("manage_members")
def invitation_create(request):
    form = InvitationForm(request.POST, actor_role=request.membership.role)
    if form.is_valid():
        try:
            issued = services.invitation_create(
                workspace=request.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                f"Invitation sent to {issued.invitation.email}. The link also works if copied: {issued.accept_url}",
            )
            return redirect("workspace_settings", workspace_slug=request.workspace.slug)
    return render(request, "workspaces/settings.html", _settings_context(request, invitation_form=form), status=400)


@require_POST
@workspace_member_required("manage_members")
def invitation_revoke(request, invitation_id: int):
    get_object_or_404(Invitation, pk=invitation_id, workspace=request.workspace)  # another workspace's: 404
    services.invitation_revoke(workspace=request.workspace, invitation_id=invitation_id)
    messages.success(request, "Invitation revoked.")
    return redirect("workspace_settings", workspace_slug=request.workspace.slug)


@require_POST
@workspace_member_required("manage_members")
def membership_update(request, membership_id: int):
    membership = get_object_or_404(Membership, pk=membership_id, workspace=request.workspace)
    try:
        if request.POST.get("action") == "remove":
            services.membership_remove(by=request.user, membership=membership)
            messages.success(request, f"{membership.user.email} was removed.")
        else:
            form = MembershipRoleForm(request.POST)
            if not form.is_valid():
                raise PlatformError("Choose a valid role.", field="role")
            services.membership_role_change(by=request.user, membership=membership, role=form.cleaned_data["role"])
            messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
    except PlatformError as exc:
        messages.error(request, exc.message)
    return redirect("workspace_settings", workspace_slug=request.workspace.slug)


@require_POST
@workspace_member_required("configure")
def api_key_create(request):
    form = ApiKeyForm(request.POST, actor_role=request.membership.role)
    if form.is_valid():
        try:
            issued = services.api_key_create(
                workspace=request.workspace,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                created_by=request.user,
            )
        except PlatformError as exc:
            _form_error(form, exc)
        else:
            # Rendered directly (not redirected): the plaintext must never sit in a session or a URL.
            context = _settings_context(request)
            context["new_api_key"] = issued
            return render(request, "workspaces/settings.html", context)
    return render(request, "workspaces/settings.html", _settings_context(request, api_key_form=form), status=400)


@require_POST
@workspace_member_required("configure")
def api_key_revoke(request, key_id):
    try:
        api_key = services.api_key_revoke(workspace=request.workspace, public_id=key_id)
    except services.ApiKey.DoesNotExist:
        raise Http404("No such API key.") from None
    messages.success(request, f"API key '{api_key.name}' revoked; requests using it now get 401.")
    return redirect("workspace_settings", workspace_slug=request.workspace.slug)


def invitation_accept(request, token: str):
    invitation = services.invitation_for_token(token=token)
    if invitation is None:
        return render(request, "workspaces/invitation_invalid.html", {"reason": "not valid"}, status=404)
    if not request.user.is_authenticated:
        if invitation.state != invitation.State.PENDING:
            return render(
                request,
                "workspaces/invitation_invalid.html",
                {"reason": invitation.get_state_display().lower()},
                status=410,
            )
        if User.objects.filter(email__iexact=invitation.email).exists():
            return redirect(f"{reverse('account_login')}?next={request.path}")
        request.session[INVITATION_SESSION_KEY] = token
        return redirect("account_signup")
    try:
        membership = services.invitation_accept(token=token, user=request.user)
    except PlatformError as exc:
        return render(
            request,
            "workspaces/invitation_invalid.html",
            {"reason": None, "message": exc.message},
            status=exc.http_status,
        )
    messages.success(request, f"Welcome to {membership.workspace.name}.")
    return redirect("workspace_overview", workspace_slug=membership.workspace.slug)
