"""Pixel bombs: images that weigh kilobytes and declare hundreds of megapixels are refused before decoding,
wherever an image is opened (outbound sends and conversions, customers' files, profile photos).

The files are crafted by the tests: a PNG whose rows of zeros compress 6,000 to 1, and an 8-bit RLE BMP
whose rows are runs of one colour.
"""

import io
import resource
import struct
import zlib

import requests
from django.urls import reverse

from messaging_app.models import Message
from tests.conftest import wait_until
from tests.factories import api_key_for, member
from whatsapp_platform.images import MAX_IMAGE_PIXELS
from workspaces_app.models import Role


def png_declaring(width: int, height: int) -> bytes:
    """A valid greyscale PNG of `width` × `height` black pixels; 13,000 × 13,000 weighs 160 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    squeeze = zlib.compressobj(9)
    row = bytes(1 + width)  # filter "none", then the row's pixels
    pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def bmp_declaring(width: int, height: int) -> bytes:
    """An 8-bit RLE BMP of `width` × `height` pixels of one colour, each row a few runs of 255 pixels."""
    palette = bytes(4 * 256)
    full, rest = divmod(width, 255)
    row = b"\xff\x00" * full + (bytes([rest, 0]) if rest else b"") + b"\x00\x00"  # runs, then end of line
    pixels = row * height + b"\x00\x01"  # end of bitmap
    offset = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    return header + info + palette + pixels


def _peak_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _send_file(sandbox, data: bytes, filename: str, mime_type: str) -> requests.Response:
    return requests.post(
        sandbox.emulator.url + reverse("api_conversation_messages", args=[sandbox.conversation.pk]),
        data={"type": "image", "content": "{}"},
        files={"file": (filename, data, mime_type)},
        headers={"Authorization": f"Bearer {api_key_for(sandbox.channel.workspace)}"},
        timeout=30,
    )


def test_an_outbound_png_declaring_13000_by_13000_pixels_is_refused_over_the_api_and_nothing_is_queued(sandbox):
    bomb = png_declaring(13_000, 13_000)
    assert len(bomb) < 200_000

    answer = _send_file(sandbox, bomb, "plan.png", "image/png")

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "image_too_large" and error["field"] == "file"
    assert f"at most {MAX_IMAGE_PIXELS:,} pixels" in error["message"] and "Scale it down" in error["message"]
    assert not Message.objects.filter(direction="out").exists()


def test_an_outbound_bmp_to_convert_is_refused_before_its_pixels_are_decoded(sandbox):
    bomb = bmp_declaring(7_000, 7_000)  # 49 megapixels: decoding and converting took 250 MB
    before = _peak_memory_mb()

    answer = _send_file(sandbox, bomb, "plan.bmp", "image/bmp")

    assert answer.status_code == 422
    assert "The image is 7,000×7,000 pixels" in answer.json()["error"]["message"]
    assert _peak_memory_mb() - before < 100
    assert not Message.objects.filter(direction="out").exists()


def test_a_profile_photo_declaring_too_many_pixels_is_refused_on_the_form(sandbox, client):
    client.force_login(member(sandbox.channel.workspace, Role.OWNER))
    url = reverse("channel_profile", args=[sandbox.channel.workspace.slug, sandbox.channel.public_id])
    photo = io.BytesIO(png_declaring(7_000, 7_000))
    photo.name = "logo.png"

    response = client.post(url, {"about": "Hi", "photo": photo})

    assert response.status_code == 400
    assert "7,000×7,000 pixels" in str(response.context["form"].errors)


def test_a_customer_s_image_declaring_too_many_pixels_is_not_kept(sandbox):
    sandbox.emulator.customer_says(
        sandbox.number, sandbox.customer, "image", {"data": png_declaring(13_000, 13_000), "mime_type": "image/png"}
    )
    sandbox.emulator.drain()

    image = wait_until(lambda: Message.objects.filter(message_type="image", media_state="failed").first())
    assert image.media_error == f"The image is over {2 * MAX_IMAGE_PIXELS:,} pixels, too large to open."
    assert not image.media_file
