import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in to the console. Email is the login; there is no username."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class Workspace(models.Model):
    """A business. Every domain row belongs to exactly one workspace."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    require_mfa = models.BooleanField(
        default=False, help_text="Members must set up an authenticator app before using the console."
    )
    timezone = models.CharField(max_length=64, default="UTC")
    notify_handoff_by_email = models.BooleanField(
        default=False, help_text="Email the people who answer chats when a conversation waits for a human."
    )
    csat_enabled = models.BooleanField(
        default=False, help_text="Ask customers to rate the conversation when the team closes it."
    )
    csat_question = models.CharField(max_length=300, default="How did we do today? Your rating helps us improve 🙏")
    # Retention (messaging_app/services/privacy.py): what is older than this many days loses its content while
    # its row stays, so analytics keep counting it. Empty keeps everything.
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Message texts, transcripts, media files and agent logs older than this are removed. "
        "Empty: kept forever.",
    )
    webhook_body_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=30,
        help_text="Bodies of received WhatsApp webhooks older than this are redacted. Empty: kept forever.",
    )
    # The retention job's progress: everything before these instants has been handled, so a daily run
    # only reads what aged since (minus an overlap for late arrivals).
    retention_content_through = models.DateTimeField(null=True, blank=True, editable=False)
    retention_webhooks_through = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FileDeletion(models.Model):
    """A stored file that must go (its contact was erased, or it outlived the retention period).

    Written in the transaction that stops referencing the file, deleted from storage after commit;
    a row is removed once storage confirms, and the retention job retries whatever is left.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # The name in default storage, as FileField.name holds it.
    path = models.CharField(max_length=500, unique=True)
    reason = models.CharField(max_length=16)  # "erasure" or "retention"
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.path


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent (answers chats)"
    VIEWER = "viewer", "Viewer"


# What each role may do; checked by `workspaces_app.selectors.member_can` (console and admin) and
# `workspaces_app.api_auth.KeyRoleHolds` (API keys, which carry a role too). "govern" is deciding the
# workspace's own rules: erasing a customer's data, how long data is kept, whether two-factor is required.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({"view", "reply", "configure", "manage_members", "manage_owners", "govern"}),
    Role.ADMIN: frozenset({"view", "reply", "configure", "manage_members"}),
    Role.AGENT: frozenset({"view", "reply"}),
    Role.VIEWER: frozenset({"view"}),
}
# Lowest first. Nobody grants a role above their own: not to a member, an invitation or an API key
# (`workspaces_app.selectors.role_grantable`).
ROLE_ORDER: tuple[str, ...] = (Role.VIEWER, Role.AGENT, Role.ADMIN, Role.OWNER)


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")]
        ordering = ["workspace__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class Invitation(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    # Only a hash of the link's token is kept: a database leak does not leak working links.
    token_hash = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "workspace",
                condition=models.Q(state="pending"),
                name="invitation_one_pending_per_email",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.workspace} ({self.state})"


class ApiKey(models.Model):
    """A workspace's credential for the REST API. Only a hash of the secret is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    # The key reads `wap_<prefix>_<secret>`; the prefix finds the row, the hash proves it.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    # What the key may do, as a member of this role may in the console; never above its creator's role,
    # and lowered (or the key revoked) when the creator is demoted (or removed).
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (wap_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
