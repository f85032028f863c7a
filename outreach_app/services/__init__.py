"""Writes for outreach, by topic. Import from here."""

from outreach_app.services.audience import audience_contacts, audience_materialise, campaign_recipients_import_csv
from outreach_app.services.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_preview,
    campaign_resume,
    campaign_update,
    campaigns_sweep,
)
from outreach_app.services.dispatch import campaign_dispatch
from outreach_app.services.scheduled import (
    scheduled_contact_resolve,
    scheduled_message_cancel,
    scheduled_message_create,
    scheduled_message_reschedule,
    scheduled_message_send,
    scheduled_messages_send_due,
)
from outreach_app.services.welcome import first_inbound_observe, welcome_template_send, welcome_template_set

__all__ = [
    "audience_contacts",
    "audience_materialise",
    "campaign_cancel",
    "campaign_create",
    "campaign_dispatch",
    "campaign_launch",
    "campaign_pause",
    "campaign_preview",
    "campaign_recipients_import_csv",
    "campaign_resume",
    "campaign_update",
    "campaigns_sweep",
    "first_inbound_observe",
    "scheduled_contact_resolve",
    "scheduled_message_cancel",
    "scheduled_message_create",
    "scheduled_message_reschedule",
    "scheduled_message_send",
    "scheduled_messages_send_due",
    "welcome_template_send",
    "welcome_template_set",
]
