"""The development email backend: Django's console backend, with link credentials masked.

Invitation, password-reset and email-confirmation links carry their credential in the path; the console
backend writes whole messages to stdout, which ends up in the same logs as everything else. The console
shows an invitation's link to whoever created it, so nothing is lost for development.
"""

import io

from django.core.mail.backends.console import EmailBackend

from whatsapp_platform.log_redaction import redact


class RedactingConsoleEmailBackend(EmailBackend):
    def write_message(self, message) -> None:
        stream, buffer = self.stream, io.StringIO()
        self.stream = buffer
        try:
            super().write_message(message)
        finally:
            self.stream = stream
        stream.write(redact(buffer.getvalue()))
