"""Every action the audit log records: a stable dotted name (filters and integrations rely on it) and a label."""

AUDIT_ACTIONS: dict[str, str] = {
    "auth.signed_in": "Signed in",
    "auth.sign_in_failed": "Sign-in failed",
    "auth.locked_out": "Sign-in locked after repeated failures",
    "mfa.authenticator_added": "Two-factor method added",
    "mfa.authenticator_removed": "Two-factor method removed",
    "mfa.recovery_codes_regenerated": "Recovery codes regenerated",
    "invitation.created": "Invitation sent",
    "invitation.revoked": "Invitation revoked",
    "invitation.accepted": "Invitation accepted",
    "member.role_changed": "Member's role changed",
    "member.removed": "Member removed",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "channel.created": "Channel created",
    "channel.connected": "Channel connected",
    "channel.reconnected": "Channel reconnected",
    "channel.credentials_changed": "Channel credentials changed",
    "channel.updated": "Channel settings changed",
    "channel.deactivated": "Channel deactivated",
    "channel.deleted": "Channel deleted",
    "agent.created": "Agent created",
    "agent.updated": "Agent changed",
    "agent.deleted": "Agent deleted",
    "agent.tool_added": "Agent tool added",
    "agent.tool_updated": "Agent tool changed",
    "agent.tool_removed": "Agent tool removed",
    "template.submitted": "Template submitted for review",
    "template.deleted": "Template deleted",
    "webhook.created": "Webhook subscription created",
    "webhook.updated": "Webhook subscription changed",
    "webhook.secret_rotated": "Webhook secret rotated",
    "webhook.deleted": "Webhook subscription deleted",
    "contact.exported": "Contact's data exported",
    "contact.erased": "Contact erased",
    "retention.applied": "Old customer data cleared (retention)",
    "workspace.settings_changed": "Workspace settings changed",
}


def action_label(action: str) -> str:
    return AUDIT_ACTIONS.get(action, action)
