"""The data the schemathesis run fuzzes: two clusters with everything the API can show, and three callers.

Only physical provider accounts: they need no network, so nothing the
fuzzer does can make the server call a cloud. Jobs are recorded and stay
pending (no worker runs); a user who asked for one is deleted, so
``requested_by`` is null somewhere, as it is in production.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.accounts.models import Token
from apps.configuration import keys
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, Registry
from apps.core import audit
from apps.core.choices import Role
from apps.core.models import AuditAction
from apps.costs.budgets.models import AlertDelivery, Budget, BudgetAlert
from apps.costs.reports import periods
from apps.costs.reports.models import CostReport, CostReportSchedule
from apps.provisioning import services
from apps.provisioning.choices import OrphanState
from apps.provisioning.models import OrphanInstance
from tests.factories import (
    ClusterFactory,
    MachineFactory,
    MembershipFactory,
    PhysicalProviderFactory,
    PoolFactory,
    TemplateFactory,
    UserFactory,
    ready_hosts,
    with_template,
)

CALLERS = ("guest", "outsider", "sysadmin")


@dataclass
class Seeded:
    """The callers' API tokens, by the name of CALLERS."""

    tokens: dict[str, str]


def _cluster(index: int, provider, admin) -> dict:
    """A cluster with a pool on provider's template, three ready hosts, a pending job and an init run."""
    cluster = ClusterFactory(name=f"line-{index}", description=f"business line {index}")
    MembershipFactory(cluster=cluster, user=admin, role=Role.ADMIN)
    template = TemplateFactory(provider=provider, name=f"tpl-{index}")
    pool = with_template(PoolFactory(cluster=cluster, name=f"web-{index}", max_size=20), template)
    machines = MachineFactory.create_batch(5, provider=provider)
    hosts = ready_hosts(pool, template, machines[:3])
    pool.desired_size = len(hosts)
    pool.save(update_fields=["desired_size"])
    job = services.scale(pool.pk, admin, services.ScaleRequest(delta=1)).job
    now = timezone.now()
    InitRun.objects.create(
        host=hosts[0],
        method="ansible",
        status=InitStatus.CHANGED,
        ok_tasks=12,
        changed_tasks=3,
        started_at=now - timedelta(minutes=2),
        finished_at=now,
        duration_seconds=120.0,
    )
    keys.new_key(pool=pool).save()
    _budget(cluster, pool, now)
    cost_report(cluster, pool, admin)
    return {"cluster": cluster, "pool": pool, "hosts": hosts, "job": job}


def _budget(cluster, pool, now) -> None:
    """An enforced budget of the pool with an alert fired this period: one delivery sent, one failed."""
    budget = Budget.objects.create(
        cluster=cluster,
        pool=pool,
        name="web",
        amount=Decimal("5000.00"),
        currency="USD",
        thresholds=[{"percent": 80, "of": "actual"}],
        recipients={"notify": [{"email": "ops@example.test"}, {"url": "https://hooks.example.test/x?k=1"}]},
        enforce=True,
    )
    alert = BudgetAlert.objects.create(
        budget=budget,
        period_start=now.replace(day=1),
        period_end=now.replace(day=28),
        percent=80,
        of="actual",
        amount=budget.amount,
        currency="USD",
        spent=Decimal("4100.00"),
        forecast=Decimal("5200.00"),
    )
    AlertDelivery.objects.create(alert=alert, channel="email", target="ops@example.test", status="sent", attempts=1)
    AlertDelivery.objects.create(
        alert=alert,
        channel="webhook",
        target="https://hooks.example.test/x?***",
        status="failed",
        attempts=5,
        last_error="https://hooks.example.test/x?*** answered HTTP 500",
    )


def cost_report(cluster, pool, admin) -> CostReport:
    """A monthly cost report schedule of the cluster and last month's report, as it was sent."""
    schedule = CostReportSchedule.objects.create(
        name=f"finance-{cluster.name}-{pool.name}",
        owner=admin,
        cluster=cluster,
        group_by="pool",
        currency="USD",
        frequency="monthly",
        time_zone="UTC",
        formats=["csv", "xlsx"],
        recipients=["finance@example.com"],
    )
    start, end = periods.closed(timezone.now(), "monthly", "UTC", 1)[0]
    row = {"key": pool.name, "ids": {"pool": pool.pk}, "cost": "12.50", "host_hours": "720.0000"}
    row |= {"unpriced_host_hours": "0.0000", "previous_cost": "10.00", "change": "2.50"}
    return CostReport.objects.create(
        schedule=schedule,
        period_start=start,
        period_end=end,
        group_by="pool",
        currency="USD",
        total=Decimal("12.50"),
        previous_total=Decimal("10.00"),
        host_hours=Decimal("720"),
        unpriced_host_hours=Decimal(0),
        rows=[row],
        delivery="sent",
        attempts=1,
        delivered_at=timezone.now(),
    )


def seed() -> Seeded:
    """Two clusters, a registry, orphans, audit entries; tokens for a guest, an outsider and a sysadmin."""
    sysadmin = UserFactory(username="st-root", is_superuser=True)
    guest = UserFactory(username="st-guest")
    outsider = UserFactory(username="st-outsider")
    provider = PhysicalProviderFactory(name="idc-st", options={"terminate_orphans": False})
    keys.new_key(account=provider).save()
    Registry.objects.create(name="corp", url="registry.example.test", mirrors={"bj-1": "https://mirror.bj.test"})
    one = _cluster(1, provider, UserFactory(username="st-admin-1"))
    _cluster(2, provider, outsider)
    MembershipFactory(cluster=one["cluster"], user=guest, role=Role.GUEST)
    gone = UserFactory(username="st-gone")
    MembershipFactory(cluster=one["cluster"], user=gone, role=Role.DEVELOPER)
    services.scale(one["pool"].pk, gone, services.ScaleRequest(delta=1))
    audit.record(gone, AuditAction.UPDATE, one["pool"], {"max_size": 10}, {"max_size": 20})
    gone.delete()
    now = timezone.now()
    OrphanInstance.objects.create(
        provider=provider, instance_id="pm-orphan-1", reason="no host claims it", first_seen=now, last_seen=now
    )
    OrphanInstance.objects.create(
        provider=provider,
        instance_id=one["hosts"][2].instance_id,
        host=one["hosts"][2],
        state=OrphanState.REPORTED,
        reason="its host is terminated",
        first_seen=now,
        last_seen=now,
    )
    users = {"guest": guest, "outsider": outsider, "sysadmin": sysadmin}
    return Seeded(tokens={name: Token.issue(users[name], description="schemathesis")[1] for name in CALLERS})
