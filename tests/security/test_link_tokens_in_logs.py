"""Links whose path is the credential (invitations, password resets) never reach a log or the console."""

import io
import logging
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

from django.urls import reverse
from gunicorn.config import Config

from tests.factories import WorkspaceFactory, member
from whatsapp_platform import settings as project_settings
from workspaces_app.models import Role

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Qm9vW2V0aGVyZS1pcy1hLXRva2VuLWhlcmU"
REQUEST_LINE = f"GET /invitations/{TOKEN}/ HTTP/1.1"


def _procfile_gunicorn_config(access_log: Path) -> Config:
    """gunicorn's configuration as the Procfile's web process gets it, with the access log sent to a file."""
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    web = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m[2], web)  # ${WEB_WORKERS:-2}: the default, as sh reads it
    argv = shlex.split(web.removeprefix("web:"))
    argv = argv[next(i for i, word in enumerate(argv) if word.endswith("gunicorn")) + 1 :]
    config = Config()
    for name, value in vars(config.parser().parse_args(argv)).items():
        if value is not None and name != "args":
            config.set(name.lower(), value)
    config.set("accesslog", str(access_log))
    return config


def test_gunicorns_access_log_masks_an_invitation_token(tmp_path):
    access_log = tmp_path / "access.log"
    config = _procfile_gunicorn_config(access_log)
    logger = config.logger_class(config)
    request = SimpleNamespace(headers=[("USER-AGENT", "curl")], method="GET", path=f"/invitations/{TOKEN}/")
    response = SimpleNamespace(status="302 Found", response_length=0, sent=0, headers=[])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/invitations/{TOKEN}/",
        "PATH_INFO": f"/invitations/{TOKEN}/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
    }
    logger.access(response, request, environ, SimpleNamespace(seconds=0, microseconds=1200))
    for handler in logger.access_log.handlers:
        handler.flush()
    written = access_log.read_text()
    assert "/invitations/[redacted]/" in written
    assert TOKEN not in written


def test_runservers_access_log_masks_an_invitation_token():
    server_log = logging.getLogger("django.server")
    handlers = [h for h in server_log.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "runserver's access log has a handler"
    # Swapped without setStream, which flushes the stream it replaces: the handler may still hold an earlier
    # test's captured stderr, closed since.
    streams = [(handler, handler.stream) for handler in handlers]
    for handler in handlers:
        handler.stream = io.StringIO()
    try:
        server_log.info('"%s" %s %s', REQUEST_LINE, "302", "0")
        written = "".join(handler.stream.getvalue() for handler, _ in streams)
    finally:
        for handler, original in streams:
            handler.stream = original
    assert "/invitations/[redacted]/" in written
    assert TOKEN not in written


def test_the_development_email_backend_prints_invitations_with_the_token_masked(
    db, client, settings, capsys, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = project_settings.EMAIL_BACKEND  # what EMAIL_URL's default selects
    acme = WorkspaceFactory(slug="acme")
    client.force_login(member(acme, Role.OWNER))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("invitation_create", args=["acme"]), {"email": "new@acme.test", "role": "agent"})
    assert response.status_code == 302
    printed = capsys.readouterr().out
    assert "new@acme.test" in printed and "/invitations/[redacted]/" in printed
    assert "/invitations/" not in printed.replace("/invitations/[redacted]/", "")
