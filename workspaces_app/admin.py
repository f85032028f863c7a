from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied

from whatsapp_platform.errors import PlatformError
from workspaces_app import services
from workspaces_app.admin_scoping import AuditedAdmin, WorkspaceScopedAdmin
from workspaces_app.models import ApiKey, FileDeletion, Invitation, Membership, User, Workspace
from workspaces_app.selectors import acting_role, role_can, role_grantable


def _refused(exc: PlatformError) -> PermissionDenied:
    # The admin offers only what the rules allow; a write the services still refuse (a race, a crafted
    # POST) is a 403 with their reason, and the admin's transaction leaves nothing half-written.
    return PermissionDenied(exc.message)


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_superuser", "last_login"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    # People span workspaces: only superusers manage accounts here; owners use the console.
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def delete_model(self, request, obj):
        # Through the members' rules: their keys are revoked, the last owner of a workspace stays.
        try:
            services.user_delete(user=obj, by=request.user)
        except PlatformError as exc:
            raise _refused(exc) from exc

    def delete_queryset(self, request, queryset):
        for user in queryset:
            self.delete_model(request, user)


class MembershipInline(admin.TabularInline):
    """Who is in the workspace, to read; members change in Memberships (or the console), by the role rules."""

    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# What the console's settings page changes, and the service that changes it with its rules.
WORKSPACE_SETTINGS_FIELDS = ["name", "require_mfa", "notify_handoff_by_email", "csat_enabled", "csat_question"]
WORKSPACE_RETENTION_FIELDS = ["retention_days", "webhook_body_retention_days"]


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    """Changes go through the console's services (their permission rules and audit entries); what the
    console does not let a member change (the slug, owner-only settings for admins) is read-only here."""

    workspace_lookup = "pk"
    list_display = ["name", "slug", "require_mfa", "created_at"]
    search_fields = ["name", "slug"]

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ["name"]} if request.user.is_superuser else {}

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser or obj is None:
            return []
        editable = list(WORKSPACE_SETTINGS_FIELDS)
        if role_can(role=acting_role(user=request.user, workspace=obj), permission="govern"):
            editable += WORKSPACE_RETENTION_FIELDS
        else:
            editable.remove("require_mfa")
        form_fields = [f.name for f in Workspace._meta.fields if f.editable and not f.primary_key]
        return [name for name in form_fields if name not in editable]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_inlines(self, request, obj):
        return [MembershipInline] if request.user.is_superuser else []

    def save_model(self, request, obj, form, change):
        if not change:  # superusers only: a workspace made here has no members yet
            return super().save_model(request, obj, form, change)
        stored = Workspace.objects.get(pk=obj.pk)
        try:
            if any(getattr(obj, name) != getattr(stored, name) for name in WORKSPACE_SETTINGS_FIELDS):
                services.workspace_settings_update(
                    workspace=stored,
                    by=request.user,
                    **{name: getattr(obj, name) for name in WORKSPACE_SETTINGS_FIELDS},
                )
            if any(getattr(obj, name) != getattr(stored, name) for name in WORKSPACE_RETENTION_FIELDS):
                services.workspace_retention_update(
                    workspace=stored,
                    by=request.user,
                    **{name: getattr(obj, name) for name in WORKSPACE_RETENTION_FIELDS},
                )
        except PlatformError as exc:
            raise _refused(exc) from exc
        # What no service changes (the slug, the time zone) is only editable by superusers.
        rest = [
            name for name in form.changed_data if name not in WORKSPACE_SETTINGS_FIELDS + WORKSPACE_RETENTION_FIELDS
        ]
        if rest:
            obj.refresh_from_db(fields=WORKSPACE_SETTINGS_FIELDS + WORKSPACE_RETENTION_FIELDS)
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        services.workspace_delete(workspace=obj)

    def delete_queryset(self, request, queryset):
        for workspace in queryset:
            services.workspace_delete(workspace=workspace)


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    """Roles change and members leave through the console's services, so the same rule holds here: nobody
    gives, changes or removes a role above their own, and a workspace keeps an owner."""

    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__name"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "workspace", "created_at"] if obj is not None else ["created_at"]

    def _may_manage(self, request, obj) -> bool:
        if not self._allowed(request, obj, "manage_members"):
            return False
        if obj is None:
            return True
        actor_role = acting_role(user=request.user, workspace=obj.workspace_id)
        return role_grantable(actor_role=actor_role, role=obj.role)

    def has_add_permission(self, request):
        return request.user.is_superuser  # people join by invitation, from the console

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        field = super().formfield_for_choice_field(db_field, request, **kwargs)
        if db_field.name == "role" and not request.user.is_superuser:
            workspace_id = getattr(request, "_admin_object_workspace_id", None)
            actor_role = acting_role(user=request.user, workspace=workspace_id) if workspace_id else None
            field.choices = [(v, label) for v, label in field.choices if role_grantable(actor_role=actor_role, role=v)]
        return field

    def save_model(self, request, obj, form, change):
        try:
            if change:
                stored = Membership.objects.select_related("workspace", "user").get(pk=obj.pk)
                services.membership_role_change(by=request.user, membership=stored, role=obj.role)
            else:
                services.membership_add(by=request.user, workspace=obj.workspace, user=obj.user, role=obj.role)
        except PlatformError as exc:
            raise _refused(exc) from exc

    def delete_model(self, request, obj):
        try:
            services.membership_remove(by=request.user, membership=obj)
        except PlatformError as exc:
            raise _refused(exc) from exc

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("workspace", "user"):
            self.delete_model(request, membership)


@admin.register(Invitation)
class InvitationAdmin(WorkspaceScopedAdmin):
    list_display = ["email", "workspace", "role", "state", "created_at", "expires_at"]
    list_filter = ["state", "role"]
    search_fields = ["email"]
    readonly_fields = [
        "workspace",
        "email",
        "role",
        "token_hash",
        "invited_by",
        "accepted_by",
        "accepted_at",
        "created_at",
        "expires_at",
    ]

    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # invitations are sent from the console, which emails the link

    # An invitation is a record of who was asked in, and a working link while pending: it is revoked,
    # never edited (a revoked one set back to pending would work again) or deleted.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request) -> bool:
        return self._allowed(request, None, "manage_members")

    @admin.action(description="Revoke the selected pending invitations", permissions=["revoke"])
    def revoke(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(workspace_id__in=self._workspace_ids(request, "manage_members"))
        pending = list(queryset.filter(state=Invitation.State.PENDING))
        for invitation in pending:
            services.invitation_revoke(workspace=invitation.workspace, invitation_id=invitation.pk)
        self.message_user(request, f"{len(pending)} invitation(s) revoked.")


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["name", "prefix"]
    readonly_fields = [
        "workspace",
        "name",
        "role",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["secret_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are shown once on creation, which the console does

    # A key's role is chosen at creation (never above its creator's); keys are revoked, not edited or
    # deleted, so the audit log's entries keep naming them.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request) -> bool:
        return self._allowed(request, None, "configure")

    @admin.action(description="Revoke the selected API keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        if not request.user.is_superuser:
            queryset = queryset.filter(workspace_id__in=self._workspace_ids(request, "configure"))
        active = list(queryset.filter(revoked_at__isnull=True).select_related("workspace"))
        for api_key in active:
            services.api_key_revoke(workspace=api_key.workspace, public_id=api_key.public_id)
        self.message_user(request, f"{len(active)} key(s) revoked; requests using them now get 401.")


@admin.register(FileDeletion)
class FileDeletionAdmin(WorkspaceScopedAdmin):
    """Stored files waiting to be deleted (an erasure or the retention policy); the retention job retries them."""

    list_display = ["path", "workspace", "reason", "attempts", "created_at"]
    list_filter = ["reason"]
    readonly_fields = ["workspace", "path", "reason", "attempts", "last_error", "created_at"]

    def has_add_permission(self, request):
        return False  # written by erasure and retention, in the transaction that stops using the file

    def has_change_permission(self, request, obj=None):
        return False
