"""A document's text, read in a short-lived child process that cannot take the worker with it.

Customers' files are crafted by whoever sends them: a 5 KB workbook can declare a million rows, a
300 KB PDF can make two thousand pages share one heavy content stream, a DOCX under the unzip cap
can need 1.7 GB once parsed. Parsers are not written to refuse such files, so this module reads them
in a child Python with limits the kernel enforces (address space, CPU seconds) and a wall-clock
deadline the parent enforces (the child is killed). Inside, reading stops at MAX_EXTRACTED_CHARS,
MAX_PDF_PAGES pages and MAX_SHEET_ROWS × MAX_SHEET_COLUMNS cells a sheet.

`document_text_read` is the parent's side. Run as a script (`python document_reader.py KIND`, the
file on stdin), the module is the child: it imports nothing of the project and no Django, so it
starts in a fraction of a second.
"""

import csv
import io
import json
import logging
import resource
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

# About 5,000 tokens: enough for an order form, an invoice or a CV, small enough to keep in every turn.
MAX_EXTRACTED_CHARS = 20_000
MAX_SHEETS = 3
MAX_SHEET_ROWS = 2_000
MAX_SHEET_COLUMNS = 50
MAX_PDF_PAGES = 100
# DOCX and XLSX are zip archives: a small file can unpack to gigabytes.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# An XML part parsed whole (a document's body, a workbook's shared strings) takes about 20 times its size
# in memory; worksheets are streamed and exempt.
MAX_XML_PART_BYTES = 10 * 1024 * 1024
# The child's bounds. Its interpreter and the parsers take about 190 MB of address space before reading.
READ_MEMORY_BYTES = 512 * 1024 * 1024
READ_CPU_SECONDS = 15
# Well inside the agent turn's lease (120 s by default), so a slow file never lets the lease lapse; the
# child's CPU limit usually ends it first.
READ_WALL_SECONDS = 20

CUT_NOTE = f"[The document goes on; only its first {MAX_EXTRACTED_CHARS:,} characters are shown.]"
KIND_NAMES = {"pdf": "PDF", "docx": "Word document", "xlsx": "Excel workbook", "csv": "CSV file", "text": "text file"}


class DocumentUnreadable(Exception):
    """The document's text cannot be had; `str(error)` says why, for the model and staff. Trying again won't help."""


class DocumentTooLarge(DocumentUnreadable):
    """Reading it went past a bound (time, memory, unpacked size)."""


def document_text_read(kind: str, data: bytes) -> str:
    """The text of a document of `kind` (pdf, docx, xlsx, csv, text), at most MAX_EXTRACTED_CHARS plus a note
    when cut. Raises DocumentTooLarge past a bound, DocumentUnreadable for a damaged, locked or empty file."""
    try:
        finished = subprocess.run(  # noqa: S603 - our own interpreter and script; the file goes in on stdin
            # -I: no PYTHON* variables, and this script's folder is not on sys.path (agents_app/selectors.py
            # would shadow the standard library's selectors).
            [sys.executable, "-I", str(Path(__file__).resolve()), kind, str(READ_MEMORY_BYTES), str(READ_CPU_SECONDS)],
            input=data,
            capture_output=True,
            timeout=READ_WALL_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed the child
        raise DocumentTooLarge(f"it is too large to read (reading it takes over {READ_WALL_SECONDS} seconds)") from exc
    if finished.returncode < 0:
        # Killed by the kernel: over its CPU seconds (SIGXCPU), or a parser that crashed on a failed allocation.
        raise DocumentTooLarge(too_large_reason("cpu_or_memory"))
    try:
        answer = json.loads(finished.stdout)
    except ValueError:
        logger.warning(
            "document reader failed", extra={"kind": kind, "error": finished.stderr.decode(errors="replace")[-2000:]}
        )
        raise DocumentUnreadable(damaged_reason(kind)) from None
    if "text" in answer:
        return answer["text"]
    if answer.get("too_large"):
        raise DocumentTooLarge(answer["reason"])
    raise DocumentUnreadable(answer["reason"])


def too_large_reason(bound: str) -> str:
    detail = {
        "memory": f"it needs over {READ_MEMORY_BYTES // (1024 * 1024)} MB of memory",
        "cpu_or_memory": f"it needs over {READ_CPU_SECONDS} seconds of work or "
        f"{READ_MEMORY_BYTES // (1024 * 1024)} MB of memory",
        "unpacked": f"it unpacks to over {MAX_UNPACKED_BYTES // (1024 * 1024)} MB",
        "xml_part": f"a part of it unpacks to over {MAX_XML_PART_BYTES // (1024 * 1024)} MB of XML",
    }[bound]
    return f"it is too large to read ({detail})"


def damaged_reason(kind: str) -> str:
    return f"the file is damaged or is not really a {KIND_NAMES[kind]}"


# --- the child ----------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, reason: str, *, too_large: bool = False):
        super().__init__(reason)
        self.too_large = too_large


def _child_main(kind: str, memory_bytes: int, cpu_seconds: int) -> None:
    # Before the file is read, so no part of reading it escapes the bounds.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    data = sys.stdin.buffer.read()
    try:
        answer = {"text": _document_text(kind, data, memory_bytes=memory_bytes)}
    except _Refused as exc:
        answer = {"reason": str(exc), "too_large": exc.too_large}
    sys.stdout.write(json.dumps(answer))


def _document_text(kind: str, data: bytes, *, memory_bytes: int) -> str:
    lines = {"pdf": _pdf_lines, "docx": _docx_lines, "xlsx": _xlsx_lines, "csv": _csv_lines, "text": _text_lines}
    try:
        text, cut = _first_chars(lines[kind](data), MAX_EXTRACTED_CHARS)
    except _Refused:
        raise
    except MemoryError as exc:
        raise _Refused(too_large_reason("memory"), too_large=True) from exc
    except Exception as exc:
        # lxml reports a failed allocation as "unknown error": a parser that fails after taking most of
        # the memory it may have ran out of it, whatever it says.
        if resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 > memory_bytes // 2:
            raise _Refused(too_large_reason("memory"), too_large=True) from exc
        # Parsers fail on broken files with every exception type there is; all mean the same to the customer.
        raise _Refused(damaged_reason(kind)) from exc
    if not text.strip():
        raise _Refused("it has no text layer (it may be a scan or a photo)" if kind == "pdf" else "it is empty")
    return f"{text}\n{CUT_NOTE}" if cut else text


def _first_chars(lines: Iterator[str], limit: int) -> tuple[str, bool]:
    """Join non-empty lines until `limit` characters; reading stops there, so a long file is not parsed whole."""
    kept: list[str] = []
    size = 0
    try:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            if size + len(line) > limit:
                rest = line[: max(0, limit - size)]
                # Cut at a word boundary when there is one near the end.
                space = rest.rfind(" ", len(rest) - 200)
                kept.append(rest[:space] if space > 0 else rest)
                return "\n".join(kept), True
            kept.append(line)
            size += len(line) + 1
    finally:
        if hasattr(lines, "close"):
            lines.close()  # runs the generator's cleanup (an open workbook) when we stop early
    return "\n".join(kept), False


def _pdf_lines(data: bytes) -> Iterator[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    # Many PDFs are "encrypted" only against editing, with an empty password to open them.
    if reader.is_encrypted and not reader.decrypt(""):
        raise _Refused("it is protected by a password")
    pages = len(reader.pages)
    for number in range(min(pages, MAX_PDF_PAGES)):
        yield reader.pages[number].extract_text() or ""
    if pages > MAX_PDF_PAGES:
        yield f"[{pages - MAX_PDF_PAGES:,} more page(s) not read]"


def _docx_lines(data: bytes) -> Iterator[str]:
    import docx
    from docx.table import Table

    _zip_check(data)
    document = docx.Document(io.BytesIO(data))
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                yield "\t".join(_cell(cell.text) for cell in row.cells)
        else:
            yield block.text


def _xlsx_lines(data: bytes) -> Iterator[str]:
    import openpyxl

    _zip_check(data)
    # read_only streams rows instead of building the whole workbook; data_only gives formulas' last values.
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        for sheet in sheets[:MAX_SHEETS]:
            yield f"[Sheet {sheet.title}]"
            # Rows are walked up to the last one the file declares, empty ones included: bound the walk itself.
            walked = 0
            for row in sheet.iter_rows(max_row=MAX_SHEET_ROWS, max_col=MAX_SHEET_COLUMNS, values_only=True):
                walked += 1
                cells = ["" if value is None else _cell(str(value)) for value in row]
                while cells and not cells[-1]:
                    cells.pop()
                yield "\t".join(cells)
            if walked >= MAX_SHEET_ROWS:
                yield f"[Rows after row {MAX_SHEET_ROWS:,} not read]"
        if len(sheets) > MAX_SHEETS:
            yield f"[{len(sheets) - MAX_SHEETS} more sheet(s) not shown]"
    finally:
        workbook.close()


def _csv_lines(data: bytes) -> Iterator[str]:
    text = _decoded(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel  # one column, or too irregular to tell: commas it is
    for row in csv.reader(io.StringIO(text), dialect):
        yield "\t".join(_cell(value) for value in row)


def _text_lines(data: bytes) -> Iterator[str]:
    yield from _decoded(data).splitlines()


def _decoded(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


def _cell(value: str) -> str:
    # Tabs and line breaks separate cells and rows in what the model reads; inside a cell they become spaces.
    return " ".join(value.split())


def _zip_check(data: bytes) -> None:
    """Refuse by the sizes the archive declares; zipfile stops reading a member at its declared size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        # Password-protected Office files are not zips at all, so they end up here too.
        raise _Refused("the file is damaged or protected by a password") from exc
    if sum(info.file_size for info in members) > MAX_UNPACKED_BYTES:
        raise _Refused(too_large_reason("unpacked"), too_large=True)
    parsed_whole = [
        info for info in members if info.filename.endswith(".xml") and not info.filename.startswith("xl/worksheets/")
    ]
    if any(info.file_size > MAX_XML_PART_BYTES for info in parsed_whole):
        raise _Refused(too_large_reason("xml_part"), too_large=True)


if __name__ == "__main__":
    _child_main(sys.argv[1], memory_bytes=int(sys.argv[2]), cpu_seconds=int(sys.argv[3]))
