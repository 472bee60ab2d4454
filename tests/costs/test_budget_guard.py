"""The budget guard on POST /api/v1/pools/{id}/scale/: refused with the figures, overridden by admins
(audited), shown by dry runs, never in the way of a scale-in.

March 2026, 00:00 on the 16th: the pool's one host (1.00 USD an hour since the
1st) has spent 360.00 and will have cost 744.00 by the month's end; each new
host adds 384.00 (16 days). The enforced budget is 1200.00: one more host fits
(1128.00), two do not (1512.00).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.core.models import AuditEntry
from apps.costs.budgets.models import Budget
from apps.costs.models import Price
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from apps.provisioning.models import Job
from tests.factories import PoolFactory, with_template

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def pool(cluster):
    """A pool of one live host at 1.00 USD/h, and its template."""
    pool = PoolFactory(cluster=cluster, desired_size=1, max_size=10)
    account = CloudAccount.objects.create(name="aws-g", kind="aws", region="us-east-1")
    template = MachineTemplate.objects.create(name="g", provider=account, instance_type="g.one")
    with_template(pool, template)
    Price.objects.create(
        kind="aws",
        instance_type="g.one",
        currency="USD",
        hourly_price=Decimal("1"),
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    Host.objects.create(
        hostname="g-0",
        pool=pool,
        provider=account,
        template=template,
        instance_id="i-g0",
        status=HostStatus.READY,
        launched_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return pool


def as_user(user) -> APIClient:
    """A signed-in client (the clock is moved, so no token that could expire)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def guarded(cluster, pool=None, enforce=True, amount="1200.00") -> Budget:
    """A monthly USD budget of the cluster (or the pool)."""
    return Budget.objects.create(cluster=cluster, pool=pool, amount=Decimal(amount), currency="USD", enforce=enforce)


def scale(client, pool, **body):
    """POST the scale request."""
    return client.post(f"/api/v1/pools/{pool.pk}/scale/", body, format="json")


def test_a_scale_out_past_an_enforced_budget_is_refused_with_the_figures(users, cluster, pool):
    """409 with the forecast, what the scale adds and the budget; nothing changes."""
    budget = guarded(cluster)
    answer = scale(as_user(users["developer"]), pool, delta=2)
    assert answer.status_code == 409, answer.json()
    [figures] = answer.json()["budgets"]
    assert "past budget" in answer.json()["detail"] and "override_budget" in answer.json()["detail"]
    assert figures["budget"] == budget.pk and figures["enforce"] is True and figures["over"] is True
    assert (figures["forecast"], figures["adds"], figures["forecast_after"]) == ("744.00", "768.00", "1512.00")
    assert (figures["amount"], figures["currency"], figures["percent_after"]) == ("1200.00", "USD", "126.00")
    pool.refresh_from_db()
    assert pool.desired_size == 1 and Job.objects.count() == 0
    assert scale(as_user(users["developer"]), pool, delta=1).status_code == 202


def test_a_dry_run_shows_the_same_figures_and_refuses_nothing(users, cluster, pool):
    """Every covering budget, enforced or not; a budget of another pool is not shown."""
    enforced = guarded(cluster)
    watching = guarded(cluster, pool=pool, enforce=False, amount="2000.00")
    guarded(cluster, pool=PoolFactory(cluster=cluster))
    answer = scale(as_user(users["developer"]), pool, delta=2, dry_run=True)
    assert answer.status_code == 200, answer.json()
    shown = {entry["budget"]: entry for entry in answer.json()["budgets"]}
    assert set(shown) == {enforced.pk, watching.pk}
    assert shown[enforced.pk]["forecast_after"] == "1512.00" and shown[enforced.pk]["over"] is True
    assert shown[watching.pk]["over"] is False and shown[watching.pk]["enforce"] is False
    assert Job.objects.count() == 0


def test_only_cluster_admins_may_override_and_the_override_is_audited(users, cluster, pool):
    """A developer's override is 403; an admin's goes ahead and leaves an audit entry on the budget."""
    budget = guarded(cluster)
    refused = scale(as_user(users["developer"]), pool, delta=2, override_budget=True)
    assert refused.status_code == 403 and "admins" in refused.json()["detail"]
    answer = scale(as_user(users["admin"]), pool, delta=2, override_budget=True)
    assert answer.status_code == 202, answer.json()
    entry = AuditEntry.objects.get(object_id=str(budget.pk), object_type__model="budget")
    assert entry.username == "admin-user" and entry.cluster_id == cluster.pk
    assert entry.after["override_budget"] is True and entry.after["job"] == answer.json()["id"]
    assert entry.after["forecast_after"] == "1512.00" and entry.after["pool"] == pool.pk
    audit = as_user(users["guest"]).get("/api/v1/audit/", {"cluster": cluster.pk}).json()
    assert any(item.get("after", {}).get("override_budget") for item in audit["results"])


def test_the_next_scale_out_counts_the_accepted_one(users, cluster, pool):
    """After +1 (accepted, not yet made), another +1 would reach 1512.00: refused."""
    guarded(cluster)
    assert scale(as_user(users["developer"]), pool, delta=1).status_code == 202
    again = scale(as_user(users["developer"]), pool, delta=1)
    assert again.status_code == 409 and again.json()["budgets"][0]["forecast"] == "1128.00"


def test_a_scale_in_is_never_refused(users, cluster, pool):
    """Even far over the budget."""
    guarded(cluster, amount="1.00")
    assert scale(as_user(users["developer"]), pool, delta=-1).status_code == 202


def test_a_budget_not_enforced_only_watches(users, cluster, pool):
    """enforce off: the scale-out goes ahead."""
    guarded(cluster, enforce=False, amount="1.00")
    assert scale(as_user(users["developer"]), pool, delta=3).status_code == 202
