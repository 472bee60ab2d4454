"""Sending engine tasks once the transaction that decided them has committed."""

from django.db import transaction

from apps.core.context import current_request_id
from apps.monitoring.tasks import REQUEST_HEADER
from dcp.celery import app

TASK = "apps.provisioning.tasks.{}"


def after_commit(task: str, *args, countdown: float | None = None) -> None:
    """Queue a task by short name (e.g. ``reconcile_pool``) when the current transaction commits.

    Tasks are queued only after commit, so a worker never looks for rows that
    are not visible yet; a rolled-back decision queues nothing.
    """
    # The id of the request (or task) that decided it travels with it, for the task's log lines.
    headers = {REQUEST_HEADER: current_request_id()}
    transaction.on_commit(lambda: app.send_task(TASK.format(task), args=args, countdown=countdown, headers=headers))
