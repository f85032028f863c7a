import uuid

import django.db.models.deletion
from django.db import migrations, models


def public_ids_fill(apps, schema_editor):
    # Existing rows each need their own id before the column becomes unique.
    MessageTemplate = apps.get_model("channels_app", "MessageTemplate")
    for template in MessageTemplate.objects.filter(public_id__isnull=True).only("pk"):
        MessageTemplate.objects.filter(pk=template.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0006_channel_test_console"),
        ("workspaces_app", "0002_workspace_handoff_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagetemplate",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(public_ids_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="messagetemplate",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.CreateModel(
            name="TemplateSync",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("waba_id", models.CharField(max_length=32)),
                (
                    "trigger",
                    models.CharField(
                        choices=[
                            ("connect", "Channel connected"),
                            ("manual", "Sync now"),
                            ("periodic", "Scheduled"),
                            ("webhook", "Unknown template in a webhook"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to run"),
                            ("running", "Running"),
                            ("succeeded", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=12,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("created_count", models.PositiveIntegerField(default=0)),
                ("updated_count", models.PositiveIntegerField(default=0)),
                ("removed_count", models.PositiveIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                (
                    "channel",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="template_syncs",
                        to="channels_app.channel",
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="template_syncs",
                        to="workspaces_app.workspace",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
                "indexes": [models.Index(fields=["state", "requested_at"], name="templatesync_state_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("state__in", ["pending", "running"])),
                        fields=("waba_id",),
                        name="templatesync_one_open_per_waba",
                    )
                ],
            },
        ),
    ]
