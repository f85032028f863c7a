import uuid

from django.db import models

from whatsapp_platform.encryption import EncryptedTextField


class Channel(models.Model):
    """A WhatsApp Business phone number connected to a workspace."""

    class Provider(models.TextChoices):
        CLOUD_API = "cloud_api", "WhatsApp Cloud API"
        SANDBOX = "sandbox", "Sandbox (local emulator)"

    class Status(models.TextChoices):
        PENDING = "pending", "Not connected yet"
        ACTIVE = "active", "Active"
        NEEDS_RECONNECTION = "needs_reconnection", "Needs reconnection"
        DISABLED = "disabled", "Disabled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=120, help_text="A label staff recognise, e.g. 'WhatsApp Support UK'.")
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.CLOUD_API)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True)
    waba_id = models.CharField("WhatsApp Business Account id", max_length=32, blank=True)
    phone_number_id = models.CharField(max_length=32, blank=True)
    display_phone_number = models.CharField(max_length=32, blank=True)
    verified_name = models.CharField(max_length=120, blank=True)
    access_token = EncryptedTextField(blank=True)
    # Only for a channel connected by hand with its own Meta app.
    app_secret = EncryptedTextField(blank=True)
    verify_token = EncryptedTextField(blank=True)
    agent = models.ForeignKey(
        "agents_app.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="channels"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_number_id"],
                condition=~models.Q(phone_number_id=""),
                name="channel_unique_phone_number_id",
            )
        ]

    def __str__(self) -> str:
        return self.name
