"""The Celery application: engine, provider and initialization queues."""

import os

from celery import Celery
from celery.signals import worker_init

from apps.core.workers import Heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

app = Celery("dcp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every worker keeps a heartbeat row saying which queues it consumes (read by /healthz and serve).
app.steps["consumer"].add(Heartbeat)


@worker_init.connect
def preload_drivers(**_kwargs) -> None:
    """Import every provider driver (and its SDK) once in the worker's main process, before the pool forks.

    Drivers are imported on first use, and a pool process that first met OpenStack spent 0.4 s
    importing openstacksdk inside its first task (the first reconcile of a scale-out, measured with
    cProfile): that task's hosts started late. Imported here, every pool process inherits them.
    """
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from apps.providers.drivers.registry import preload

    preload()
