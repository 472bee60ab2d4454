"""The daily price sync as Celery beat starts it: the task in a real worker, the schedule from settings."""

import subprocess
import sys
from decimal import Decimal

import pytest

from apps.costs.models import Price
from apps.costs.tasks import sync_prices
from apps.providers.models import MachineTemplate
from tests.conftest import ROOT, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_daily_task_syncs_every_account_in_a_worker(worker, aws_emulator, ecs_emulator):
    """sync_prices, sent as beat sends it, makes a task per account; the worker writes their prices."""
    aws_emulator.reset()
    ecs_emulator.reset()
    aws = aws_emulator.account()
    MachineTemplate.objects.create(name="aws-m5", provider=aws, instance_type="m5.large")
    aliyun = ecs_emulator.account()
    MachineTemplate.objects.create(name="ecs-g6", provider=aliyun, instance_type="ecs.g6.large")
    sync_prices.delay()
    wait_for(lambda: Price.objects.count() == 2, timeout=60, message="the worker to sync both accounts")
    assert set(Price.objects.values_list("provider__name", "instance_type", "hourly_price", "currency", "source")) == {
        (aws.name, "m5.large", Decimal("0.096"), "USD", "sync:aws"),
        (aliyun.name, "ecs.g6.large", Decimal("0.626"), "CNY", "sync:aliyun"),
    }
    assert aws_emulator.calls()["GetProducts"] == 1


def beat_entry(hour: str) -> subprocess.CompletedProcess:
    """Load the settings with DCP_PRICE_SYNC_HOUR=hour in a fresh interpreter; print the price sync's beat entry."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "entry = settings.CELERY_BEAT_SCHEDULE['sync-prices']; "
        "print(entry['task'], sorted(entry['schedule'].hour), sorted(entry['schedule'].minute))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "dcp.settings", "DCP_PRICE_SYNC_HOUR": hour, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_beat_entry_runs_daily_at_the_configured_hour():
    """DCP_PRICE_SYNC_HOUR sets the hour; an hour that is not one of the day's stops the settings."""
    loaded = beat_entry("5")
    assert loaded.stdout.strip() == "apps.costs.tasks.sync_prices [5] [0]", loaded.stderr
    refused = beat_entry("24")
    assert refused.returncode != 0 and "DCP_PRICE_SYNC_HOUR=24 must be an hour of the day" in refused.stderr
