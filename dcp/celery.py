"""The Celery application: engine, provider and initialization queues."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

app = Celery("dcp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
