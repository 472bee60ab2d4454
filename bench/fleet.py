"""A large, realistic fleet written straight into PostgreSQL with COPY, for the list benchmarks.

Shape (defaults): 100 clusters of 10 pools; 100,000 hosts, of which one pool
holds 10,000 and one 2,000 (the console's worst pages), the rest spread evenly;
10,000 jobs with their events (three per job, three per host); an
initialization run per host that got that far; audit entries, physical
machines, users with memberships, and a few orphans. Status mixes follow a
fleet that has lived a while: most hosts ready, a quarter terminated, a few in
every other state; most jobs succeeded. Times spread over a year. Every
cloud template's instance type has a price in force (0.08 to 0.32 USD an
hour), so hosts cost what a priced fleet's do.

The rows go in with COPY (seconds, where the ORM would take minutes); ids are
given explicitly and the identity sequences moved past them afterwards.
"""

import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

SEED = 20240611
YEAR_AGO = datetime(2025, 1, 1, tzinfo=UTC)

HOST_MIX = (
    ("ready", 62),
    ("terminated", 25),
    ("failed", 3),
    ("initializing", 3),
    ("creating", 2),
    ("pending", 2),
    ("terminating", 2),
    ("lost", 1),
)
FAILURE_REASONS = ("capacity", "boot_timeout", "init_failed", "quota", "instance_error")
JOB_MIX = (("succeeded", 80), ("partial", 5), ("failed", 5), ("cancelled", 3), ("running", 4), ("pending", 3))


@dataclass
class Fleet:
    """What the benchmark needs to know of the fleet it built."""

    admin_id: int
    member_id: int
    member_clusters: list[int]
    big_pool: int
    second_pool: int
    member_pool: int
    cluster: int


def _value(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(model, rows, **same) -> None:
    """COPY rows (dicts of column values, plus the values in same) into model's table, then move its id sequence.

    Every row names the same columns; a column no row names gets NULL, so a
    NOT NULL one left out fails loudly instead of taking a silent default.
    """
    from django.db import connection

    buffer = io.StringIO()
    columns = None
    for row in rows:
        row = {**row, **same}
        columns = columns or list(row)
        buffer.write("\t".join(_value(row[column]) for column in columns))
        buffer.write("\n")
    buffer.seek(0)
    table = model._meta.db_table  # a model's own table name, not input
    names = ", ".join(f'"{column}"' for column in columns)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f'COPY "{table}" ({names}) FROM STDIN', buffer)
        cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM \"{table}\"))", [table])  # noqa: S608


def _pick(rng: random.Random, mix) -> str:
    return rng.choices([value for value, _ in mix], weights=[weight for _, weight in mix])[0]


def _at(rng: random.Random) -> datetime:
    """A time in the last year, to the microsecond."""
    return YEAR_AGO + timedelta(seconds=rng.uniform(0, 365 * 86400))


def _pool_sizes(pools: int, hosts: int) -> list[int]:
    """One pool of 10% of the hosts, one of 2%, the rest even."""
    big, second = hosts // 10, hosts // 50
    rest = hosts - big - second
    sizes = [big, second] + [rest // (pools - 2)] * (pools - 2)
    sizes[-1] += hosts - sum(sizes)
    return sizes


def _accounts():
    """Provider accounts (one per kind), templates, a registry and SSH keys, through the ORM (few rows)."""
    from apps.configuration.models import Registry, SSHKey
    from apps.costs.models import Price
    from apps.providers.models import CloudAccount, MachineTemplate

    accounts = [
        CloudAccount.objects.create(name=f"{kind}-main", kind=kind, region="r1")
        for kind in ("physical", "aws", "aliyun", "openstack", "libcloud")
    ]
    templates = [
        MachineTemplate.objects.create(
            name=f"tpl-{i}", provider=accounts[i % len(accounts)], instance_type=f"c{8 * (i % 4 + 1)}", cpu=8
        )
        for i in range(20)
    ]
    # A price in force for every cloud template's type, as a real catalog has: the lists' costs are priced
    # (an unpriced host costs the accrual less than a priced one).
    for template in templates:
        if template.provider.kind != "physical":
            Price.objects.get_or_create(
                provider=template.provider,
                instance_type=template.instance_type,
                defaults={
                    "currency": "USD",
                    "hourly_price": Decimal(template.instance_type[1:]) / 100,
                    "valid_from": datetime(2020, 1, 1, tzinfo=UTC),
                },
            )
    Registry.objects.create(name="main", url="registry.example.com")
    for account in accounts:
        SSHKey.objects.create(account=account, public_key="ssh-ed25519 AAAA bench", private_key="x", fingerprint="f")
    return accounts, templates


def _people(rng: random.Random, clusters: int, users: int) -> None:
    """Clusters, users (1 a system administrator, 2 a developer of clusters 1-3, the rest guests of one)."""
    from django.contrib.auth.hashers import make_password

    from apps.accounts.models import Membership, User
    from apps.inventory.models import Cluster

    now = datetime.now(UTC)
    copy_rows(
        Cluster,
        ({"id": i, "name": f"cluster-{i:03d}"} for i in range(1, clusters + 1)),
        description="",
        created_at=now,
        updated_at=now,
    )
    copy_rows(
        User,
        ({"id": i, "username": f"user-{i:04d}", "is_superuser": i == 1} for i in range(1, users + 1)),
        password=make_password(None),
        first_name="",
        last_name="",
        email="",
        is_staff=False,
        is_active=True,
        date_joined=now,
        session_version=0,
    )
    members = [(2, cluster, "developer") for cluster in (1, 2, 3)]
    members += [(user, rng.randrange(1, clusters + 1), "guest") for user in range(3, users + 1)]
    copy_rows(
        Membership,
        (
            {"id": i, "user_id": user, "cluster_id": cluster, "role": role}
            for i, (user, cluster, role) in enumerate(members, 1)
        ),
        created_at=now,
        updated_at=now,
    )


def _pools(clusters: int, pools: int, templates) -> None:
    """Pools spread evenly over the clusters, each with one template."""
    from apps.inventory.models import PoolTemplate, ServicePool

    now = datetime.now(UTC)
    per_cluster = pools // clusters
    copy_rows(
        ServicePool,
        (
            {"id": i, "cluster_id": min((i - 1) // per_cluster + 1, clusters), "name": f"pool-{i:04d}"}
            for i in range(1, pools + 1)
        ),
        description="",
        min_size=0,
        max_size=100_000,
        desired_size=0,
        created_at=now,
        updated_at=now,
    )
    copy_rows(
        PoolTemplate,
        ({"id": i, "pool_id": i, "template_id": templates[i % len(templates)].pk} for i in range(1, pools + 1)),
        priority=0,
    )


def _jobs(rng: random.Random, pools: int, jobs: int, sizes: list[int]) -> dict[int, list[tuple[int, str, datetime]]]:
    """Jobs spread over pools like their hosts (at least one scale-out each); by pool: (id, kind, time)."""
    from apps.provisioning.models import Job

    pool_of = list(range(1, pools + 1))
    pool_of += rng.choices(range(1, pools + 1), weights=[size + 1 for size in sizes], k=jobs - pools)
    by_pool: dict[int, list] = {}

    def rows():
        for i, pool in enumerate(pool_of, 1):
            kind = "scale_out" if i <= pools or rng.random() < 0.7 else "scale_in"
            status = _pick(rng, JOB_MIX)
            created = _at(rng)
            delta = rng.randint(1, 50) * (1 if kind == "scale_out" else -1)
            by_pool.setdefault(pool, []).append((i, kind, created))
            yield {
                "id": i,
                "pool_id": pool,
                "kind": kind,
                "status": status,
                "delta": delta,
                "desired_after": max(delta, 0),
                "created_at": created,
                "updated_at": created,
                "finished_at": created + timedelta(minutes=5) if status not in ("pending", "running") else None,
            }

    copy_rows(
        Job,
        rows(),
        desired_before=0,
        requested_by_id=2,
        idempotency_key="",
        request_fingerprint="",
        plan=[],
        message="",
        trigger="",
        gave_up=False,
    )
    return by_pool


def _host_rows(rng: random.Random, sizes: list[int], templates, by_pool) -> list[dict]:
    """Hosts of every pool, made by one of its scale-out jobs (removed by a scale-in if terminated)."""
    made = []
    for pool, size in enumerate(sizes, 1):
        outs = [job for job in by_pool[pool] if job[1] == "scale_out"]
        ins = [job for job in by_pool[pool] if job[1] == "scale_in"]
        template = templates[pool % len(templates)]
        for _ in range(size):
            host = len(made) + 1
            status = _pick(rng, HOST_MIX)
            job, _, created = rng.choice(outs)
            live = status != "pending"
            made.append(
                {
                    "id": host,
                    "hostname": f"h{host:06d}.pool-{pool:04d}",
                    "pool_id": pool,
                    "provider_id": template.provider_id,
                    "template_id": template.pk,
                    "job_id": job,
                    "removal_job_id": rng.choice(ins)[0] if status == "terminated" and ins else None,
                    "status": status,
                    "instance_id": f"i-{host:08x}" if live else "",
                    "private_ip": f"10.{host >> 16}.{(host >> 8) & 255}.{host & 255}" if live else None,
                    # Launched once its instance exists: what costs (and the lists carrying them) are read from.
                    "launched_at": created + timedelta(minutes=1) if live else None,
                    "ready_at": created + timedelta(minutes=3) if status in ("ready", "terminated") else None,
                    "failed_at": created + timedelta(minutes=4) if status == "failed" else None,
                    # From the host's id, not the random generator: the rest of the fleet stays as it was.
                    "failure_reason": FAILURE_REASONS[host % len(FAILURE_REASONS)] if status == "failed" else "",
                    "terminated_at": created + timedelta(days=30) if status == "terminated" else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
    return made


def _hosts(hosts: list[dict]) -> None:
    from apps.inventory.models import Host

    copy_rows(
        Host,
        hosts,
        status_message="",
        batch_token="",
        public_ip=None,
        cpu=8,
        memory_gb=Decimal("16.00"),
        zone="zone-a",
        hourly_price=Decimal("0.120000"),
        drift_state="unknown",
        drift_summary=[],
    )


def _events(by_pool, hosts: list[dict]) -> None:
    """Three events per job (requested, planned, finished) and three per host (creating, created, its outcome)."""
    from apps.provisioning.models import JobEvent

    def rows():
        for jobs in by_pool.values():
            for job, _, created in jobs:
                for step, kind in enumerate(("requested", "planned", "finished")):
                    yield {"job_id": job, "host_id": None, "time": created + timedelta(seconds=step), "kind": kind}
        for host in hosts:
            outcome = "failed" if host["status"] == "failed" else "ready"
            for step, kind in enumerate(("creating", "created", outcome)):
                at = host["created_at"] + timedelta(seconds=10 + step)
                yield {"job_id": host["job_id"], "host_id": host["id"], "time": at, "kind": kind}

    copy_rows(JobEvent, ({"id": i, **row} for i, row in enumerate(rows(), 1)), message="")


def _init_runs(hosts: list[dict]) -> None:
    """One initialization run per host that got past creation."""
    from apps.configuration.models import InitRun

    def rows():
        for host in hosts:
            if host["status"] in ("pending", "creating"):
                continue
            outcome = {"failed": "failed", "initializing": "running"}.get(host["status"], "changed")
            started = host["created_at"] + timedelta(minutes=1)
            yield {
                "host_id": host["id"],
                "job_id": host["job_id"],
                "status": outcome,
                "failed_tasks": int(outcome == "failed"),
                "started_at": started,
                "finished_at": None if outcome == "running" else started + timedelta(seconds=40),
                "created_at": started,
                "updated_at": started,
            }

    copy_rows(
        InitRun,
        ({"id": i, **row} for i, row in enumerate(rows(), 1)),
        method="ansible",
        attempt=1,
        rerun=False,
        drift_check=False,
        changes=[],
        ok_tasks=12,
        changed_tasks=3,
        message="",
        output="ok",
    )


def _inventory(rng: random.Random, machines: int, account) -> None:
    """Physical machines of the physical account, mostly allocated."""
    from apps.inventory.models import PhysicalMachine

    now = datetime.now(UTC)
    copy_rows(
        PhysicalMachine,
        (
            {
                "id": i,
                "hostname": f"pm{i:05d}.idc",
                "ip": f"172.{16 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}",
                "idc": f"idc-{i % 4}",
                "state": rng.choices(("allocated", "free", "maintenance"), weights=(80, 17, 3))[0],
            }
            for i in range(1, machines + 1)
        ),
        provider_id=account.pk,
        cpu=32,
        memory_gb=Decimal("64.00"),
        machine_class="c32",
        rack="",
        monthly_cost=Decimal("500.00"),
        client_token="",
        tags={},
        allocated_at=None,
        created_at=now,
        updated_at=now,
    )


def _audit(rng: random.Random, entries: int, clusters: int) -> None:
    """Audit entries (pool scales by user 2) spread over clusters and the year."""
    from django.contrib.contenttypes.models import ContentType

    from apps.core.models import AuditEntry
    from apps.inventory.models import ServicePool

    copy_rows(
        AuditEntry,
        (
            {"id": i, "time": _at(rng), "cluster_id": cluster}
            for i, cluster in enumerate(rng.choices(range(1, clusters + 1), k=entries), 1)
        ),
        user_id=2,
        username="user-0002",
        action="scale",
        object_type_id=ContentType.objects.get_for_model(ServicePool).pk,
        object_id="1",
        object_repr="pool",
        before={},
        after={},
        request_id="",
        via="api",
    )


def _orphans(count: int, account) -> None:
    """Instances the sweep found on a cloud account that no host claims."""
    from apps.provisioning.models import OrphanInstance

    now = datetime.now(UTC)
    copy_rows(
        OrphanInstance,
        ({"id": i, "instance_id": f"i-orphan-{i}"} for i in range(1, count + 1)),
        provider_id=account.pk,
        name="",
        state="reported",
        reason="No host claims it.",
        host_id=None,
        tags={},
        first_seen=now,
        last_seen=now,
        created_at=now,
        updated_at=now,
    )


def build(
    *, clusters: int = 100, pools: int = 1000, hosts: int = 100_000, jobs: int = 10_000, users: int = 300
) -> Fleet:
    """Write the whole fleet and VACUUM ANALYZE it; returns what the benchmark needs to address it."""
    from django.db import connection

    rng = random.Random(SEED)
    accounts, templates = _accounts()
    _people(rng, clusters, users)
    _pools(clusters, pools, templates)
    sizes = _pool_sizes(pools, hosts)
    by_pool = _jobs(rng, pools, jobs, sizes)
    made = _host_rows(rng, sizes, templates, by_pool)
    _hosts(made)
    _events(by_pool, made)
    _init_runs(made)
    _inventory(rng, hosts // 5, accounts[0])
    _audit(rng, 20_000, clusters)
    _orphans(200, accounts[1])
    with connection.cursor() as cursor:
        # What autovacuum does to a fleet that has lived a while: statistics, and the visibility map that
        # lets counts and key lookups read an index alone.
        cursor.execute("VACUUM ANALYZE")
    return describe()


def describe() -> Fleet:
    """Read back the fleet's landmarks (so a kept database can be benchmarked again)."""
    from apps.accounts.models import Membership, User
    from apps.inventory.models import ServicePool

    member = User.objects.get(username="user-0002")
    member_clusters = sorted(Membership.objects.filter(user=member).values_list("cluster_id", flat=True))
    member_pool = ServicePool.objects.filter(cluster_id=member_clusters[-1]).order_by("pk").last()
    return Fleet(
        admin_id=User.objects.get(username="user-0001").pk,
        member_id=member.pk,
        member_clusters=member_clusters,
        big_pool=1,
        second_pool=2,
        member_pool=member_pool.pk,
        cluster=member_clusters[-1],
    )
