"""gunicorn's access log, with secrets masked like every other log line (`log_redaction`).

gunicorn writes its access log through its own logger, not Django's handlers, so the request line
(`/invitations/<token>/`, `?access_token=…`) would reach the log as sent. The Procfile selects this
class with `--logger-class`.
"""

from gunicorn.glogging import Logger

from whatsapp_platform.log_redaction import redact


class RedactingAccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value for name, value in atoms.items()}
