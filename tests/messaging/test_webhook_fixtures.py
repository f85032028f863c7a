"""One test per real-shaped webhook fixture: what Meta sends, and what we store."""

from datetime import UTC, datetime

import pytest

from channels_app.models import Channel, MessageTemplate, WebhookEvent
from messaging_app.models import Contact, Conversation, Message
from tests.factories import ChannelFactory, conversation_with, outbound_message
from tests.messaging.conftest import CUSTOMER_BSUID, CUSTOMER_WA_ID, OUTBOUND_WAMID, WABA_ID

pytestmark = pytest.mark.django_db

BUSINESS_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBQ0NTREQzg1QzE1NkVFNDEzOUVENQA="
TEXT_WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQ2NEZBQ0EyRENCQjg1NUJFREM4QwA="


def only_message() -> Message:
    return Message.objects.get(direction=Message.Direction.INBOUND)


def test_text(deliver, channel):
    deliver("text")
    message = only_message()
    assert (message.message_type, message.wamid, message.sender) == ("text", TEXT_WAMID, Message.Sender.CUSTOMER)
    assert message.content["body"]
    assert message.timestamp.tzinfo is not None and message.status == Message.Status.RECEIVED


def test_text_with_emoji_and_non_ascii_is_stored_intact(deliver, channel):
    deliver("text_emoji_non_ascii")
    assert only_message().content["body"] == "Hola! ¿Tienen la talla M? 😍👗 Grüße, Zoë"


def test_text_with_emoji_escaped_as_meta_signs_it(deliver, channel):
    deliver("text_emoji_escaped")
    assert only_message().content["body"] == "Hola! ¿Tienen la talla M? 😍👗 Grüße, Zoë"


def test_a_reply_keeps_its_context_and_links_the_quoted_message(deliver, channel):
    quoted = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=BUSINESS_WAMID)
    deliver("text_reply_with_context")
    reply = only_message()
    assert reply.context_wamid == BUSINESS_WAMID
    assert reply.reply_to == quoted
    assert reply.context["from"] == "15550783881"


def test_a_forwarded_text_keeps_the_forwarded_flag(deliver, channel):
    deliver("text_forwarded")
    message = only_message()
    assert message.context == {"forwarded": True} and message.reply_to is None


def test_a_click_to_whatsapp_referral_is_kept(deliver, channel):
    deliver("text_with_referral")
    referral = only_message().referral
    assert referral["source_type"] == "ad" and referral["ctwa_clid"]


def test_a_username_only_user_without_a_phone_number_becomes_a_contact_keyed_on_bsuid(deliver, channel):
    deliver("username_only_user")
    contact = Contact.objects.get()
    assert contact.wa_id is None
    assert contact.user_id == CUSTOMER_BSUID
    assert contact.username == "@sheena"
    assert contact.send_address == {"recipient": CUSTOMER_BSUID}
    assert only_message().content["body"] == "Hi! Do you ship to Canada?"


def test_the_same_person_with_and_without_a_phone_number_is_one_contact(deliver, channel):
    deliver("username_only_user")
    deliver("text")
    contact = Contact.objects.get()
    assert (contact.user_id, contact.wa_id) == (CUSTOMER_BSUID, CUSTOMER_WA_ID)
    assert Message.objects.filter(contact=contact).count() == 2


@pytest.mark.parametrize(
    "fixture, message_type, mime_type",
    [
        ("image", "image", "image/jpeg"),
        ("video", "video", "video/mp4"),
        ("audio_voice", "audio", "audio/ogg; codecs=opus"),
        ("audio_file", "audio", "audio/mpeg"),
        ("document", "document", "application/pdf"),
        ("sticker", "sticker", "image/webp"),
    ],
)
def test_media_messages_are_stored_with_their_media_pending_download(
    deliver, channel, fixture, message_type, mime_type
):
    deliver(fixture)
    message = only_message()
    assert message.message_type == message_type
    assert message.media_id and message.media_sha256
    assert message.media_mime_type == mime_type
    assert message.media_state == Message.MediaState.PENDING


def test_a_voice_note_is_marked_as_voice(deliver, channel):
    deliver("audio_voice")
    assert only_message().content["voice"] is True


def test_a_document_keeps_its_filename_and_caption(deliver, channel):
    deliver("document")
    content = only_message().content
    assert content["filename"].endswith(".pdf") and content["caption"]


def test_a_dropped_pin_keeps_its_coordinates(deliver, channel):
    deliver("location_pin")
    content = only_message().content
    assert isinstance(content["latitude"], float) and isinstance(content["longitude"], float)


def test_a_chosen_place_keeps_its_name_and_address(deliver, channel):
    deliver("location_place")
    content = only_message().content
    assert content["name"] and content["address"]


def test_shared_contacts_are_kept_whole(deliver, channel):
    deliver("contacts")
    shared = only_message().content
    assert isinstance(shared, list) or isinstance(shared.get("contacts"), list)
    cards = shared if isinstance(shared, list) else shared["contacts"]
    assert cards[0]["name"]["formatted_name"] == "Lucía Gómez"


def test_a_reply_button_tap_is_stored_as_interactive(deliver, channel):
    deliver("interactive_button_reply")
    content = only_message().content
    assert content["type"] == "button_reply" and content["button_reply"]["id"]


def test_a_list_choice_is_stored_as_interactive(deliver, channel):
    deliver("interactive_list_reply")
    content = only_message().content
    assert content["type"] == "list_reply" and content["list_reply"]["title"]


def test_a_completed_flow_keeps_its_response_json(deliver, channel):
    deliver("interactive_nfm_reply")
    content = only_message().content
    assert content["type"] == "nfm_reply" and "flow_token" in content["nfm_reply"]["response_json"]


def test_a_template_quick_reply_tap_keeps_its_payload(deliver, channel):
    deliver("template_button")
    message = only_message()
    assert message.message_type == "button"
    assert message.content == {"payload": "STOP_PROMOS", "text": "Stop promotions"}


def test_a_reaction_lands_on_the_reacted_message(deliver, channel):
    target = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=BUSINESS_WAMID)
    deliver("reaction")
    target.refresh_from_db()
    assert target.reactions == {"customer": "👍"}
    assert Message.objects.filter(message_type="reaction").count() == 1


@pytest.mark.parametrize("fixture", ["unreaction_empty", "unreaction_no_emoji"])
def test_an_unreaction_removes_the_customers_reaction(deliver, channel, fixture):
    target = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=BUSINESS_WAMID)
    target.reactions = {"customer": "👍"}
    target.save()
    deliver(fixture)
    target.refresh_from_db()
    assert "customer" not in target.reactions


def test_an_order_keeps_its_items(deliver, channel):
    deliver("order")
    items = only_message().content["product_items"]
    assert items[0]["quantity"] == 2


def test_a_changed_number_updates_the_same_contact(deliver, channel):
    deliver("text")
    deliver("system_user_changed_number")
    contact = Contact.objects.get()
    assert contact.wa_id == "12195555358"
    assert contact.user_id == CUSTOMER_BSUID
    assert Conversation.objects.count() == 1


def test_a_changed_user_id_updates_the_same_contact(deliver, channel):
    deliver("text")
    deliver("system_user_changed_user_id")
    contact = Contact.objects.get()
    assert contact.user_id == "US.99887766554433221100"
    assert contact.wa_id == CUSTOMER_WA_ID


def test_an_unsupported_message_keeps_its_errors(deliver, channel):
    deliver("unsupported")
    message = only_message()
    assert message.message_type == "unsupported"
    assert message.errors[0]["code"] == 131051


def test_a_revoked_message_is_marked_deleted(deliver, channel):
    deliver("text")
    deliver("revoke")
    original = Message.objects.get(wamid=TEXT_WAMID)
    assert original.revoked_at is not None


def test_an_edit_replaces_the_text_and_keeps_the_previous_version(deliver, channel):
    deliver("text")
    before = Message.objects.get(wamid=TEXT_WAMID).content
    deliver("edit")
    original = Message.objects.get(wamid=TEXT_WAMID)
    assert original.content["body"] == "Does it come in another colour? Green maybe?"
    assert original.edits[0]["previous"] == before


def test_app_level_errors_are_logged_and_the_event_processed(deliver, channel):
    deliver("value_errors")
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED
    assert not Message.objects.exists()


def test_a_batched_post_with_several_entries_messages_and_statuses_is_processed_whole(deliver, channel):
    second = ChannelFactory(workspace=channel.workspace, phone_number_id="106540352242923", waba_id=WABA_ID)
    deliver("batched_multi_entry")
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert inbound.count() == 2
    assert set(inbound.values_list("contact__profile_name", flat=True)) == {"Sheena Nelson", "Oliver Twist"}
    assert second.status_receipts.count() == 3
    assert WebhookEvent.objects.get().state == WebhookEvent.State.PROCESSED


# --- statuses ----------------------------------------------------------------------------


@pytest.fixture
def sent_message(channel):
    return outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=OUTBOUND_WAMID)


@pytest.mark.parametrize(
    "fixture, status, field",
    [
        ("status_sent", "sent", "sent_at"),
        ("status_delivered", "delivered", "delivered_at"),
        ("status_read", "read", "read_at"),
        ("status_played", "played", "played_at"),
    ],
)
def test_a_status_moves_the_message_and_records_its_time(deliver, sent_message, fixture, status, field):
    deliver(fixture)
    sent_message.refresh_from_db()
    assert sent_message.status == status
    assert getattr(sent_message, field) is not None


def test_a_failed_status_records_metas_code_title_and_details(deliver, sent_message):
    deliver("status_failed")
    sent_message.refresh_from_db()
    assert sent_message.status == Message.Status.FAILED
    assert sent_message.error_code == 131049
    assert sent_message.error_title and sent_message.error_details


@pytest.mark.parametrize(
    "fixture, wamid, code",
    [
        ("status_failed_131047", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIxMzEwNDdGQUlMRUQA", 131047),
        ("status_failed_131026", "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIxMzEwMjZGQUlMRUQA", 131026),
    ],
)
def test_asynchronous_send_failures_are_recorded_with_their_code(deliver, channel, fixture, wamid, code):
    message = outbound_message(conversation_with(channel, user_id=CUSTOMER_BSUID), wamid=wamid)
    deliver(fixture)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Message.Status.FAILED, code)


def test_a_status_sent_to_a_bsuid_applies(deliver, sent_message):
    deliver("status_sent_to_bsuid")
    sent_message.refresh_from_db()
    assert sent_message.status == Message.Status.SENT


def test_a_duplicated_status_is_recorded_once(deliver, sent_message):
    deliver("status_delivered")
    deliver("status_delivered")
    assert sent_message.status_receipts.count() == 1


# --- other fields ------------------------------------------------------------------------


def test_a_template_approval_is_stored(deliver, channel):
    deliver("template_status_approved")
    template = MessageTemplate.objects.get()
    assert template.status == "APPROVED" and template.workspace == channel.workspace and template.meta_id


def test_a_template_rejection_keeps_the_reason_and_recommendation(deliver, channel):
    deliver("template_status_rejected")
    template = MessageTemplate.objects.get()
    assert template.status == "REJECTED"
    assert template.rejection_reason and template.recommendation


def test_a_template_pause_is_stored(deliver, channel):
    deliver("template_status_paused")
    assert MessageTemplate.objects.get().status == "PAUSED"


def test_a_completed_category_change_is_applied(deliver, channel):
    deliver("template_category_update")
    assert MessageTemplate.objects.get().category == "MARKETING"


def test_a_template_quality_change_is_applied(deliver, channel):
    deliver("template_quality_update")
    assert MessageTemplate.objects.get().quality == "YELLOW"


def test_a_phone_number_quality_update_records_the_messaging_limit(deliver, channel):
    channel.display_phone_number = "15550783881"
    channel.save()
    deliver("phone_number_quality_update")
    channel.refresh_from_db()
    assert channel.messaging_limit.startswith("TIER_")


def test_a_partner_app_install_leaves_the_channel_active(deliver, channel):
    deliver("account_update_partner_app_installed")
    channel.refresh_from_db()
    assert channel.status == Channel.Status.ACTIVE


def test_an_account_restriction_is_shown_on_the_channel(deliver, channel):
    deliver("account_update_restriction")
    channel.refresh_from_db()
    assert "ACCOUNT_RESTRICTION" in channel.status_reason


def test_a_marketing_stop_preference_opts_the_contact_out(deliver, channel):
    conversation_with(channel, user_id=CUSTOMER_BSUID)
    deliver("user_preferences_stop")
    assert Contact.objects.get().marketing_opt_out is True


def test_an_unknown_field_is_kept_and_does_not_fail(deliver, channel):
    deliver("unknown_field")
    event = WebhookEvent.objects.get()
    assert event.state == WebhookEvent.State.PROCESSED
    assert bytes(event.body)


def test_message_timestamps_are_metas_not_ours(deliver, channel):
    deliver("text")
    assert only_message().timestamp < datetime(2026, 1, 1, tzinfo=UTC)
