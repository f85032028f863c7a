from django import forms

from workspaces_app.models import Role
from workspaces_app.selectors import roles_grantable


class _RoleChoiceForm(forms.Form):
    """Offers the roles the person may hand out (the service enforces the same rule,
    workspaces_app.selectors.role_grantable); all roles when no actor is given, for validating a choice."""

    role_permission = "manage_members"

    def __init__(self, *args, actor_role: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if actor_role is not None:
            grantable = set(roles_grantable(actor_role=actor_role, permission=self.role_permission))
            self.fields["role"].choices = [(value, label) for value, label in Role.choices if value in grantable]


class WorkspaceSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    require_mfa = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members must set up an authenticator app before they can use the console.",
    )

    notify_handoff_by_email = forms.BooleanField(
        required=False,
        label="Email the team when a customer waits for a human",
        help_text="Sent to owners, admins and agents when the AI agent hands a conversation over.",
    )
    csat_enabled = forms.BooleanField(
        required=False,
        label="Ask customers to rate the conversation when it is closed",
        help_text="Sent as reply buttons (great / OK / poor) while WhatsApp's 24-hour window is open.",
    )
    csat_question = forms.CharField(
        max_length=300,
        required=False,
        label="Rating question",
        help_text="At most 1024 characters on WhatsApp; keep it short and friendly.",
    )


class RetentionForm(forms.Form):
    retention_days = forms.IntegerField(
        required=False,
        min_value=7,
        max_value=3650,
        label="Keep message contents for (days)",
        help_text="Older texts, transcripts, media files and agent logs are removed every day; the messages stay "
        "listed (type, time, status) so analytics do not change. Empty: kept forever.",
    )
    webhook_body_retention_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Keep received webhook bodies for (days)",
        help_text="Older raw webhooks in Troubleshooting keep their shape but lose who and what. Empty: kept forever.",
    )


class InvitationForm(_RoleChoiceForm):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)


class MembershipRoleForm(_RoleChoiceForm):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(_RoleChoiceForm):
    role_permission = "configure"

    name = forms.CharField(max_length=80, help_text="Where the key is used, e.g. 'CRM sync'.")
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.AGENT,
        help_text="The key may do what a member of this role may in the console; not more than your own role.",
    )
