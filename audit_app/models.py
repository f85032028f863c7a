"""The audit log: an append-only record of security-relevant actions.

Rows are only ever inserted. `save()` refuses to update, `delete()` refuses to delete, the
queryset refuses bulk deletes and any update but the one Django makes when a referenced user,
API key or workspace is deleted (the reference becomes NULL, the recorded labels stay), and a
database trigger (migration 0002) refuses the same at the SQL level, whatever the client.
"""

from django.conf import settings
from django.db import models

# The references Django may set to NULL when the row they point at is deleted (on_delete=SET_NULL).
NULLABLE_REFERENCES = frozenset(
    {"workspace", "workspace_id", "actor_user", "actor_user_id", "actor_api_key", "actor_api_key_id"}
)


class AuditEntryImmutable(Exception):
    """An attempt to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if kwargs and set(kwargs) <= NULLABLE_REFERENCES and all(value is None for value in kwargs.values()):
            return super().update(**kwargs)  # on_delete=SET_NULL of a deleted user, key or workspace
        raise AuditEntryImmutable("Audit entries cannot be changed.")

    def delete(self):
        raise AuditEntryImmutable("Audit entries cannot be deleted.")

    delete.queryset_only = True


class AuditEntry(models.Model):
    class ActorType(models.TextChoices):
        USER = "user", "Person"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"
        ANONYMOUS = "anonymous", "Not signed in"

    # NULL for events outside any workspace (a failed sign-in to an unknown address) and after the
    # workspace itself was deleted: entries outlive what they describe.
    workspace = models.ForeignKey(
        "workspaces_app.Workspace", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    action = models.CharField(max_length=64)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "workspaces_app.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who it was, as it read at the time (an email, a key's name): kept when the user or key goes.
    actor_label = models.CharField(max_length=254)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    # field → [old, new]; secrets are masked before they get here.
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        # Newest first: ids grow with every insert, and only inserts happen.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="audit_workspace_newest"),
            models.Index(fields=["workspace", "action", "-id"], name="audit_workspace_action_newest"),
        ]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditEntryImmutable("Audit entries cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEntryImmutable("Audit entries cannot be deleted.")
