"""Settings of the schedulers that tests/platform/test_one_scheduler.py starts side by side: one job every
second, sent to a queue of the test's own that no worker consumes, so what was sent can be counted."""

import os
from datetime import timedelta

from whatsapp_platform.settings import *  # noqa: F403

PERIODIC_JOBS = {"probe": {"task": "workspaces.invitations_expire", "every": 1}}
CELERY_BEAT_SCHEDULE = {"probe": {"task": "workspaces.invitations_expire", "schedule": timedelta(seconds=1)}}
CELERY_TASK_ROUTES = {"workspaces.invitations_expire": {"queue": os.environ["SCHEDULER_PROBE_QUEUE"]}}
HEARTBEAT_SECONDS = 1
