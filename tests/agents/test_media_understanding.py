"""Voice notes and documents in words the model reads: end to end through the emulator and a loopback LLM,
and document formats one by one.

The cast: Sheena, a customer of Lucky Shrub; Fern, its OpenAI-compatible agent; Claude, an Anthropic one.
"""

import io
import json
import re
import resource
import time
import zipfile
import zlib

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone

from agents_app import document_reader
from agents_app.document_reader import MAX_EXTRACTED_CHARS
from agents_app.media_understanding import media_understanding
from agents_app.models import Agent, AgentRun
from messaging_app.bubbles import conversation_bubbles
from messaging_app.models import Conversation, Message
from tests.agents.llm_servers import anthropic_server, openai_server  # noqa: F401
from tests.conftest import wait_until
from tests.factories import AgentFactory, ChannelFactory, WorkspaceFactory, conversation_with

OGG = b"OggS\x00\x02" + bytes(200)  # the loopback server does not listen; any bytes will do
VOICE = {"data": OGG, "mime_type": "audio/ogg; codecs=opus", "voice": True}


def _pdf(*lines: str) -> bytes:
    """A small, valid one-page PDF with `lines` of Helvetica text, written by hand (xref offsets and all)."""
    shown = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {shown} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    return _pdf_file(objects)


# --- end to end: emulator customer → platform → loopback model --------------------------------


def _agent(sandbox, server, provider="openai", **kw) -> Agent:
    agent = AgentFactory(
        workspace=sandbox.channel.workspace,
        name="Claude" if provider == "anthropic" else "Fern",
        provider=provider,
        model="test-model",
        api_key="sk-test",
        base_url=server.base_url,
        debounce_seconds=0,
        **kw,
    )
    Conversation.objects.filter(pk=sandbox.conversation.pk).update(assigned_agent=agent, state="agent")
    return agent


def _say(sandbox, message_type="text", content=None, **kw):
    sandbox.emulator.customer_says(sandbox.number, sandbox.customer, message_type, content, **kw)
    sandbox.emulator.drain()


def _chat_requests(server) -> list:
    return [r for r in server.requests if r.path.endswith(("/chat/completions", "/messages"))]


def _transcriptions(server) -> list:
    return [r for r in server.requests if r.path == "/v1/audio/transcriptions"]


def test_a_voice_note_is_transcribed_once_and_its_words_reach_the_model(sandbox, openai_server):  # noqa: F811
    _agent(sandbox, openai_server)
    openai_server.reply_text("Two Boston ferns, delivered on Friday please")  # the transcription
    openai_server.reply_text("Lovely! Two Boston ferns on Friday 🌿")  # the chat completion
    _say(sandbox, "audio", VOICE)
    wait_until(lambda: AgentRun.objects.filter(status="answered").first())

    upload = _transcriptions(openai_server)[0]
    assert upload.fields["model"] == "whisper-1"
    assert upload.files["file"].data == OGG
    prompt = json.dumps(_chat_requests(openai_server)[-1].json["messages"], ensure_ascii=False)
    assert "[Voice note transcript] Two Boston ferns, delivered on Friday please" in prompt
    voice_note = Message.objects.get(message_type="audio")
    assert voice_note.transcript == "Two Boston ferns, delivered on Friday please"

    # The next turn has the voice note in its history again, and reads the stored transcript.
    _say(sandbox, content={"body": "And a pot for each"})
    wait_until(lambda: AgentRun.objects.filter(status="answered").count() == 2)
    assert len(_transcriptions(openai_server)) == 1
    assert "Two Boston ferns, delivered on Friday" in json.dumps(_chat_requests(openai_server)[-1].json["messages"])


def test_a_pdf_s_text_reaches_the_model_and_is_kept_on_the_message(sandbox, openai_server):  # noqa: F811
    _agent(sandbox, openai_server)
    openai_server.reply_text("Thanks, I see order 4411 🌿")
    pdf = _pdf("Order 4411", "2 x Monstera deliciosa")
    _say(sandbox, "document", {"data": pdf, "mime_type": "application/pdf", "filename": "order.pdf"})
    wait_until(lambda: AgentRun.objects.filter(status="answered").first())

    prompt = json.dumps(openai_server.last.json["messages"])
    assert "[Document order.pdf] Order 4411" in prompt
    assert "2 x Monstera deliciosa" in prompt
    assert "2 x Monstera deliciosa" in Message.objects.get(message_type="document").extracted_text


def test_an_anthropic_agent_is_told_a_voice_note_could_not_be_transcribed(sandbox, anthropic_server):  # noqa: F811
    _agent(sandbox, anthropic_server, provider="anthropic")
    anthropic_server.reply_text("Sorry, I can't listen to voice notes. Could you type it? 🙏")
    _say(sandbox, "audio", VOICE)
    wait_until(lambda: AgentRun.objects.filter(status="answered").first())

    prompt = json.dumps(anthropic_server.last.json["messages"])
    assert "voice note" in prompt and "could not be transcribed" in prompt
    assert "ask the customer to type it" in prompt
    assert Message.objects.get(message_type="audio").transcript == ""


def test_a_document_whose_download_is_still_pending_is_fetched_in_the_turn(sandbox):
    pdf = _pdf("Invoice 77")
    _say(sandbox, "document", {"data": pdf, "mime_type": "application/pdf", "filename": "invoice.pdf"})
    document = wait_until(lambda: Message.objects.filter(message_type="document", media_state="stored").first())
    # As if the turn ran before the fetch task: the media id is known, the file is not stored yet.
    Message.objects.filter(pk=document.pk).update(media_file="", media_state="pending", media_size=None)

    text = media_understanding(Message.objects.get(pk=document.pk))

    assert text == "[Document invoice.pdf] Invoice 77"
    assert Message.objects.get(pk=document.pk).media_state == "stored"


# --- one message at a time ----------------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _conversation(agent_provider="openai", base_url=""):
    workspace = WorkspaceFactory(name="Lucky Shrub")
    channel = ChannelFactory(workspace=workspace)
    agent = AgentFactory(workspace=workspace, name="Fern", provider=agent_provider, model="m", base_url=base_url)
    return conversation_with(channel, agent=agent)


def _received(conversation, message_type, data, *, mime_type, **content) -> Message:
    """A customer's media message whose file the fetch task has stored."""
    message = Message(
        workspace=conversation.workspace,
        channel=conversation.channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.INBOUND,
        message_type=message_type,
        content=content,
        timestamp=timezone.now(),
        sender=Message.Sender.CUSTOMER,
        status=Message.Status.RECEIVED,
        media_id="1234567890",
        media_mime_type=mime_type,
        media_size=len(data),
        media_state=Message.MediaState.STORED,
    )
    message.media_file.save(f"upload-{message_type}", ContentFile(data), save=False)
    message.save()
    return message


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Wedding order for Saturday")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plant", "Quantity"
    table.cell(1, 0).text, table.cell(1, 1).text = "Olive tree", "12"
    document.add_paragraph("Deliver before 9am.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Order"
    sheet.append(["Plant", "Quantity", None])
    sheet.append(["Fern", 3])
    workbook.create_sheet("Notes").append(["Ring the bell twice"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_word_document_s_paragraphs_and_tables_are_read_in_order(media_root):
    message = _received(_conversation(), "document", _docx(), mime_type="application/octet-stream", filename="w.docx")
    text = media_understanding(message)
    assert text == "[Document w.docx] Wedding order for Saturday\nPlant\tQuantity\nOlive tree\t12\nDeliver before 9am."
    assert Message.objects.get(pk=message.pk).extracted_text.startswith("Wedding order")


@pytest.mark.django_db
def test_a_workbook_s_sheets_are_read_with_cells_joined_by_tabs(media_root):
    xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    message = _received(_conversation(), "document", _xlsx(), mime_type=xlsx_type, filename="order.xlsx")
    text = media_understanding(message)
    assert text == "[Document order.xlsx] [Sheet Order]\nPlant\tQuantity\nFern\t3\n[Sheet Notes]\nRing the bell twice"


@pytest.mark.django_db
def test_a_csv_with_semicolons_is_read_with_its_delimiter_sniffed(media_root):
    data = b'plant;price;note\nFern;12,50;"shady; damp"\nCactus;8,00;sunny\n'
    message = _received(_conversation(), "document", data, mime_type="text/csv", filename="prices.csv")
    text = media_understanding(message)
    assert text == "[Document prices.csv] plant\tprice\tnote\nFern\t12,50\tshady; damp\nCactus\t8,00\tsunny"


@pytest.mark.django_db
def test_text_and_markdown_are_read_even_with_a_broken_byte(media_root):
    conversation = _conversation()
    txt = _received(conversation, "document", b"Caf\xe9 order: 2 ferns", mime_type="text/plain", filename="n.txt")
    markdown = _received(
        conversation, "document", "# Care\n\n- water weekly 💧".encode(), mime_type="", filename="c.md"
    )
    assert media_understanding(txt) == "[Document n.txt] Caf\ufffd order: 2 ferns"
    assert media_understanding(markdown) == "[Document c.md] # Care\n- water weekly 💧"


@pytest.mark.django_db
def test_a_long_document_is_cut_with_a_note_saying_so(media_root):
    data = ("word " * 10_000).encode()  # 50,000 characters
    message = _received(_conversation(), "document", data, mime_type="text/plain", filename="long.txt")
    text = media_understanding(message)
    assert len(text) < MAX_EXTRACTED_CHARS + 200
    assert text.endswith("only its first 20,000 characters are shown.]")


@pytest.mark.django_db
def test_a_corrupt_pdf_gives_a_sentence_saying_its_text_could_not_be_read(media_root):
    data = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nthis is not a pdf at all"
    message = _received(_conversation(), "document", data, mime_type="application/pdf", filename="order.pdf")
    text = media_understanding(message)
    assert text.startswith("[The customer sent a document, order.pdf, application/pdf")
    assert "Its text could not be read" in text
    assert Message.objects.get(pk=message.pk).extracted_text == ""


@pytest.mark.django_db
def test_a_password_protected_pdf_is_described_as_such(media_root):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf("Secret order"))))
    writer.encrypt(user_password="hunter2", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    message = _received(_conversation(), "document", out.getvalue(), mime_type="application/pdf", filename="s.pdf")
    assert "could not be read: it is protected by a password" in media_understanding(message)


@pytest.mark.django_db
def test_documents_too_large_or_of_an_unknown_kind_are_only_described(media_root):
    conversation = _conversation()
    big = _received(conversation, "document", b"x", mime_type="text/plain", filename="big.txt")
    Message.objects.filter(pk=big.pk).update(media_size=11 * 1024 * 1024)
    old_word = _received(
        conversation, "document", b"\xd0\xcf\x11\xe0", mime_type="application/msword", filename="a.doc"
    )
    assert "could not be read: it is larger than 10 MB" in media_understanding(Message.objects.get(pk=big.pk))
    assert "this kind of file is not supported" in media_understanding(old_word)


@pytest.mark.django_db
def test_videos_and_stickers_are_described_by_type_name_size_and_caption(media_root):
    conversation = _conversation()
    video = _received(conversation, "video", b"\x00" * 2048, mime_type="video/mp4", caption="My  fern is wilting")
    sticker = _received(conversation, "sticker", b"RIFF", mime_type="image/webp")
    assert (
        media_understanding(video)
        == '[The customer sent a video, video/mp4, 2,048 bytes, captioned "My fern is wilting".]'
    )
    assert media_understanding(sticker) == "[The customer sent a sticker, image/webp, 4 bytes.]"


@pytest.mark.django_db
def test_a_server_without_speech_to_text_is_asked_once_and_the_agent_is_told(media_root, openai_server):  # noqa: F811
    conversation = _conversation(base_url=openai_server.base_url)
    voice_note = _received(conversation, "audio", OGG, mime_type="audio/ogg; codecs=opus", voice=True)
    openai_server.fail(404, "Unknown request URL: POST /v1/audio/transcriptions.")

    first = media_understanding(voice_note)
    again = media_understanding(Message.objects.get(pk=voice_note.pk))

    assert "could not be transcribed (speech-to-text failed)" in first
    assert again == first
    assert len(openai_server.requests) == 1


@pytest.mark.django_db
def test_a_passing_transcription_failure_is_tried_again_on_the_next_turn(media_root, openai_server):  # noqa: F811
    conversation = _conversation(base_url=openai_server.base_url)
    voice_note = _received(conversation, "audio", OGG, mime_type="audio/ogg", voice=True)
    openai_server.fail(503, "overloaded")
    openai_server.reply_text("Is the shop open on Sunday?")

    assert "could not be transcribed" in media_understanding(voice_note)
    assert media_understanding(voice_note) == "[Voice note transcript] Is the shop open on Sunday?"
    assert Message.objects.get(pk=voice_note.pk).transcript == "Is the shop open on Sunday?"


# --- untrusted files: every reading is bounded -----------------------------------------------------
# The files are crafted here, as an attacker would: small to send, huge to read.


def _zip_rewritten(data: bytes, part: str, rewrite) -> bytes:
    """An Office file (a zip) with one part rewritten; `rewrite` may return the part's chunks, streamed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename != part:
                target.writestr(info.filename, body)
                continue
            with target.open(info.filename, "w", force_zip64=True) as written:
                for chunk in rewrite(body):
                    written.write(chunk)
    return out.getvalue()


def _workbook_declaring_a_million_rows() -> bytes:
    """A few KB whose one sheet has a cell in A1 and one in the very last cell a sheet can have."""
    last_cell = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>end</t></is></c></row></sheetData>'
    return _zip_rewritten(
        _xlsx(),
        "xl/worksheets/sheet1.xml",
        lambda sheet: [
            re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', sheet).replace(
                b"</sheetData>", last_cell
            )
        ],
    )


def _pdf_of_pages_sharing_one_heavy_stream(pages: int = 2000) -> bytes:
    """A few hundred KB: every page draws the same compressed stream of 20,000 empty text and path operators."""
    stream = zlib.compress(b"BT /F1 12 Tf " + b"() Tj 0 0 m 1 1 l S " * 20_000 + b"ET", 9)
    kids = b" ".join(b"%d 0 R" % (5 + page) for page in range(pages))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
    ] + [page + b"/Contents 4 0 R >>"] * pages
    return _pdf_file(objects)


def _docx_of_tiny_paragraphs(megabytes: int) -> bytes:
    """A Word document whose body is `megabytes` MB of one-letter paragraphs: a few hundred KB zipped."""
    paragraph = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"
    block = paragraph * (1024 * 1024 // len(paragraph))

    def body(xml: bytes):
        head, tail = xml.split(b"<w:body>")
        yield head + b"<w:body>"
        for _ in range(megabytes):
            yield block
        yield tail

    return _zip_rewritten(_docx(), "word/document.xml", body)


def _peak_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@pytest.mark.django_db
@pytest.mark.timeout(60)
def test_a_workbook_declaring_a_million_rows_is_read_only_up_to_the_row_bound(media_root):
    data = _workbook_declaring_a_million_rows()
    assert len(data) < 10_000
    message = _received(_conversation(), "document", data, mime_type="", filename="prices.xlsx")

    started = time.monotonic()
    text = media_understanding(message)

    assert time.monotonic() - started < 10
    first_sheet = "[Sheet Order]\nPlant\tQuantity\nFern\t3\n[Rows after row 2,000 not read]"
    assert text == f"[Document prices.xlsx] {first_sheet}\n[Sheet Notes]\nRing the bell twice"


@pytest.mark.django_db
@pytest.mark.timeout(60)
def test_a_pdf_whose_pages_share_one_heavy_stream_is_too_large_to_read_and_is_never_read_again(media_root, monkeypatch):
    monkeypatch.setattr(document_reader, "READ_CPU_SECONDS", 2)
    monkeypatch.setattr(document_reader, "READ_WALL_SECONDS", 4)
    message = _received(
        _conversation(), "document", _pdf_of_pages_sharing_one_heavy_stream(), mime_type="application/pdf"
    )

    started = time.monotonic()
    text = media_understanding(message)

    assert time.monotonic() - started < 8
    assert "Its text could not be read: it is too large to read" in text
    stored = Message.objects.get(pk=message.pk)
    assert stored.media_error.startswith("it is too large to read") and stored.extracted_text == ""
    # The next turns, and staff, see the same answer without a second reading (no cache involved).
    cache.clear()
    started = time.monotonic()
    assert media_understanding(stored) == text
    assert time.monotonic() - started < 0.5
    [bubble] = conversation_bubbles(stored.conversation)
    assert bubble.extra["notice"].startswith("The agent could not read this file: it is too large to read")


@pytest.mark.django_db
@pytest.mark.timeout(60)
def test_a_word_document_unpacking_to_90_mb_of_xml_is_too_large_to_read_without_the_memory(media_root):
    data = _docx_of_tiny_paragraphs(90)  # under the 100 MB unzip cap; python-docx needed 1.7 GB for it
    assert len(data) < 1024 * 1024
    message = _received(_conversation(), "document", data, mime_type="", filename="cv.docx")
    before = _peak_memory_mb()

    text = media_understanding(message)

    assert "Its text could not be read: it is too large to read" in text
    assert _peak_memory_mb() - before < 200


@pytest.mark.django_db
@pytest.mark.timeout(60)
def test_a_reader_running_out_of_memory_is_stopped_and_the_file_is_too_large_to_read(media_root, monkeypatch):
    # Under the XML part bound, but parsing it needs more than this (lowered) memory bound.
    monkeypatch.setattr(document_reader, "READ_MEMORY_BYTES", 200 * 1024 * 1024)
    message = _received(_conversation(), "document", _docx_of_tiny_paragraphs(9), mime_type="", filename="cv.docx")

    text = media_understanding(message)

    assert "Its text could not be read: it is too large to read (it needs over" in text
    assert "MB of memory" in text


def _pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1, the catalog first), with its cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
