"""Lists of pools and clusters show kept cost figures (apps.costs.kept), never ones the fleet or catalog has
outgrown: read through the API, against what apps.costs computes live at the figures' own ``as_of``."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.costs import kept, services
from apps.costs.models import ExchangeRate, KeptGroupCost, Price
from apps.costs.tasks import keep_group_costs
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.provisioning.transitions import move_hosts
from tests.costs.test_where_people_look import running
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

SETTLED = timedelta(minutes=5)


def settle() -> None:
    """Make every host's last write old, as in a fleet nobody is scaling right now."""
    Host.objects.update(updated_at=timezone.now() - SETTLED)


def listed(client, path: str) -> dict[int, dict]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return {row["id"]: row["costs"] for row in response.json()["results"]}


def live(dimension: str, pk: int, at: str) -> dict:
    """What apps.costs computes for the object at the moment a list's figures say they are of."""
    return services.group_costs(dimension, [pk], parse_datetime(at))[pk].as_json()


@pytest.fixture
def fleet(cluster, priced):
    """Two pools of the cluster with 3 and 2 running hosts, settled."""
    pools = [PoolFactory(cluster=cluster), PoolFactory(cluster=cluster)]
    running(pools[0], priced, hours=1, n=3)
    running(pools[1], priced, hours=5, n=2)
    settle()
    return pools


def figures(costs: dict) -> tuple:
    return (costs["currency"], costs["run_rate_per_hour"], costs["cost_this_month"], costs["unpriced_hosts"])


def test_a_list_keeps_its_figures_and_shows_them_with_as_of_equal_to_a_live_computation_then(clients, fleet):
    """The first list computes and keeps; the next shows the same figures with the same as_of, each equal to
    what a live computation at that as_of gives; a pool's own page computes now."""
    first = listed(clients["guest"], "/api/v1/pools/")
    again = listed(clients["guest"], "/api/v1/pools/")
    assert set(first) == {pool.pk for pool in fleet}
    assert again == first
    for pool in fleet:
        assert figures(first[pool.pk]) == figures(live("pool", pool.pk, first[pool.pk]["as_of"]))
    assert first[fleet[0].pk]["run_rate_per_hour"] == "1.08" and first[fleet[1].pk]["run_rate_per_hour"] == "0.72"
    before = timezone.now()
    own = clients["guest"].get(f"/api/v1/pools/{fleet[0].pk}/").json()["costs"]
    assert parse_datetime(own["as_of"]) >= before
    clusters = listed(clients["guest"], "/api/v1/clusters/")
    (costs,) = clusters.values()
    assert costs["run_rate_per_hour"] == "1.80"
    assert figures(costs) == figures(live("cluster", next(iter(clusters)), costs["as_of"]))


def test_a_scale_out_or_in_shows_in_the_next_list_of_pools_and_clusters(clients, cluster, fleet, priced):
    """Hosts launched (created) or terminated (moved together, one UPDATE) since the figures were kept make
    their pool and cluster computed again at the next list; the other pool stays as kept."""
    pools = listed(clients["guest"], "/api/v1/pools/")
    listed(clients["guest"], "/api/v1/clusters/")
    running(fleet[0], priced, hours=1, n=2)
    after = listed(clients["guest"], "/api/v1/pools/")
    assert after[fleet[0].pk]["run_rate_per_hour"] == "1.80"
    assert parse_datetime(after[fleet[0].pk]["as_of"]) > parse_datetime(pools[fleet[0].pk]["as_of"])
    assert after[fleet[1].pk] == pools[fleet[1].pk]
    assert next(iter(listed(clients["guest"], "/api/v1/clusters/").values()))["run_rate_per_hour"] == "2.52"
    settle()
    listed(clients["guest"], "/api/v1/pools/")
    doomed = list(Host.objects.filter(pool=fleet[1]))
    move_hosts(doomed, HostStatus.TERMINATING)
    move_hosts(doomed, HostStatus.TERMINATED)
    after = listed(clients["guest"], "/api/v1/pools/")
    assert after[fleet[1].pk]["run_rate_per_hour"] == "0.00"
    assert figures(after[fleet[1].pk]) == figures(live("pool", fleet[1].pk, after[fleet[1].pk]["as_of"]))
    assert next(iter(listed(clients["guest"], "/api/v1/clusters/").values()))["run_rate_per_hour"] == "1.80"


def test_a_price_added_changed_or_removed_is_in_the_next_list(clients, fleet, priced):
    """Any write to the catalog (a new row, an edit, a deletion) is a new set of cost inputs."""
    listed(clients["guest"], "/api/v1/pools/")
    cheaper = Price.objects.create(
        provider=priced.provider,
        instance_type="m5.large",
        zone="",
        region="us-east-1",
        currency="USD",
        hourly_price=Decimal("0.10"),
        valid_from=timezone.now() - timedelta(days=1),
    )
    after = listed(clients["guest"], "/api/v1/pools/")
    assert after[fleet[0].pk]["run_rate_per_hour"] == "0.30"
    cheaper.hourly_price = Decimal("0.20")
    cheaper.save()
    assert listed(clients["guest"], "/api/v1/pools/")[fleet[0].pk]["run_rate_per_hour"] == "0.60"
    cheaper.delete()
    assert listed(clients["guest"], "/api/v1/pools/")[fleet[0].pk]["run_rate_per_hour"] == "1.08"


def test_a_price_coming_into_force_or_an_exchange_rate_added_since_is_in_the_next_list(fleet, priced, settings):
    """A price written earlier that comes into force after the figures were kept, and a rate of a currency
    the pool is priced in, each make the figures computed again."""
    settings.DCP_CURRENCY = "USD"
    t0 = timezone.now()
    Price.objects.create(
        provider=priced.provider,
        instance_type="m5.large",
        region="us-east-1",
        currency="EUR",
        hourly_price=Decimal("0.50"),
        valid_from=t0 + timedelta(seconds=10),
    )
    ids = [pool.pk for pool in fleet]
    before = kept.page_costs("pool", ids, t0)
    assert before[fleet[0].pk]["run_rate_per_hour"] == "1.08"
    later = t0 + timedelta(seconds=20)
    after = kept.page_costs("pool", ids, later)
    assert after[fleet[0].pk]["as_of"] != before[fleet[0].pk]["as_of"]
    assert after[fleet[0].pk]["unpriced_hosts"] == 3  # EUR, and no rate to USD yet: unknown, not 0
    assert kept.page_costs("pool", ids, later + timedelta(seconds=1)) == after
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.1"), valid_from=t0.date() - timedelta(days=3))
    again = kept.page_costs("pool", ids, later + timedelta(seconds=2))
    assert (again[fleet[0].pk]["run_rate_per_hour"], again[fleet[0].pk]["unpriced_hosts"]) == ("1.65", 0)


def test_figures_older_than_the_limit_or_of_last_month_or_another_currency_are_computed_again(clients, fleet, settings):
    ids = [pool.pk for pool in fleet]
    t0 = timezone.now()
    first = kept.page_costs("pool", ids, t0)
    settings.DCP_COST_FIGURES_MAX_AGE = 120
    assert kept.page_costs("pool", ids, t0 + timedelta(seconds=100)) == first
    assert kept.page_costs("pool", ids, t0 + timedelta(seconds=130))[ids[0]]["as_of"] != first[ids[0]]["as_of"]
    settings.DCP_COST_FIGURES_MAX_AGE = 10**9
    KeptGroupCost.objects.update(month_start=datetime(2001, 1, 1, tzinfo=UTC))
    assert kept.page_costs("pool", ids, t0 + timedelta(seconds=140))[ids[0]]["as_of"] != first[ids[0]]["as_of"]
    settings.DCP_CURRENCY = "EUR"
    answer = kept.page_costs("pool", ids, t0 + timedelta(seconds=150))
    assert answer[ids[0]]["currency"] == "EUR" and answer[ids[0]]["unpriced_hosts"] == 3


def test_the_beat_task_keeps_every_pool_and_cluster_so_a_list_computes_nothing(clients, cluster, fleet, priced):
    """After keep_group_costs, a list reads only what was kept: no accrual statement, as_of the task's time;
    figures of deleted objects are dropped."""
    empty = PoolFactory(cluster=cluster)
    KeptGroupCost.objects.create(
        dimension="pool", object_id=10**9, currency="USD", run_rate="1", this_month="1",
        month_start=timezone.now(), inputs="", computed_at=timezone.now(),
    )  # fmt: skip
    before = timezone.now()
    assert keep_group_costs.apply().get() == 4  # three pools, one cluster
    assert not KeptGroupCost.objects.filter(object_id=10**9).exists()
    with CaptureQueriesContext(connection) as queries:
        pools = listed(clients["guest"], "/api/v1/pools/")
    assert not [q for q in queries.captured_queries if "launched_at" in q["sql"]]
    assert {pk: parse_datetime(c["as_of"]) >= before for pk, c in pools.items()} == {
        fleet[0].pk: True,
        fleet[1].pk: True,
        empty.pk: True,
    }
    assert figures(pools[empty.pk]) == ("USD", "0.00", "0.00", 0)


def test_a_page_of_kept_figures_costs_the_same_queries_for_2_or_20_pools(clients, cluster, priced, settings):
    """Kept or computed, a page's figures come in a constant number of queries."""

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert clients["sysadmin"].get("/api/v1/pools/").status_code == 200
        return len(queries)

    running(PoolFactory(cluster=cluster), priced, hours=1, n=2)
    settle()
    count()
    settings.DCP_COST_FIGURES_MAX_AGE = 0
    computed = count()
    settings.DCP_COST_FIGURES_MAX_AGE = 300
    count()
    read = count()
    for _ in range(19):
        running(PoolFactory(cluster=cluster), priced, hours=1, n=2)
    settle()
    settings.DCP_COST_FIGURES_MAX_AGE = 0
    assert count() == computed
    settings.DCP_COST_FIGURES_MAX_AGE = 300
    count()
    assert count() == read < computed


def test_a_non_member_sees_no_kept_figures_of_another_cluster(clients, fleet):
    """Kept figures are read for the page the member may see, nothing else."""
    keep_group_costs.apply()
    assert listed(clients["outsider"], "/api/v1/pools/") == {}
    assert listed(clients["outsider"], "/api/v1/clusters/") == {}


def test_figures_the_database_refuses_to_keep_are_still_shown_and_computed_again_later(
    clients, fleet, monkeypatch, caplog
):
    """A write refused costs the list nothing but keeping: the answer is whole. (The refusal is raised in place
    of the write: a SQLite busy past its timeout cannot be brought about on demand on the tests' PostgreSQL.)"""
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    def refuse(self, *args, **kwargs):
        if self.model is KeptGroupCost:
            raise OperationalError("database is locked")
        return original(self, *args, **kwargs)

    original = QuerySet.bulk_create
    monkeypatch.setattr(QuerySet, "bulk_create", refuse)
    pools = listed(clients["guest"], "/api/v1/pools/")
    assert pools[fleet[0].pk]["run_rate_per_hour"] == "1.08" and not KeptGroupCost.objects.exists()
    assert "not kept: database is locked" in caplog.text
    monkeypatch.undo()
    listed(clients["guest"], "/api/v1/pools/")
    assert KeptGroupCost.objects.filter(dimension="pool").count() == 2
