"""The business profile (`/<phone_number_id>/whatsapp_business_profile`) with Meta's limits, and its
photo through the Resumable Upload API: `POST /<app_id>/uploads`, `POST /upload:<session>`, then
`profile_picture_handle`.

The cast: the shop's number and token (tests/emulator/conftest.py), and an outsider business.
"""

import pytest

from tests.emulator.conftest import OUTSIDER_TOKEN, SHOP_TOKEN, error_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120
FIELDS = "about,address,description,email,profile_picture_url,websites,vertical"


def profile(graph, shop, fields: str = FIELDS, token: str | None = None):
    return graph.get(f"{shop.phone_number_id}/whatsapp_business_profile", {"fields": fields}, token=token)


def update(graph, shop, **fields):
    return graph.post(f"{shop.phone_number_id}/whatsapp_business_profile", {"messaging_product": "whatsapp", **fields})


def start_upload(graph, shop, data: bytes = PNG, file_type: str = "image/png", token: str | None = None):
    query = f"file_length={len(data)}&file_type={file_type}&file_name=shop.png"
    return graph.post(f"{shop.app.app_id}/uploads?{query}", token=token)


def send_bytes(client, session: str, data: bytes, offset: int = 0, scheme: str = "OAuth", token: str = SHOP_TOKEN):
    return client.post(
        f"/emulator/graph/v25.0/{session}",
        data,
        content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"{scheme} {token}",
        HTTP_FILE_OFFSET=str(offset),
    )


def upload(graph, client, shop, data: bytes = PNG, file_type: str = "image/png") -> str:
    session = start_upload(graph, shop, data, file_type).json()["id"]
    return send_bytes(client, session, data).json()["h"]


def test_a_new_profile_answers_only_the_messaging_product(graph, shop):
    assert profile(graph, shop).json() == {"data": [{"messaging_product": "whatsapp"}]}


def test_an_update_is_read_back(graph, shop):
    response = update(
        graph,
        shop,
        about="Succulent specialists!",
        address="1 Fern Street, London",
        description="We grow and deliver succulents.",
        email="hello@luckyshrub.test",
        vertical="RETAIL",
        websites=["https://luckyshrub.test/", "http://luckyshrub.test/shop"],
    )

    assert response.json() == {"success": True}
    assert profile(graph, shop).json() == {
        "data": [
            {
                "about": "Succulent specialists!",
                "address": "1 Fern Street, London",
                "description": "We grow and deliver succulents.",
                "email": "hello@luckyshrub.test",
                "websites": ["https://luckyshrub.test/", "http://luckyshrub.test/shop"],
                "vertical": "RETAIL",
                "messaging_product": "whatsapp",
            }
        ]
    }


def test_fields_not_sent_keep_their_values_and_only_asked_fields_come_back(graph, shop):
    update(graph, shop, about="Succulent specialists!", email="hello@luckyshrub.test")
    update(graph, shop, email="orders@luckyshrub.test")

    body = profile(graph, shop, fields="about,email").json()

    assert body == {
        "data": [
            {"about": "Succulent specialists!", "email": "orders@luckyshrub.test", "messaging_product": "whatsapp"}
        ]
    }


def test_an_unknown_field_is_an_error(graph, shop):
    assert error_of(profile(graph, shop, fields="about,colour"))["code"] == 100


def test_messaging_product_is_required(graph, shop):
    response = graph.post(f"{shop.phone_number_id}/whatsapp_business_profile", {"about": "Hi"})

    assert error_of(response)["code"] == 100


@pytest.mark.parametrize(
    "fields",
    [
        {"about": ""},
        {"about": "   "},
        {"about": "a" * 140},
        {"address": "a" * 257},
        {"description": "a" * 513},
        {"email": "a" * 120 + "@shop.test"},
        {"email": "not-an-email"},
        {"email": "two@@shop.test"},
        {"websites": ["https://a.test", "https://b.test", "https://c.test"]},
        {"websites": ["https://a.test/" + "a" * 242]},
        {"websites": ["luckyshrub.test"]},
        {"websites": ["ftp://luckyshrub.test"]},
        {"websites": "https://luckyshrub.test"},
        {"vertical": "SUCCULENTS"},
        {"vertical": "retail"},
        {"about": 42},
    ],
)
def test_values_past_metas_limits_are_invalid_parameter_and_change_nothing(graph, shop, fields):
    update(graph, shop, about="Succulent specialists!")

    response = update(graph, shop, **{"description": "Changed too?", **fields})

    assert response.status_code == 400
    assert error_of(response)["code"] == 100
    assert profile(graph, shop, fields="about,description").json()["data"][0] == {
        "about": "Succulent specialists!",
        "messaging_product": "whatsapp",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"about": "a" * 139},
        {"address": "a" * 256},
        {"description": "a" * 512},
        {"email": "a" * 118 + "@shop.test"},
        {"websites": ["https://a.test/" + "a" * 241, "https://b.test"]},
        {"vertical": "PROF_SERVICES"},
        {"about": "Plants 🌵 for everyone"},
    ],
)
def test_values_at_metas_limits_are_accepted(graph, shop, fields):
    assert update(graph, shop, **fields).json() == {"success": True}


def test_another_business_cannot_read_or_change_this_profile(graph, shop, outsider):
    assert error_of(profile(graph, shop, token=OUTSIDER_TOKEN))["code"] == 100
    assert (
        error_of(
            graph.post(
                f"{shop.phone_number_id}/whatsapp_business_profile",
                {"messaging_product": "whatsapp", "about": "Mine now"},
                token=OUTSIDER_TOKEN,
            )
        )["code"]
        == 100
    )


def test_an_upload_session_starts_with_an_upload_id(graph, shop):
    response = start_upload(graph, shop)

    assert response.status_code == 200
    assert response.json()["id"].startswith("upload:")


@pytest.mark.parametrize(
    "query",
    ["file_length=0&file_type=image/png", "file_length=ten&file_type=image/png", "file_length=10&file_type=image/gif"],
)
def test_an_upload_session_needs_a_length_and_a_supported_type(graph, shop, query):
    assert error_of(graph.post(f"{shop.app.app_id}/uploads?{query}"))["code"] == 100


def test_only_a_token_of_the_app_can_start_an_upload_for_it(graph, shop, outsider):
    assert error_of(start_upload(graph, shop, token=OUTSIDER_TOKEN))["code"] == 100


@pytest.mark.parametrize("scheme", ["OAuth", "Bearer"])
def test_the_bytes_sent_from_offset_0_return_a_file_handle(graph, client, shop, scheme):
    session = start_upload(graph, shop).json()["id"]

    response = send_bytes(client, session, PNG, scheme=scheme)

    assert response.status_code == 200
    assert response.json()["h"]


def test_an_interrupted_upload_resumes_from_the_offset_it_reports(graph, client, shop):
    session = start_upload(graph, shop).json()["id"]
    send_bytes(client, session, PNG[:50])

    where = graph.get(session).json()
    wrong = send_bytes(client, session, PNG[60:], offset=60)
    finished = send_bytes(client, session, PNG[50:], offset=50)

    assert where == {"id": session, "file_offset": 50}
    assert error_of(wrong)["code"] == 100
    assert finished.json()["h"]


def test_more_bytes_than_declared_are_refused(graph, client, shop):
    session = start_upload(graph, shop).json()["id"]

    assert error_of(send_bytes(client, session, PNG + b"extra"))["code"] == 100


def test_another_business_cannot_send_into_the_session(graph, client, shop, outsider):
    session = start_upload(graph, shop).json()["id"]

    assert error_of(send_bytes(client, session, PNG, token=OUTSIDER_TOKEN))["code"] == 100


def test_a_photo_handle_sets_a_profile_picture_url_that_serves_the_image(graph, client, shop):
    handle = upload(graph, client, shop)

    response = update(graph, shop, profile_picture_handle=handle)
    url = profile(graph, shop, fields="profile_picture_url").json()["data"][0]["profile_picture_url"]
    image = client.get(url.removeprefix("http://testserver"))

    assert response.json() == {"success": True}
    assert url.startswith("http://testserver/emulator/profile-pictures/")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image.content == PNG


def test_a_new_photo_gets_a_new_url_and_the_old_one_stops_working(graph, client, shop):
    update(graph, shop, profile_picture_handle=upload(graph, client, shop))
    old = profile(graph, shop, fields="profile_picture_url").json()["data"][0]["profile_picture_url"]

    update(graph, shop, profile_picture_handle=upload(graph, client, shop, data=PNG + b"\x01"))
    new = profile(graph, shop, fields="profile_picture_url").json()["data"][0]["profile_picture_url"]

    assert new != old
    assert client.get(old.removeprefix("http://testserver")).status_code == 404
    assert client.get(new.removeprefix("http://testserver")).content == PNG + b"\x01"


def test_an_unknown_or_unfinished_handle_is_refused(graph, client, shop):
    session = start_upload(graph, shop).json()["id"]
    send_bytes(client, session, PNG[:10])

    assert error_of(update(graph, shop, profile_picture_handle="4::aW1hZ2UvcG5n:nope"))["code"] == 100
    assert profile(graph, shop, fields="profile_picture_url").json()["data"][0] == {"messaging_product": "whatsapp"}


def test_a_pdf_cannot_be_the_profile_picture(graph, client, shop):
    handle = upload(graph, client, shop, data=b"%PDF-1.4 menu", file_type="application/pdf")

    assert error_of(update(graph, shop, profile_picture_handle=handle))["code"] == 100


def test_the_display_name_and_its_review_state_are_readable(graph, shop):
    body = graph.get(shop.phone_number_id, {"fields": "verified_name,name_status,new_name_status"}).json()

    assert body == {
        "verified_name": "Lucky Shrub",
        "name_status": "APPROVED",
        "new_name_status": "NONE",
        "id": shop.phone_number_id,
    }
