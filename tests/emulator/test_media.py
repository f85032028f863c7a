"""Media: upload with Meta's type and size table, the URL that expires after 5 minutes, download
with the bearer token, delete."""

import base64
import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cloudapi_emulator import clock, services
from tests.emulator.conftest import OUTSIDER_TOKEN, SHOP_TOKEN, error_of

JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 300 + b"\xff\xd9"


def upload(graph, number, content: bytes, mime: str, name: str = "file.bin", **fields):
    handle = io.BytesIO(content)
    handle.name = name
    data = {"messaging_product": "whatsapp", "type": mime, "file": handle, **fields}
    return graph.upload(f"{number.phone_number_id}/media", data)


def test_an_upload_answers_a_media_id(graph, shop):
    response = upload(graph, shop, JPEG, "image/jpeg", "photo.jpg")

    assert response.status_code == 200
    assert response.json()["id"].isdigit()


def test_the_media_id_gives_url_mime_type_sha256_and_size(graph, shop):
    media_id = upload(graph, shop, JPEG, "image/jpeg", "photo.jpg").json()["id"]

    info = graph.get(media_id).json()

    assert info["id"] == media_id
    assert info["messaging_product"] == "whatsapp"
    assert info["mime_type"] == "image/jpeg"
    assert info["file_size"] == str(len(JPEG))
    assert info["sha256"] == base64.b64encode(hashlib.sha256(JPEG).digest()).decode()
    assert info["url"].startswith("http://testserver/emulator/media/")


def test_the_url_downloads_the_bytes_with_the_bearer_token(graph, client, shop):
    media_id = upload(graph, shop, JPEG, "image/jpeg", "photo.jpg").json()["id"]
    url = graph.get(media_id).json()["url"]

    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == JPEG


def test_a_download_without_the_token_is_401(graph, client, shop):
    media_id = upload(graph, shop, JPEG, "image/jpeg").json()["id"]
    url = graph.get(media_id).json()["url"]

    assert client.get(url).status_code == 401


def test_the_url_expires_after_five_minutes_and_a_fresh_one_works(graph, client, shop):
    media_id = upload(graph, shop, JPEG, "image/jpeg").json()["id"]
    old_url = graph.get(media_id).json()["url"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {SHOP_TOKEN}"}

    clock.advance(299)
    try:
        still_fine = client.get(old_url, **auth).status_code
        clock.advance(2)
        expired = client.get(old_url, **auth).status_code
        new_url = graph.get(media_id).json()["url"]
        fresh = client.get(new_url, **auth).status_code
    finally:
        clock.reset()

    assert (still_fine, expired, fresh) == (200, 404, 200)
    assert new_url != old_url


def test_media_urls_expire_on_demand(graph, client, shop):
    media_id = upload(graph, shop, JPEG, "image/jpeg").json()["id"]
    url = graph.get(media_id).json()["url"]

    services.media_urls_expire()

    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}").status_code == 404


def test_the_url_lifetime_is_configurable(graph, client, shop, settings):
    settings.WHATSAPP_EMULATOR_MEDIA_URL_TTL_SECONDS = 10
    media_id = upload(graph, shop, JPEG, "image/jpeg").json()["id"]
    url = graph.get(media_id).json()["url"]

    clock.advance(11)
    try:
        status = client.get(url, HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}").status_code
    finally:
        clock.reset()

    assert status == 404


def test_deleted_media_is_gone(graph, client, shop):
    media_id = upload(graph, shop, JPEG, "image/jpeg").json()["id"]
    url = graph.get(media_id).json()["url"]

    deleted = graph.delete(media_id)

    assert deleted.json() == {"success": True}
    assert graph.get(media_id).status_code == 400
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}").status_code == 404


def test_another_business_cannot_read_the_media(graph, shop, outsider):
    media_id = upload(graph, shop, JPEG, "image/jpeg").json()["id"]

    response = graph.get(media_id, token=OUTSIDER_TOKEN)

    assert error_of(response)["code"] == 100


@pytest.mark.parametrize(
    ("mime", "size"),
    [
        ("image/jpeg", 5 * 1024 * 1024),
        ("image/webp", 500 * 1024),
        ("audio/ogg", 1000),
        ("application/pdf", 1000),
        ("video/mp4", 1000),
        ("text/plain", 10),
    ],
)
def test_supported_types_up_to_their_size_limit_are_accepted(graph, shop, mime, size):
    assert upload(graph, shop, b"x" * size, mime).status_code == 200


@pytest.mark.parametrize(
    ("mime", "size"),
    [("image/jpeg", 5 * 1024 * 1024 + 1), ("image/webp", 500 * 1024 + 1), ("image/gif", 100), ("video/avi", 100)],
    ids=["image-over-5-mb", "sticker-over-500-kb", "gif-unsupported", "avi-unsupported"],
)
def test_unsupported_types_or_oversized_files_are_refused_with_131053(graph, shop, mime, size):
    response = upload(graph, shop, b"x" * size, mime)

    assert response.status_code == 400
    assert error_of(response)["code"] == 131053


def test_a_type_that_contradicts_the_file_is_refused_with_131053(graph, shop):
    file = SimpleUploadedFile("photo.jpg", JPEG, content_type="image/jpeg")
    response = graph.upload(
        f"{shop.phone_number_id}/media", {"messaging_product": "whatsapp", "type": "video/mp4", "file": file}
    )

    assert error_of(response)["code"] == 131053


def test_an_upload_needs_messaging_product_and_a_file(graph, shop):
    without_product = graph.upload(f"{shop.phone_number_id}/media", {"type": "image/jpeg"})
    without_file = graph.upload(f"{shop.phone_number_id}/media", {"messaging_product": "whatsapp"})

    assert error_of(without_product)["code"] == 100
    assert error_of(without_file)["code"] == 100


def test_media_a_customer_sent_can_be_fetched_by_the_business(graph, client, shop, sheena):
    services.customer_message_send(
        number=shop,
        customer=sheena,
        message_type="document",
        content={"data": b"%PDF-1.4 receipt", "mime_type": "application/pdf", "filename": "receipt.pdf"},
    )
    from tests.emulator.conftest import outbox_payloads

    document = outbox_payloads(shop)[-1]["entry"][0]["changes"][0]["value"]["messages"][0]["document"]
    info = graph.get(document["id"]).json()

    body = client.get(info["url"], HTTP_AUTHORIZATION=f"Bearer {SHOP_TOKEN}").content
    assert body == b"%PDF-1.4 receipt"
    assert document["sha256"] == info["sha256"]
    assert document["filename"] == "receipt.pdf"
