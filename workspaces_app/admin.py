from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from workspaces_app.admin_scoping import WorkspaceScopedAdmin
from workspaces_app.models import ApiKey, FileDeletion, Invitation, Membership, User, Workspace


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "pk"
    list_display = ["name", "slug", "require_mfa", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_inlines(self, request, obj):
        return [MembershipInline] if request.user.is_superuser else []


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "workspace__name"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser


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

    def has_add_permission(self, request):
        return False  # invitations are sent from the console, which emails the link


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "prefix", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["workspace", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    exclude = ["secret_hash"]

    def has_add_permission(self, request):
        return False  # keys are shown once on creation, which the console does


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
