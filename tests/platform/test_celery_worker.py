"""Tasks make a real round trip: enqueued on commit, carried by the broker, run by a worker."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tests.conftest import wait_until
from tests.factories import WorkspaceFactory
from whatsapp_platform.celery import app
from workspaces_app.models import Invitation
from workspaces_app.tasks import invitations_expire


@pytest.mark.celery_worker
def test_a_task_travels_through_the_broker_to_a_real_worker(celery_worker):
    workspace = WorkspaceFactory()
    stale = Invitation.objects.create(
        workspace=workspace, email="late@x.test", token_hash="a" * 64, expires_at=timezone.now() - timedelta(days=1)
    )
    fresh = Invitation.objects.create(
        workspace=workspace, email="soon@x.test", token_hash="b" * 64, expires_at=timezone.now() + timedelta(days=1)
    )
    with transaction.atomic():
        transaction.on_commit(invitations_expire.delay)

    wait_until(lambda: Invitation.objects.get(pk=stale.pk).state == Invitation.State.EXPIRED)
    assert Invitation.objects.get(pk=fresh.pk).state == Invitation.State.PENDING


def test_the_broker_is_redis_whenever_redis_is_configured():
    if settings.REDIS_URL:
        assert app.conf.broker_url.startswith("redis://")
    else:
        assert app.conf.broker_url == "memory://"


def test_every_task_has_an_explicit_stable_name():
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert ours, "no tasks registered"
    for name in ours:
        task = app.tasks[name]
        assert not name.startswith(task.__module__), f"{name} uses the default module-path name"
        assert task.ignore_result, f"{name} keeps results"


def test_every_periodic_job_names_a_registered_task():
    for job in settings.PERIODIC_JOBS.values():
        assert job["task"] in app.tasks
