from django import forms

from workspaces_app.models import Role


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


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Where the key is used, e.g. 'CRM sync'.")
