"""The sandbox phone page: who may use it, what it sends to the emulator, how business messages look.

Cast: the owner (sends), a viewer (watches only), an outsider (sees nothing).
"""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_app.models import Channel
from cloudapi_emulator import ids
from cloudapi_emulator.models import Customer, Media, StatusEvent
from cloudapi_emulator.models import Message as EmulatorMessage
from cloudapi_emulator.services import customer_get_or_create, media_upload, template_add
from messaging_app.models import Message as PlatformMessage
from tests.conftest import wait_until
from tests.factories import ChannelFactory, WorkspaceFactory, member
from workspaces_app.models import Role

HTMX = {"HX-Request": "true"}


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, format="PNG")
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def sheena(sandbox_phone):
    return customer_get_or_create(number=sandbox_phone.number, name="Sheena Nelson", phone="16505551234")


def business_says(phone, customer, message_type, content, *, statuses=(), error_code=None, context_wamid="", **kw):
    """An outbound message in the emulator, as if the platform had sent it, with the statuses it emitted."""
    message = EmulatorMessage.objects.create(
        number=phone.number,
        customer=customer,
        direction=EmulatorMessage.Direction.OUTBOUND,
        wamid=ids.wamid(),
        message_type=message_type,
        content=content,
        context_wamid=context_wamid,
        created_at=timezone.now(),
        error_code=error_code,
        **kw,
    )
    for offset, status in enumerate(statuses):
        StatusEvent.objects.create(
            message=message,
            status=status,
            error_code=error_code if status == "failed" else None,
            due_at=timezone.now() + timedelta(milliseconds=offset),
            emitted_at=timezone.now() + timedelta(milliseconds=offset),
        )
    return message


def inbound(phone, customer):
    return EmulatorMessage.objects.filter(
        number=phone.number, customer=customer, direction=EmulatorMessage.Direction.INBOUND
    ).order_by("id")


# --- Who may use it ------------------------------------------------------------------------


def test_an_outsider_gets_404(client, sandbox_phone):
    outsider = member(WorkspaceFactory(), Role.OWNER)
    client.force_login(outsider)
    assert client.get(sandbox_phone.url).status_code == 404


def test_a_channel_of_another_workspace_is_not_found(signed_in, sandbox_phone):
    other = ChannelFactory(provider=Channel.Provider.SANDBOX)
    url = sandbox_phone.url.replace(str(sandbox_phone.channel.public_id), str(other.public_id))
    assert signed_in.get(url).status_code == 404


def test_a_cloud_api_channel_has_no_sandbox_phone(signed_in, sandbox_phone):
    Channel.objects.filter(pk=sandbox_phone.channel.pk).update(provider=Channel.Provider.CLOUD_API)
    assert signed_in.get(sandbox_phone.url).status_code == 404


def test_a_sandbox_channel_whose_number_the_emulator_does_not_know_is_not_found(signed_in, sandbox_phone):
    Channel.objects.filter(pk=sandbox_phone.channel.pk).update(phone_number_id="999999999999999")
    assert signed_in.get(sandbox_phone.url).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, sandbox_phone):
    response = client.get(sandbox_phone.url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_viewer_watches_the_chat_but_cannot_send(client, workspace, sandbox_phone, sheena):
    business_says(sandbox_phone, sheena, "text", {"body": "Welcome to Lucky Shrub"}, statuses=["sent"])
    client.force_login(member(workspace, Role.VIEWER))
    page = client.get(sandbox_phone.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Welcome to Lucky Shrub" in html and 'id="composer"' not in html
    response = client.post(sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"body": "Hello"})
    assert response.status_code == 403
    assert client.post(sandbox_phone.at("customers/"), {"name": "Eve", "phone": "447700900123"}).status_code == 403
    assert not inbound(sandbox_phone, sheena).exists()


def test_a_member_sees_the_phone_with_the_business_name_and_number(signed_in, sandbox_phone, sheena):
    html = signed_in.get(sandbox_phone.url).content.decode()
    assert 'class="phone-screen"' in html
    assert "Lucky Shrub" in html and "+1 555 010 0001" in html
    assert "Sheena Nelson" in html and 'id="composer"' in html
    assert "css/chat.css" in html
    assert "<script>" not in html.split("</head>")[1]  # the CSP forbids inline scripts


def test_the_page_says_how_to_start_when_there_are_no_customers(signed_in, sandbox_phone):
    html = signed_in.get(sandbox_phone.url).content.decode()
    assert "Add a customer to start chatting" in html


# --- Customers -----------------------------------------------------------------------------


def test_adding_a_customer_with_a_phone_selects_them(signed_in, sandbox_phone):
    response = signed_in.post(sandbox_phone.at("customers/"), {"name": "Pablo Morales", "phone": "+44 7700 900123"})
    customer = Customer.objects.get(number=sandbox_phone.number, name="Pablo Morales")
    assert customer.phone == "447700900123"
    assert response.status_code == 302 and response["Location"].endswith(f"?customer={customer.pk}")


def test_adding_a_username_only_customer_generates_a_bsuid(signed_in, sandbox_phone):
    signed_in.post(sandbox_phone.at("customers/"), {"name": "Ana", "username": "@ana.gomez"})
    customer = Customer.objects.get(number=sandbox_phone.number, name="Ana")
    assert customer.phone == "" and customer.username == "ana.gomez"
    assert customer.bsuid.startswith("US.")
    html = signed_in.get(f"{sandbox_phone.url}?customer={customer.pk}").content.decode()
    assert "@ana.gomez" in html and customer.bsuid in html


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "Eve", "phone": "555-CALL-NOW"}, "only digits"),
        ({"name": "Eve", "phone": "16505551234"}, "already has a customer with that phone"),
        ({"name": "Eve"}, "Give a phone number, or a username"),
        ({"name": "", "phone": "447700900123"}, "This field is required"),
    ],
    ids=["phone-not-digits", "duplicate-phone", "neither-phone-nor-username", "no-name"],
)
def test_a_bad_customer_is_refused_inline(signed_in, sandbox_phone, sheena, data, error):
    response = signed_in.post(sandbox_phone.at("customers/"), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert Customer.objects.filter(number=sandbox_phone.number).count() == 1


# --- Sending -------------------------------------------------------------------------------


def test_sending_a_text_reaches_the_platform_as_a_webhook(client, owner, wired_phone, emulator):
    client.force_login(owner)
    customer = emulator.customer(wired_phone.number, name="Sheena Nelson", phone="16505551234")
    response = client.post(wired_phone.at(f"customers/{customer.pk}/send/"), {"body": "Is the fern in stock? 🌿"})
    assert response.status_code == 302
    sent = inbound(wired_phone, customer).get()
    assert sent.message_type == "text" and sent.content == {"body": "Is the fern in stock? 🌿"}
    emulator.drain()
    received = wait_until(lambda: PlatformMessage.objects.filter(channel=wired_phone.channel, direction="in").first())
    assert received.content["body"] == "Is the fern in stock? 🌿"
    assert received.wamid == sent.wamid


def test_a_sent_text_answers_htmx_with_a_fresh_composer_and_refreshes_the_chat(signed_in, sandbox_phone, sheena):
    response = signed_in.post(sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"body": "Hi"}, headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "sandbox-sent"
    assert 'id="composer"' in response.content.decode() and 'value="Hi"' not in response.content.decode()


@pytest.mark.parametrize(
    ("url", "data", "error"),
    [
        ("send/", {"body": "   "}, "Type a message or attach a file"),
        ("send/", {"body": "", "file": ("fern.png", b"not an image at all", "image/png")}, "not a readable image"),
        ("send/", {"body": "", "file": ("empty.pdf", b"", "application/pdf")}, "empty"),
        ("send/", {"body": "Hi", "voice": "on"}, "voice note needs an audio file"),
        ("location/", {"latitude": "91", "longitude": "0"}, "Latitude is a number between -90 and 90"),
        ("location/", {"latitude": "10", "longitude": "-200"}, "Longitude is a number between -180 and 180"),
        ("location/", {"latitude": "north", "longitude": "0"}, "Latitude is a number"),
    ],
    ids=["empty", "unreadable-image", "empty-file", "voice-without-audio", "latitude", "longitude", "not-a-number"],
)
def test_bad_input_is_refused_inline_and_nothing_is_sent(signed_in, sandbox_phone, sheena, url, data, error):
    if "file" in data:
        data = {**data, "file": upload(*data["file"])}
    response = signed_in.post(sandbox_phone.at(f"customers/{sheena.pk}/{url}"), data, headers=HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert "wa-error" in response.content.decode() and error in response.content.decode()
    assert "HX-Trigger" not in response
    assert not inbound(sandbox_phone, sheena).exists()


def test_sending_an_image_stores_the_file_and_sends_it_with_its_caption(signed_in, sandbox_phone, sheena):
    data = png_bytes()
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/send/"),
        {"body": "This one?", "file": upload("fern.png", data, "image/png")},
    )
    sent = inbound(sandbox_phone, sheena).get()
    assert sent.message_type == "image"
    assert sent.content["caption"] == "This one?" and sent.content["mime_type"] == "image/png"
    media = Media.objects.get(media_id=sent.content["id"])
    assert bytes(media.data) == data and media.number == sandbox_phone.number
    served = signed_in.get(sandbox_phone.at(f"media/{media.media_id}/"))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served.content == data


def test_a_voice_note_is_audio_with_voice_true(signed_in, sandbox_phone, sheena):
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/send/"),
        {"body": "", "voice": "on", "file": upload("note.ogg", b"OggS\x00\x02" + b"\x00" * 40, "audio/ogg")},
    )
    sent = inbound(sandbox_phone, sheena).get()
    assert sent.message_type == "audio" and sent.content["voice"] is True


def test_a_document_keeps_its_filename_and_downloads(signed_in, sandbox_phone, sheena):
    pdf = b"%PDF-1.4\n%%EOF\n"
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/send/"),
        {"body": "My receipt", "file": upload("receipt.pdf", pdf, "application/pdf")},
    )
    sent = inbound(sandbox_phone, sheena).get()
    assert sent.message_type == "document" and sent.content["filename"] == "receipt.pdf"
    served = signed_in.get(sandbox_phone.at(f"media/{sent.content['id']}/"))
    assert served["Content-Disposition"].startswith("attachment") and "receipt.pdf" in served["Content-Disposition"]


def test_a_file_that_could_be_a_page_is_never_served_as_one(signed_in, sandbox_phone, sheena):
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/send/"),
        {"body": "", "file": upload("evil.html", b"<script>alert(1)</script>", "text/html")},
    )
    sent = inbound(sandbox_phone, sheena).get()
    served = signed_in.get(sandbox_phone.at(f"media/{sent.content['id']}/"))
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment")


def test_media_is_served_only_to_members_and_only_for_this_number(client, sandbox_phone, sheena):
    media = media_upload(number=sandbox_phone.number, data=png_bytes(), mime_type="image/png")
    url = sandbox_phone.at(f"media/{media.media_id}/")
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    client.force_login(member(WorkspaceFactory(), Role.OWNER))
    assert client.get(url).status_code == 404
    other_workspace = WorkspaceFactory()
    client.force_login(member(other_workspace, Role.OWNER))
    assert client.get(url).status_code == 404


def test_sharing_a_location_sends_its_coordinates_and_name(signed_in, sandbox_phone, sheena):
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/location/"),
        {"latitude": "51.5072", "longitude": "-0.1276", "name": "Covent Garden"},
    )
    sent = inbound(sandbox_phone, sheena).get()
    assert sent.message_type == "location"
    assert sent.content == {"latitude": 51.5072, "longitude": -0.1276, "name": "Covent Garden"}


def test_replying_quotes_the_message_and_sends_its_wamid_as_context(signed_in, sandbox_phone, sheena):
    question = business_says(sandbox_phone, sheena, "text", {"body": "Which size would you like?"})
    composer = signed_in.get(sandbox_phone.at(f"customers/{sheena.pk}/composer/"), {"reply_to": question.wamid})
    html = composer.content.decode()
    assert "Which size would you like?" in html and f'value="{question.wamid}"' in html
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"body": "The big one", "context_wamid": question.wamid}
    )
    sent = inbound(sandbox_phone, sheena).get()
    assert sent.context_wamid == question.wamid
    assert sent.payload["context"] == {"from": "15550100001", "id": question.wamid}
    page = signed_in.get(f"{sandbox_phone.url}?customer={sheena.pk}").content.decode()
    assert 'class="wa-quote"' in page


def test_a_reply_to_a_message_of_another_chat_is_refused(signed_in, sandbox_phone, sheena):
    pablo = customer_get_or_create(number=sandbox_phone.number, name="Pablo", phone="447700900123")
    elsewhere = business_says(sandbox_phone, pablo, "text", {"body": "Hi Pablo"})
    response = signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"body": "Hi", "context_wamid": elsewhere.wamid}, headers=HTMX
    )
    assert "not in this chat" in response.content.decode()
    assert not inbound(sandbox_phone, sheena).exists()


# --- Taps and reactions ---------------------------------------------------------------------

BUTTONS = {
    "type": "button",
    "body": {"text": "Deliver or pick up?"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "deliver", "title": "Deliver"}},
            {"type": "reply", "reply": {"id": "pickup", "title": "Pick up"}},
        ]
    },
}
LIST = {
    "type": "list",
    "header": {"type": "text", "text": "Shipping"},
    "body": {"text": "Which shipping option do you prefer?"},
    "footer": {"text": "Lucky Shrub"},
    "action": {
        "button": "Shipping Options",
        "sections": [
            {
                "title": "I want it ASAP!",
                "rows": [{"id": "priority_express", "title": "Priority Express", "description": "Next Day to 2 Days"}],
            },
            {"title": "I can wait", "rows": [{"id": "ground", "title": "Ground"}]},
        ],
    },
}


def test_tapping_a_reply_button_sends_a_button_reply_with_context(client, owner, wired_phone, emulator):
    client.force_login(owner)
    customer = emulator.customer(wired_phone.number, name="Sheena Nelson", phone="16505551234")
    question = business_says(wired_phone, customer, "interactive", BUTTONS)
    response = client.post(
        wired_phone.at(f"customers/{customer.pk}/tap/"), {"wamid": question.wamid, "choice": "pickup"}, headers=HTMX
    )
    assert response.status_code == 204 and response["HX-Trigger"] == "sandbox-sent"
    tap = inbound(wired_phone, customer).get()
    assert tap.message_type == "interactive" and tap.context_wamid == question.wamid
    assert tap.content == {"type": "button_reply", "button_reply": {"id": "pickup", "title": "Pick up"}}
    assert tap.payload["context"]["id"] == question.wamid
    emulator.drain()
    received = wait_until(lambda: PlatformMessage.objects.filter(channel=wired_phone.channel, direction="in").first())
    assert received.message_type == "interactive" and received.content["button_reply"]["id"] == "pickup"


def test_tapping_a_list_row_sends_a_list_reply_with_its_description(signed_in, sandbox_phone, sheena):
    question = business_says(sandbox_phone, sheena, "interactive", LIST)
    signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/tap/"), {"wamid": question.wamid, "choice": "priority_express"}
    )
    tap = inbound(sandbox_phone, sheena).get()
    assert tap.content == {
        "type": "list_reply",
        "list_reply": {"id": "priority_express", "title": "Priority Express", "description": "Next Day to 2 Days"},
    }
    assert tap.context_wamid == question.wamid


def test_tapping_a_template_quick_reply_sends_the_payload_from_the_send(signed_in, sandbox_phone, sheena):
    template_add(
        waba_id=sandbox_phone.number.waba_id,
        name="delivery_update",
        components=[
            {"type": "BODY", "text": "Hi {{1}}, your order ships today."},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop updates"}]},
        ],
    )
    sent = business_says(
        sandbox_phone,
        sheena,
        "template",
        {
            "name": "delivery_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "STOP_42"}],
                },
            ],
        },
    )
    signed_in.post(sandbox_phone.at(f"customers/{sheena.pk}/tap/"), {"wamid": sent.wamid, "choice": "0"})
    tap = inbound(sandbox_phone, sheena).get()
    assert tap.message_type == "button"
    assert tap.content == {"payload": "STOP_42", "text": "Stop updates"}
    assert tap.context_wamid == sent.wamid


def test_a_tap_on_a_button_the_message_does_not_have_is_refused(signed_in, sandbox_phone, sheena):
    question = business_says(sandbox_phone, sheena, "interactive", BUTTONS)
    response = signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/tap/"), {"wamid": question.wamid, "choice": "free-money"}
    )
    assert response.status_code == 400
    assert not inbound(sandbox_phone, sheena).exists()


def test_reacting_sends_a_reaction_and_the_same_emoji_again_takes_it_back(signed_in, sandbox_phone, sheena):
    message = business_says(sandbox_phone, sheena, "text", {"body": "Your fern has shipped"})
    react = sandbox_phone.at(f"customers/{sheena.pk}/react/")
    signed_in.post(react, {"wamid": message.wamid, "emoji": "👍"})
    html = signed_in.get(f"{sandbox_phone.url}?customer={sheena.pk}").content.decode()
    assert 'class="wa-reaction-mine" title="Your reaction">👍' in html
    signed_in.post(react, {"wamid": message.wamid, "emoji": "👍"})
    reactions = [m.content for m in inbound(sandbox_phone, sheena)]
    assert reactions == [{"message_id": message.wamid, "emoji": "👍"}, {"message_id": message.wamid, "emoji": ""}]
    html = signed_in.get(f"{sandbox_phone.url}?customer={sheena.pk}").content.decode()
    assert "wa-reaction-mine" not in html


def test_only_the_offered_emoji_can_be_sent(signed_in, sandbox_phone, sheena):
    message = business_says(sandbox_phone, sheena, "text", {"body": "Hi"})
    response = signed_in.post(
        sandbox_phone.at(f"customers/{sheena.pk}/react/"), {"wamid": message.wamid, "emoji": "<b>"}
    )
    assert response.status_code == 400


# --- How business messages render -------------------------------------------------------------


def chat_html(client, phone, customer) -> str:
    response = client.get(phone.at(f"customers/{customer.pk}/chat/"))
    assert response.status_code == 200
    return response.content.decode()


def test_a_text_renders_with_whatsapp_formatting_and_escaped(signed_in, sandbox_phone, sheena):
    business_says(sandbox_phone, sheena, "text", {"body": "*Hello* _there_ <script>alert(1)</script>\nBye"})
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert "<strong>Hello</strong> <em>there</em> &lt;script&gt;alert(1)&lt;/script&gt;<br>Bye" in html
    assert "<script>alert" not in html


def test_an_uploaded_image_renders_from_the_members_only_media_url(signed_in, sandbox_phone, sheena):
    media = media_upload(number=sandbox_phone.number, data=png_bytes(), mime_type="image/png")
    business_says(sandbox_phone, sheena, "image", {"id": media.media_id, "caption": "Our *best* fern"})
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert f'<img src="{sandbox_phone.url}media/{media.media_id}/"' in html
    assert "Our <strong>best</strong> fern" in html


def test_linked_media_shows_a_labelled_placeholder_with_the_url(signed_in, sandbox_phone, sheena):
    business_says(sandbox_phone, sheena, "image", {"link": "https://example.com/fern.jpg"})
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert "📷 Photo · link" in html and 'href="https://example.com/fern.jpg"' in html
    assert '<img src="https://example.com' not in html


@pytest.mark.parametrize(
    ("message_type", "content", "expected"),
    [
        (
            "document",
            {"filename": "invoice.pdf", "caption": "Your invoice"},
            ['class="wa-document"', "invoice.pdf", "PDF"],
        ),
        ("audio", {"voice": True}, ["<audio controls", "🎤"]),
        ("audio", {}, ["<audio controls", "🎵"]),
        ("video", {"caption": "Unboxing"}, ["<video", "Unboxing"]),
        ("sticker", {}, ["wa-kind-sticker", "<img"]),
    ],
    ids=["document", "voice", "audio", "video", "sticker"],
)
def test_uploaded_media_render_as_whatsapp_shows_them(
    signed_in, sandbox_phone, sheena, message_type, content, expected
):
    mime = {"document": "application/pdf", "audio": "audio/ogg", "video": "video/mp4", "sticker": "image/webp"}
    media = media_upload(number=sandbox_phone.number, data=b"x" * 64, mime_type=mime[message_type])
    business_says(sandbox_phone, sheena, message_type, {"id": media.media_id, **content})
    html = chat_html(signed_in, sandbox_phone, sheena)
    for piece in expected:
        assert piece in html
    assert f"media/{media.media_id}/" in html


def test_a_location_shows_its_name_address_and_coordinates(signed_in, sandbox_phone, sheena):
    business_says(
        sandbox_phone,
        sheena,
        "location",
        {"latitude": "37.44216", "longitude": "-122.16153", "name": "Philz Coffee", "address": "101 Forest Ave"},
    )
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert "Philz Coffee" in html and "101 Forest Ave" in html and "37.44216, -122.16153" in html


def test_contacts_show_names_and_phones(signed_in, sandbox_phone, sheena):
    contacts = [{"name": {"formatted_name": "John Smith"}, "phones": [{"phone": "+1 (650) 555-1234", "type": "WORK"}]}]
    business_says(sandbox_phone, sheena, "contacts", {"contacts": contacts})
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert "John Smith" in html and "+1 (650) 555-1234" in html


def test_reply_buttons_are_tappable_buttons(signed_in, sandbox_phone, sheena):
    message = business_says(sandbox_phone, sheena, "interactive", BUTTONS)
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert "Deliver or pick up?" in html
    assert html.count(f'name="wamid" value="{message.wamid}"><input type="hidden" name="choice"') == 2
    assert "↩ Deliver</button>" in html and "↩ Pick up</button>" in html


def test_a_list_shows_its_opener_sections_and_rows(signed_in, sandbox_phone, sheena):
    business_says(sandbox_phone, sheena, "interactive", LIST)
    html = chat_html(signed_in, sandbox_phone, sheena)
    for piece in ("☰ Shipping Options", "I want it ASAP!", "I can wait", "Priority Express", "Next Day to 2 Days"):
        assert piece in html
    assert 'name="choice" value="priority_express"' in html and 'name="choice" value="ground"' in html
    assert html.index("Shipping</div>") < html.index("Which shipping option") < html.index("Lucky Shrub</div>")


def test_a_cta_url_is_a_link_that_opens_in_a_new_tab(signed_in, sandbox_phone, sheena):
    content = {
        "type": "cta_url",
        "body": {"text": "Track your parcel"},
        "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://example.com/t/1"}},
    }
    business_says(sandbox_phone, sheena, "interactive", content)
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert 'href="https://example.com/t/1" target="_blank" rel="noopener noreferrer">↗ Track</a>' in html


def test_a_template_renders_its_header_body_footer_and_buttons_with_the_sent_values(signed_in, sandbox_phone, sheena):
    template_add(
        waba_id=sandbox_phone.number.waba_id,
        name="order_ready",
        parameter_format="named",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Order {{order}}"},
            {"type": "BODY", "text": "Hi {{first_name}}, your order is ready for pick-up."},
            {"type": "FOOTER", "text": "Lucky Shrub, Covent Garden"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "On my way"},
                    {"type": "URL", "text": "See order", "url": "https://shop.example/o/{{1}}"},
                ],
            },
        ],
    )
    business_says(
        sandbox_phone,
        sheena,
        "template",
        {
            "name": "order_ready",
            "language": {"code": "en_US"},
            "components": [
                {"type": "header", "parameters": [{"type": "text", "parameter_name": "order", "text": "#1042"}]},
                {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Sheena"}]},
                {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "1042"}]},
            ],
        },
        statuses=["sent", "delivered", "read"],
    )
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert "Order #1042" in html and "Hi Sheena, your order is ready for pick-up." in html
    assert "Lucky Shrub, Covent Garden" in html
    assert "↩ On my way</button>" in html
    assert 'href="https://shop.example/o/1042"' in html


def test_a_template_the_account_does_not_have_says_so(signed_in, sandbox_phone, sheena):
    business_says(sandbox_phone, sheena, "template", {"name": "gone", "language": {"code": "en_US"}})
    assert "Template “gone” (en_US) is not on this number" in chat_html(signed_in, sandbox_phone, sheena)


def test_a_business_reaction_is_a_badge_on_the_customers_message(signed_in, sandbox_phone, sheena):
    signed_in.post(sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"body": "Thanks so much!"})
    wamid = inbound(sandbox_phone, sheena).get().wamid
    business_says(sandbox_phone, sheena, "reaction", {"message_id": wamid, "emoji": "🙏"}, statuses=["sent"])
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert 'title="The business\'s reaction">🙏</span>' in html
    assert html.count('class="wa-row') == 1  # the reaction is no bubble of its own


def test_a_business_reply_shows_the_quoted_customer_message(signed_in, sandbox_phone, sheena):
    signed_in.post(sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"body": "Do you ship to Leeds?"})
    wamid = inbound(sandbox_phone, sheena).get().wamid
    business_says(sandbox_phone, sheena, "text", {"body": "Yes, we do!"}, context_wamid=wamid)
    html = chat_html(signed_in, sandbox_phone, sheena)
    assert '<div class="wa-quote wa-quote-mine"><strong>You</strong><span>Do you ship to Leeds?</span></div>' in html


@pytest.mark.parametrize(
    ("statuses", "error_code", "expected"),
    [
        ([], None, 'class="wa-ticks wa-ticks-pending" title="Pending"'),
        (["sent"], None, 'class="wa-ticks wa-ticks-sent" title="Sent" aria-label="Sent">✓</span>'),
        (
            ["sent", "delivered"],
            None,
            'class="wa-ticks wa-ticks-delivered" title="Delivered" aria-label="Delivered">✓✓',
        ),
        (["sent", "delivered", "read"], None, 'class="wa-ticks wa-ticks-read" title="Read" aria-label="Read">✓✓'),
        (
            ["failed"],
            131047,
            'class="wa-ticks wa-ticks-failed" title="Failed (131047)" aria-label="Failed (131047)">⚠ 131047',
        ),
    ],
    ids=["pending", "sent", "delivered", "read", "failed"],
)
def test_ticks_follow_the_statuses_emitted(signed_in, sandbox_phone, sheena, statuses, error_code, expected):
    business_says(sandbox_phone, sheena, "text", {"body": "Hello"}, statuses=statuses, error_code=error_code)
    assert expected in chat_html(signed_in, sandbox_phone, sheena)


def test_a_status_not_yet_emitted_shows_no_tick(signed_in, sandbox_phone, sheena):
    message = business_says(sandbox_phone, sheena, "text", {"body": "Hello"}, statuses=["sent"])
    StatusEvent.objects.create(message=message, status="read", due_at=timezone.now())
    assert "wa-ticks-sent" in chat_html(signed_in, sandbox_phone, sheena)


def test_the_chat_partial_answers_204_until_something_changes(signed_in, sandbox_phone, sheena):
    url = sandbox_phone.at(f"customers/{sheena.pk}/chat/")
    message = business_says(sandbox_phone, sheena, "text", {"body": "Hello"}, statuses=["sent"])
    first = signed_in.get(url, headers=HTMX)
    version = first.context["chat_version"]
    assert f'id="chat-version" name="v" value="{version}"' in first.content.decode()
    assert signed_in.get(url, {"v": version}, headers=HTMX).status_code == 204
    StatusEvent.objects.create(message=message, status="delivered", due_at=timezone.now(), emitted_at=timezone.now())
    changed = signed_in.get(url, {"v": version}, headers=HTMX)
    assert changed.status_code == 200 and "wa-ticks-delivered" in changed.content.decode()


def test_the_page_polls_the_chat_and_keeps_it_scrolled_to_the_bottom(signed_in, sandbox_phone, sheena):
    html = signed_in.get(sandbox_phone.url).content.decode()
    assert f'hx-get="{sandbox_phone.url}customers/{sheena.pk}/chat/"' in html
    assert 'hx-trigger="every 1s, sandbox-sent from:body"' in html
    assert 'hx-swap="innerHTML scroll:bottom"' in html
    assert '"X-CSRFToken":' in html


def test_a_photo_declaring_too_many_pixels_is_refused_inline_and_nothing_is_sent(signed_in, sandbox_phone, sheena):
    from tests.security.test_untrusted_images import png_declaring

    photo = upload("plan.png", png_declaring(7_000, 7_000), "image/png")
    response = signed_in.post(sandbox_phone.at(f"customers/{sheena.pk}/send/"), {"file": photo}, headers=HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert "wa-error" in response.content.decode() and "7,000×7,000 pixels" in response.content.decode()
    assert not EmulatorMessage.objects.exists()
