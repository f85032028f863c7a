"""API keys carry a role. An existing key gets its creator's role in the workspace (a creator who
left the workspace: the key is revoked, as removing a member now does); keys made from the command
line (no creator) become admin keys: everything but what the console keeps to owners."""

from django.db import migrations, models
from django.utils import timezone



def roles_from_creators(apps, schema_editor):
    ApiKey = apps.get_model("workspaces_app", "ApiKey")
    Membership = apps.get_model("workspaces_app", "Membership")
    for api_key in ApiKey.objects.filter(created_by__isnull=False):
        role = (
            Membership.objects.filter(workspace_id=api_key.workspace_id, user_id=api_key.created_by_id)
            .values_list("role", flat=True)
            .first()
        )
        if role is None:
            if api_key.revoked_at is None:
                ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
        elif role != api_key.role:
            ApiKey.objects.filter(pk=api_key.pk).update(role=role)


class Migration(migrations.Migration):
    dependencies = [("workspaces_app", "0004_workspace_retention")]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="role",
            field=models.CharField(
                choices=[
                    ("owner", "Owner"),
                    ("admin", "Admin"),
                    ("agent", "Agent (answers chats)"),
                    ("viewer", "Viewer"),
                ],
                default="admin",
                max_length=16,
            ),
        ),
        migrations.RunPython(roles_from_creators, migrations.RunPython.noop),
    ]
