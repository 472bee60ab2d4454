"""End to end: a pool scaled out and in on an emulated cloud by a real worker costs exactly its hosts' lives."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.costs.currencies import round_money
from apps.costs.models import Price
from tests.conftest import client_for, wait_for
from tests.e2e.test_cloud_scale import finished, template_for
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses.aws import AwsHarness

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def cloud():
    """The EC2 emulator, reached by the worker through boto3 over HTTP."""
    harness = AwsHarness()
    harness.start()
    yield harness
    harness.stop()


def test_scaled_pool_costs_rate_times_each_hosts_life(worker, cloud, users, cluster, sysadmin):
    """+3, ready, -3, terminated: GET /costs/ for the pool = rate × Σ (terminated_at - launched_at), to the cent."""
    cloud.reset()
    cloud.set_faults(boot_seconds=1.0)
    started = timezone.now() - timedelta(minutes=1)
    template = template_for(cloud, cloud.account())
    # 3600 an hour is 1 a second: a few seconds of life make cents that can be checked.
    Price.objects.create(
        provider=template.provider,
        instance_type=template.instance_type,
        currency="USD",
        hourly_price=Decimal(3600),
        valid_from=started - timedelta(days=1),
    )
    pool = with_template(PoolFactory(cluster=cluster, name="costed"), template)
    client = client_for(users["developer"])
    out = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 3}, format="json")
    assert (
        wait_for(lambda: finished(client, out.json()["id"]), timeout=90, message="scale-out")["status"] == "succeeded"
    )
    back = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": -3}, format="json")
    assert (
        wait_for(lambda: finished(client, back.json()["id"]), timeout=90, message="scale-in")["status"] == "succeeded"
    )

    def terminated():
        hosts = client.get("/api/v1/hosts/", {"pool": pool.pk}).json()["results"]
        return hosts if all(h["status"] == "terminated" for h in hosts) else None

    hosts = wait_for(terminated, timeout=60, message="hosts terminated")
    assert len(hosts) == 3
    lives = [parse_datetime(h["terminated_at"]) - parse_datetime(h["launched_at"]) for h in hosts]
    assert all(life.total_seconds() > 0 for life in lives)
    expected = round_money(sum(Decimal(life / timedelta(microseconds=1)) / 10**6 for life in lives), "USD")
    window = {"start": started.isoformat(), "end": (timezone.now() + timedelta(minutes=1)).isoformat()}
    answer = client.get("/api/v1/costs/", {"group_by": "pool", "pool": pool.pk, **window}).json()
    assert answer["total"] == str(expected) and answer["unpriced_host_hours"] == "0.0000"
    assert [(row["ids"], row["cost"]) for row in answer["rows"]] == [({"pool": pool.pk}, str(expected))]
    # Each host's own cost says the same (each rounded on its own); each launched before it was ready.
    assert abs(sum(Decimal(h["cost"]) for h in hosts) - expected) <= Decimal("0.02")
    assert all(started <= parse_datetime(h["launched_at"]) <= parse_datetime(h["ready_at"]) for h in hosts)
