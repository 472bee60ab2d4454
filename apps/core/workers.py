"""Which Celery workers run, and which of DCP's queues each consumes.

Brokers cannot be asked this the same way: Redis keeps no list of consumers, the embedded filesystem
transport has none at all, and only AMQP counts them. So each worker says it itself: the consumer
bootstep ``Heartbeat`` writes a ``WorkerHeartbeat`` row when the worker starts consuming and every
``HEARTBEAT_SECONDS`` after, and deletes it when the worker stops consuming (shutdown, lost broker).
A worker killed outright leaves its row behind; it stops counting ``ALIVE_SECONDS`` after its last
heartbeat. /healthz and ``manage.py serve`` read the rows with one query and no broker round trip.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import timedelta

from celery import bootsteps

logger = logging.getLogger(__name__)

#: Seconds between two heartbeats of a worker.
HEARTBEAT_SECONDS = 10
#: A worker counts as running while its last heartbeat is younger than this (three missed beats).
ALIVE_SECONDS = 3 * HEARTBEAT_SECONDS
#: Rows of workers gone this long are deleted when a worker starts.
FORGET_AFTER = timedelta(days=1)


def _database_time_ago(delta: timedelta):
    """An expression for the database's clock minus delta: workers and web servers may disagree on the time."""
    from django.db.models import DateTimeField, ExpressionWrapper
    from django.db.models.functions import Now

    return ExpressionWrapper(Now() - delta, output_field=DateTimeField())


def record(hostname: str, pid: int, queues: Iterable[str]) -> None:
    """Write one worker's heartbeat: it runs now and consumes these queues."""
    from django.db.models.functions import Now

    from apps.core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        pid=pid,
        defaults={"queues": sorted(queues), "seen_at": Now()},
        create_defaults={"queues": sorted(queues), "seen_at": Now(), "started_at": Now()},
    )


def forget(hostname: str, pid: int) -> None:
    """Delete one worker's heartbeat (it stops consuming), and the rows of workers long gone."""
    from apps.core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(hostname=hostname, pid=pid).delete()
    WorkerHeartbeat.objects.filter(seen_at__lt=_database_time_ago(FORGET_AFTER)).delete()


def running(hostname: str | None = None):
    """Heartbeats of the workers running now (of the worker with this node name, if given)."""
    from apps.core.models import WorkerHeartbeat

    found = WorkerHeartbeat.objects.filter(seen_at__gte=_database_time_ago(timedelta(seconds=ALIVE_SECONDS)))
    return found.filter(hostname=hostname) if hostname else found


def consumers(queues: Iterable[str]) -> tuple[int, dict[str, int]]:
    """How many workers run, and how many of them consume each of these queues."""
    counts = dict.fromkeys(queues, 0)
    consumed = list(running().values_list("queues", flat=True))
    for names in consumed:
        for name in set(names) & counts.keys():
            counts[name] += 1
    return len(consumed), counts


def _guarded(action: Callable[[], None], what: str) -> None:
    """Run a heartbeat write; a database that is down must not stop the worker. Close the connection
    after, so the worker's main process holds none while it forks pool processes."""
    from django.db import connection

    try:
        action()
    except Exception as exc:  # noqa: BLE001 - logged; the next heartbeat tries again
        logger.warning("Could not %s the worker heartbeat: %s", what, exc)
    finally:
        connection.close()


class Heartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: this worker's heartbeat row exists while it consumes its queues."""

    label = "DCP heartbeat"
    # The task consumer knows the queues, including those added or cancelled at run time.
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        """Nothing runs until the consumer starts."""
        self.timer_entry = None
        self.started = False
        super().__init__(c, **kwargs)

    def start(self, c) -> None:
        """Say at once that this worker consumes, then again every HEARTBEAT_SECONDS."""
        self.started = True
        self.beat(c)
        self.timer_entry = c.timer.call_repeatedly(HEARTBEAT_SECONDS, self.beat, (c,))

    def beat(self, c) -> None:
        """Write this worker's heartbeat with the queues it consumes now."""
        queues = [queue.name for queue in c.task_consumer.queues] if c.task_consumer else []
        _guarded(lambda: record(c.hostname, os.getpid(), queues), "write")

    def stop(self, c) -> None:
        """Stop beating and delete the row: the worker no longer consumes."""
        if not self.started:
            return
        self.started = False
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
        _guarded(lambda: forget(c.hostname, os.getpid()), "delete")

    shutdown = stop
