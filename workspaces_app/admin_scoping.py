"""The admin, audited and scoped.

`AuditedAdmin`: every write made through the admin site (add, change, inline rows, delete, actions)
is in the audit log, with the fields it changed, as the console's writes are.

`WorkspaceScopedAdmin`: staff who are not superusers see and edit only their workspaces' rows, and
every foreign key they can pick (select, raw id, autocomplete) offers only rows of those workspaces.
"""

from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.http import Http404

from audit_app.services import audit_diff, audit_record, audit_snapshot, audit_stored_snapshot
from workspaces_app.models import User, Workspace
from workspaces_app.selectors import workspace_ids_for_user


class AuditedAdmin(admin.ModelAdmin):
    def audit_workspace_id(self, obj) -> int | None:
        """The workspace whose log records a write to `obj` (None: the target's own `workspace_id`)."""
        return None

    def _audit(self, request, action: str, obj, changes: dict | None = None, target=None) -> None:
        audit_record(
            action=action,
            workspace=self.audit_workspace_id(obj),
            target=target or obj,
            changes=changes,
            request=request,
        )

    def save_model(self, request, obj, form, change):
        before = audit_stored_snapshot(type(obj), obj.pk) if change else {}
        super().save_model(request, obj, form, change)
        self._audit(request, "admin.changed" if change else "admin.added", obj, audit_diff(before, obj))

    def delete_model(self, request, obj):
        self._audit(request, "admin.deleted", obj, audit_snapshot(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, "admin.deleted", obj, audit_snapshot(obj))
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        before = {f.instance.pk: audit_snapshot(f.instance) for f in formset.initial_forms if f.instance.pk}
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                self._audit(request, "admin.deleted", deleted.instance, audit_snapshot(deleted.instance))
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self._audit(request, "admin.added", obj, audit_diff({}, obj))
        for obj, _fields in formset.changed_objects:
            self._audit(request, "admin.changed", obj, audit_diff(before.get(obj.pk, {}), obj))

    def get_actions(self, request):
        # Each action is recorded against every selected row it was run on. Deleting is recorded by
        # delete_queryset, once confirmed (its first call only asks).
        return {
            name: (func if name == "delete_selected" else self._audited_action(func, name), name, description)
            for name, (func, _name, description) in super().get_actions(request).items()
        }

    def _audited_action(self, func, name: str):
        def run(model_admin, request, queryset):
            response = func(model_admin, request, queryset)
            for obj in queryset:
                self._audit(request, "admin.action", obj, {"action": [None, name]})
            return response

        return run


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """Names the chosen row only if it is among the field's choices: Django's widget looks any id up, so
    a form sent back with an error would show another workspace's row (a person's email, a channel's name)."""

    def __init__(self, rel, admin_site, *, queryset, **kwargs):
        super().__init__(rel, admin_site, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            if not self.queryset.filter(**{key: value}).exists():
                return "", ""
        except (ValueError, TypeError):
            return "", ""
        return super().label_and_url_for_value(value)


class WorkspaceScopedAdmin(AuditedAdmin):
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

    def audit_workspace_id(self, obj) -> int | None:
        return self._obj_workspace_id(obj)

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

    def get_form(self, request, obj=None, change=False, **kwargs):
        # A row's foreign keys may point only into its own workspace (formfield_for_foreignkey).
        request._admin_object_workspace_id = self._obj_workspace_id(obj) if obj is not None else None
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if request.user.is_superuser:
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        ids = self._workspace_ids(request, "configure")
        own = getattr(request, "_admin_object_workspace_id", None)
        if own is not None:
            ids = ids & {own}
        related = db_field.related_model
        queryset = related_rows_in_workspaces(self.admin_site, related, ids)
        kwargs["queryset"] = queryset
        if db_field.name in self.raw_id_fields and "widget" not in kwargs:
            kwargs["widget"] = ScopedRawIdWidget(db_field.remote_field, self.admin_site, queryset=queryset)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects with "doesn't exist"; an outsider must not learn more than a 404.
        raise Http404("Not found.")


def related_rows_in_workspaces(admin_site, model, workspace_ids: set[int]):
    """The rows of `model` that belong to the workspaces: through the model's scoped admin's lookup, its
    `workspace` field, or (people) a membership. A model with no workspace offers nothing."""
    rows = model._default_manager.all()
    if model is Workspace:
        return rows.filter(pk__in=workspace_ids)
    if model is User:
        return rows.filter(memberships__workspace_id__in=workspace_ids).distinct()
    lookup = getattr(admin_site._registry.get(model), "workspace_lookup", None)
    if lookup is None and any(f.name == "workspace" for f in model._meta.get_fields()):
        lookup = "workspace_id"
    if lookup is None:
        return rows.none()
    return rows.filter(**{f"{lookup}__in": workspace_ids})
