import logging
import smtplib

from celery import shared_task

from workspaces_app import services

logger = logging.getLogger(__name__)


@shared_task(name="workspaces.invitations_expire", ignore_result=True)
def invitations_expire() -> None:
    services.invitations_expire()


@shared_task(
    name="workspaces.invitation_email_send",
    ignore_result=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=6,
)
def invitation_email_send(invitation_id: int, accept_url: str) -> None:
    # The link is also shown to the inviter in the console, so a mail outage never strands an invitation.
    services.invitation_email_deliver(invitation_id=invitation_id, accept_url=accept_url)
