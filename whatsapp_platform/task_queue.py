"""Enqueue a Celery task by its stable name, so a service never imports the `tasks` module above it."""

from celery import current_app


def task_enqueue(name: str, *args, countdown: float = 0) -> None:
    """Send the task named `name` (see each app's tasks.py) to its queue, to run `countdown` seconds from now;
    in-process when tasks run eagerly.

    The registered task is used rather than `send_task`, which would bypass CELERY_TASK_ALWAYS_EAGER.
    """
    if name not in current_app.tasks:
        # A process that never imported the apps' tasks modules (the web process) runs Celery's autodiscovery.
        current_app.loader.import_default_modules()
    current_app.tasks[name].apply_async(args=args, countdown=countdown or None)
