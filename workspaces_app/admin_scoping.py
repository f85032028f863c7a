"""The admin, scoped: staff who are not superusers see and edit only their workspaces' rows."""

from django.contrib import admin
from django.http import Http404

from workspaces_app.selectors import workspace_ids_for_user


class WorkspaceScopedAdmin(admin.ModelAdmin):
    # Path from the model to its workspace's id, as an ORM lookup.
    workspace_lookup = "workspace_id"

    def _workspace_ids(self, request, permission: str) -> set[int]:
        cache = request.__dict__.setdefault("_admin_workspace_ids", {})
        if permission not in cache:
            cache[permission] = set(workspace_ids_for_user(user=request.user, permission=permission))
        return cache[permission]

    def _obj_workspace_id(self, obj) -> int:
        value = obj
        for part in self.workspace_lookup.split("__"):
            value = getattr(value, part)
        return value

    def _allowed(self, request, obj, permission: str) -> bool:
        if request.user.is_superuser:
            return True
        ids = self._workspace_ids(request, permission)
        if obj is None:
            return bool(ids)
        return self._obj_workspace_id(obj) in ids

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.workspace_lookup}__in": self._workspace_ids(request, "view")})

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and self._allowed(request, None, "view")

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, "view")

    def has_add_permission(self, request) -> bool:
        return self._allowed(request, None, "configure")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, "configure")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, "configure")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if request.user.is_superuser or field is None:
            return field
        ids = self._workspace_ids(request, "configure")
        related = db_field.related_model
        if related._meta.label == "workspaces_app.Workspace":
            field.queryset = field.queryset.filter(pk__in=ids)
        elif any(f.name == "workspace" for f in related._meta.get_fields()):
            field.queryset = field.queryset.filter(workspace_id__in=ids)
        return field

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects with "doesn't exist"; an outsider must not learn more than a 404.
        raise Http404("Not found.")
