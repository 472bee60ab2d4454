"""Cost on hosts, pools, clusters and a scale dry run, read through the API; pages in constant queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.costs.accrual import Window, _keys, keys_of
from apps.costs.models import Price
from apps.costs.periods import this_month
from apps.costs.scope import Scope
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import MachineTemplate
from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


def running(pool, template, hours: float, n: int = 1) -> list[Host]:
    """n more hosts of the pool launched hours ago, still running."""
    launched = timezone.now() - timedelta(hours=hours)
    start = Host.objects.filter(pool=pool).count()
    return [
        Host.objects.create(
            hostname=f"look-{pool.pk}-{i}",
            pool=pool,
            provider=template.provider,
            template=template,
            instance_id=f"i-look-{pool.pk}-{i}",
            status=HostStatus.READY,
            launched_at=launched,
        )
        for i in range(start, start + n)
    ]


def test_a_physical_host_with_no_known_machine_costs_an_unknown_amount(clients, cluster):
    """Unknown is not free: a machine's host whose machine DCP has no record of shows no price, no cost and its
    hours as unpriced (it showed a cost of 0.00), as its pool counts it among its unpriced hosts."""
    pool = PoolFactory(cluster=cluster)
    (host,) = running(pool, TemplateFactory(), hours=10)
    body = clients["guest"].get(f"/api/v1/hosts/{host.pk}/").json()
    assert (body["hourly_price"], body["cost"], body["currency"]) == (None, None, "USD")
    assert Decimal("9.99") < Decimal(body["unpriced_hours"]) < Decimal("10.01")
    listed = clients["guest"].get(f"/api/v1/hosts/?pool={pool.pk}").json()["results"]
    assert listed[0]["cost"] is None and Decimal("9.99") < Decimal(listed[0]["unpriced_hours"]) < Decimal("10.01")
    assert clients["guest"].get(f"/api/v1/pools/{pool.pk}/").json()["costs"]["unpriced_hosts"] == 1


def test_a_host_shows_its_rate_currency_cost_so_far_and_launch(clients, cluster, priced):
    """hourly_price from the catalog, cost = rate × hours since launch; an unpriced host shows no cost."""
    pool = PoolFactory(cluster=cluster)
    (host,) = running(pool, priced, hours=10)
    body = clients["guest"].get(f"/api/v1/hosts/{host.pk}/").json()
    assert (body["hourly_price"], body["currency"], body["unpriced_hours"]) == ("0.36000000", "USD", "0.0000")
    assert Decimal(body["cost"]) == Decimal("3.60") and body["launched_at"]
    bare = MachineTemplate.objects.create(name="bare", provider=priced.provider, instance_type="x1.huge")
    (unpriced,) = running(PoolFactory(cluster=cluster), bare, hours=2)
    body = clients["guest"].get(f"/api/v1/hosts/{unpriced.pk}/").json()
    assert (body["hourly_price"], body["cost"], body["unpriced_hours"]) == (None, None, "2.0000")


def never_launched(pool, template, status: str = HostStatus.FAILED) -> Host:
    """A host whose instance was never created: no instance id, no launch time."""
    return Host.objects.create(
        hostname=f"never-{pool.pk}-{status}", pool=pool, provider=template.provider, template=template, status=status
    )


def test_a_host_that_never_got_an_instance_costs_a_rounded_zero_in_its_currency(clients, cluster, priced):
    """No instance, no cost: 0.00 in the price's currency (0 in yen, which has no minor unit), never a bare 0;
    without a price in force it still costs nothing, since nothing was ever billed."""
    pool = PoolFactory(cluster=cluster)
    failed = never_launched(pool, priced)
    body = clients["guest"].get(f"/api/v1/hosts/{failed.pk}/").json()
    assert (body["hourly_price"], body["currency"], body["cost"], body["unpriced_hours"]) == (
        "0.36000000",
        "USD",
        "0.00",
        "0.0000",
    )
    yen = MachineTemplate.objects.create(name="yen", provider=priced.provider, instance_type="t3.yen")
    Price.objects.create(
        provider=priced.provider,
        instance_type="t3.yen",
        currency="JPY",
        hourly_price=Decimal("12"),
        valid_from=timezone.now() - timedelta(days=1),
    )
    pending = never_launched(pool, yen, HostStatus.PENDING)
    bare = never_launched(pool, MachineTemplate.objects.create(name="bare0", provider=priced.provider))
    listed = {
        row["id"]: (row["currency"], row["cost"], row["hourly_price"])
        for row in clients["guest"].get(f"/api/v1/hosts/?pool={pool.pk}").json()["results"]
    }
    assert listed == {
        failed.pk: ("USD", "0.00", "0.36000000"),
        pending.pk: ("JPY", "0", "12.00000000"),
        bare.pk: ("USD", "0.00", None),
    }


def test_pools_and_clusters_show_run_rate_and_cost_this_month(clients, cluster, priced):
    """Three live hosts: run-rate 1.08/h; this month's cost is what they ran this month."""
    pool = PoolFactory(cluster=cluster)
    (host, *_) = running(pool, priced, hours=1, n=3)
    # Early on the 1st, part of the hour was last month.
    ran = min(timezone.now() - this_month(timezone.now())[0], timezone.now() - host.launched_at)
    this_months = (Decimal("1.08") * Decimal(ran.total_seconds()) / 3600).quantize(Decimal("0.01"))
    for path in (f"/api/v1/pools/{pool.pk}/", f"/api/v1/clusters/{cluster.pk}/"):
        costs = clients["guest"].get(path).json()["costs"]
        assert (costs["currency"], costs["run_rate_per_hour"], costs["unpriced_hosts"]) == ("USD", "1.08", 0)
        assert abs(Decimal(costs["cost_this_month"]) - this_months) <= Decimal("0.01")


@pytest.mark.parametrize("path", ["/api/v1/hosts/", "/api/v1/pools/", "/api/v1/clusters/"])
def test_a_list_page_costs_the_same_number_of_queries_for_2_or_20_objects(clients, cluster, priced, path):
    """The cost fields of a page are computed together: no query per object."""

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert clients["sysadmin"].get(path).status_code == 200
        return len(queries)

    running(PoolFactory(cluster=cluster), priced, hours=2, n=2)
    count()  # the token's first use is recorded once
    few = count()
    for _ in range(9):
        running(PoolFactory(cluster=PoolFactory().cluster), priced, hours=2, n=2)
    assert count() == few


def test_a_dry_run_shows_what_the_plan_adds_per_hour_and_month(clients, cluster, priced):
    """Scaling out 5 hosts of 0.36/h adds 1.80 an hour, 1314.00 a month (730 h), per template."""
    pool = with_template(PoolFactory(cluster=cluster, max_size=10), priced)
    answer = clients["developer"].post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 5, "dry_run": True}, format="json")
    assert answer.status_code == 200, answer.json()
    cost = answer.json()["plan"]["cost"]
    assert (cost["currency"], cost["per_hour"], cost["per_month"], cost["unpriced_hosts"]) == (
        "USD",
        "1.80",
        "1314.00",
        0,
    )
    assert cost["templates"] == [
        {
            "template": priced.pk,
            "template_name": "look",
            "hosts": 5,
            "unpriced_hosts": 0,
            "per_hour": "1.80",
            "per_month": "1314.00",
        }
    ]


def test_a_page_of_hosts_finds_the_price_keys_the_database_would(cluster, priced):
    """keys_of() (from the hosts as loaded) places each (template, zone) on the price key _keys() reads."""
    other = MachineTemplate.objects.create(
        name="other", provider=priced.provider, instance_type="c5.xlarge", region="eu-west-1"
    )
    pool = PoolFactory(cluster=cluster)
    made = running(pool, priced, hours=3, n=2) + running(pool, other, hours=2) + running(pool, TemplateFactory(), 1)
    Host.objects.filter(pk=made[1].pk).update(zone="us-east-1b")
    hosts = list(Host.objects.select_related("provider", "template").filter(pk__in=[h.pk for h in made]))
    now = timezone.now()
    window = Window(now - timedelta(hours=4), now, [(now - timedelta(hours=4), now)], "USD", now)

    def placed(found):
        keys, rows = found
        return {(template, zone): keys[index] for template, zone, index in rows}

    expected = placed(_keys(Scope(narrow={"host": [h.pk for h in hosts]}), window))
    assert placed(keys_of(hosts)) == expected and len(expected) == 3
