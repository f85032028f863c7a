"""A customer's data on request, and gone on request or with age: export, erasure and retention.

Where a contact's data lives (each is exported, and erased or redacted, here):
- messaging_app: Contact; Conversation (no personal fields); Message (content, transcript,
  extracted_text, context, referral, reactions, edits, errors, error_details, media in default
  storage, wamid: Meta's wamids wrap the phone number); StatusReceipt; ConversationRating.comment;
  IdempotencyKey (a hash of the API body that sent a message).
- agents_app.AgentRun: prompt (quotes the messages and the contact's name and attributes), output,
  tool_calls (arguments and results), error.
- channels_app.WebhookEvent: the raw body (and the error text) of every webhook that carried the
  contact's messages or statuses.
- outreach_app: CampaignRecipient.parameters (CSV values), Campaign.import_report (rejected lines quote
  the number), ScheduledMessage.content.
- events_app: Event.payload (contact, message text), Delivery.last_error and DeliveryAttempt excerpts
  (a receiver may echo the payload).
- analytics_app.DailyChannelStats holds counts only and is left alone; cloudapi_emulator is the fake
  Meta's own data and is never touched.

Erasure keeps every row that analytics count (messages, agent runs, conversations, ratings' scores,
campaign recipients) and removes what they said and who said it: the daily rollup recomputes days
from those rows, so deleting them would change past figures. The Contact row becomes a tombstone
(no phone, name or id of the person, blocked) that the inbound pipeline never matches again, so a
new message from the same number starts a new contact.

Files are deleted after commit from `FileDeletion` rows written in the same transaction that stops
referencing them; the retention job retries any that storage refused.
"""

from messaging_app.services.privacy.common import (
    ERASED_PREFIX,
    REDACTED_HEADER,
    contact_find,
    contact_is_erased,
    file_deletions_run,
    webhook_body_redact,
)
from messaging_app.services.privacy.erasure import contact_erase, contact_erase_confirmation_matches
from messaging_app.services.privacy.export import (
    contact_export_archive,
    contact_export_audit,
    contact_export_document,
    contact_export_filename,
    contact_export_write,
    media_archive_path,
)
from messaging_app.services.privacy.retention import (
    erased_contacts_sweep,
    orphan_webhooks_retention,
    retention_apply_all,
    workspace_retention_apply,
)

__all__ = [
    "ERASED_PREFIX",
    "REDACTED_HEADER",
    "contact_erase",
    "contact_erase_confirmation_matches",
    "contact_export_archive",
    "contact_export_audit",
    "contact_export_document",
    "contact_export_filename",
    "contact_export_write",
    "contact_find",
    "contact_is_erased",
    "erased_contacts_sweep",
    "file_deletions_run",
    "media_archive_path",
    "orphan_webhooks_retention",
    "retention_apply_all",
    "webhook_body_redact",
    "workspace_retention_apply",
]
