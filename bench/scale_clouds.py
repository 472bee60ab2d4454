"""Benchmark: scale a pool out to N hosts across the emulated clouds and physical machines, with real workers.

One pool has four ordered templates, each with a quota (``max_hosts``) of N/4:
physical machines (DCP's own inventory), OpenStack, Aliyun ECS and AWS EC2, the
three clouds served by their emulators in this process on loopback ports. A
scale request of +N goes through ``apps.provisioning.services.scale`` (what the
API calls), and real ``celery worker`` processes (queues engine, provider, init)
plus a ``celery beat`` (the periodic reconcile tick) do the rest. Settings reach
them through the environment (DCP_POLL_INTERVAL, DCP_PROBE_INTERVAL, DCP_CREATE_BATCH_SIZE,
DCP_RECONCILE_INTERVAL, ...; ``--env KEY=VALUE`` adds or overrides).

Scenarios (``--scenarios``):

- a: no emulated latency and no boot time: the engine's own cost (wall time,
  SQL statements and provider calls per host);
- b: a boot time (``--boot``, 30 s) and an API latency (``--latency``, 50 ms)
  on every emulated call: time until all hosts are ready, as a ratio to the
  ideal of one boot time;
- c: as b, with one provider call per host (DCP_CREATE_BATCH_SIZE=1), the way
  tools that manage one instance at a time work; on ``--c-hosts`` hosts, and
  when fewer than N its figures are also scaled to N, labelled EXTRAPOLATED.

Each scenario starts from a fresh database, fresh emulators and fresh workers,
times the job until it ends, checks the job succeeded with N hosts ready and
that each provider's live inventory is exactly the database's instance ids,
then waits for the work left off the path to ready (each instance tagged with
its own host) before reading the final counts. SQL statements are counted in
the worker processes (``bench/celery_counted.py``: the same app, plus an
execute wrapper and a Redis hash of counts per task); provider calls are the
emulators' ``GET /_emulator/calls``. Per-host timelines come from the database
(job request, ``running`` event, ``ready_at``) and from the emulators' own
record of when each instance was created.

Needs PostgreSQL (DATABASE_URL; dropped, created and migrated afresh for every
scenario) and a Redis broker (CELERY_BROKER_URL; its database is flushed
between scenarios, so give the benchmark one of its own). Prints figures;
asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchscale \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/12 \
    .venv/bin/python bench/scale_clouds.py --hosts 1000 --scenarios a,b,c --boot 30 --latency 0.05

Variants (the same command plus, e.g.): ``--scenarios b --env DCP_PROBE_INTERVAL=0`` (full polls only);
``--concurrency 12``.
Worker and beat logs go to a temporary directory, printed per scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

CLOUD_KINDS = ("openstack", "aliyun", "aws")
SOURCES = ("physical", *CLOUD_KINDS)  # the pool's placement order
QUEUES = "engine,provider,init"
GONE_STATES = {"terminated", "deleted", "shutting-down", "deleting"}
INSTANCE_ID = re.compile(r"<instanceId>(i-[0-9a-zA-Z]+)</instanceId>")
SETTINGS = (
    "DCP_POLL_INTERVAL",
    "DCP_PROBE_INTERVAL",
    "DCP_PROBE_RATE_SHARE",
    "DCP_RECONCILE_INTERVAL",
    "DCP_CREATE_BATCH_SIZE",
    "DCP_RATE_LIMIT_MAX_WAIT",
    "DCP_STUCK_AFTER_SECONDS",
)
TASKS = ("reconcile_pool", "reconcile_all", "create_hosts", "poll_batch", "initialize_hosts", "tag_hosts")


@dataclass
class Scenario:
    """What one run asks for: hosts, emulated faults, worker settings."""

    name: str
    title: str
    hosts: int
    boot: float
    latency: float
    env: dict[str, str] = field(default_factory=dict)
    extrapolate_to: int = 0


@dataclass
class Figures:
    """What one run measured."""

    hosts: int
    status: str = ""
    ready: int = 0
    accepted: float = 0.0  # seconds the scale request took
    job_seconds: float = 0.0  # request → job finished (database times)
    all_ready: float = 0.0  # request → last host ready
    wall: float = 0.0  # request → the benchmark saw the job end
    settled: float = 0.0  # request → every instance tagged with its host (off-path work done)
    calls_at_end: dict[str, Counter] = field(default_factory=dict)
    calls: dict[str, Counter] = field(default_factory=dict)
    sql_request: int = 0
    tasks_at_end: dict[str, float] = field(default_factory=dict)
    tasks: dict[str, float] = field(default_factory=dict)
    placement: Counter = field(default_factory=Counter)
    segments: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    inventory: list[str] = field(default_factory=list)
    emulator_seconds: dict[str, Counter] = field(default_factory=dict)
    failures: str = ""
    task_lines: list[str] = field(default_factory=list)

    @property
    def sql_at_end(self) -> int:
        """Worker SQL statements until the job ended, plus the scale request's own."""
        return self.sql_request + int(sum(v for k, v in self.tasks_at_end.items() if k.endswith(":sql")))

    @property
    def sql(self) -> int:
        """Worker SQL statements until all work settled, plus the scale request's own."""
        return self.sql_request + int(sum(v for k, v in self.tasks.items() if k.endswith(":sql")))


# --- the emulated clouds -------------------------------------------------------------
class Clouds:
    """The three cloud emulators (through the test harnesses), instrumented to say when they made each instance."""

    def __init__(self):
        from tests.providers.harnesses.aliyun import AliyunHarness
        from tests.providers.harnesses.aws import AwsHarness
        from tests.providers.harnesses.openstack import OpenStackHarness

        self.harnesses = {"openstack": OpenStackHarness(), "aliyun": AliyunHarness(), "aws": AwsHarness()}
        self.aws_created: dict[str, float] = {}
        self.handle_seconds: dict[str, Counter] = {kind: Counter() for kind in CLOUD_KINDS}
        # Emulators keep time.monotonic(); this turns it into wall-clock time, to compare with the database's.
        self.mono_offset = time.time() - time.monotonic()

    def start(self) -> None:
        """Start each emulator on a free loopback port and time its own handling of each call."""
        for kind, harness in self.harnesses.items():
            harness.start()
            self._instrument(kind, harness.emulator)

    def _instrument(self, kind: str, emulator) -> None:
        """Wrap the emulator's handle(): seconds per action (without injected latency), AWS creation times."""
        handle = emulator.handle
        seconds = self.handle_seconds[kind]

        def timed_handle(request):
            started = time.perf_counter()
            response = handle(request)
            action = emulator.action_of(request)
            seconds[action] += time.perf_counter() - started
            if kind == "aws" and action == "RunInstances" and response.status == 200:
                now = time.time()
                for instance_id in INSTANCE_ID.findall(response.body.decode("utf-8", "replace")):
                    self.aws_created.setdefault(instance_id, now)
            return response

        emulator.handle = timed_handle

    def stop(self) -> None:
        """Stop every emulator."""
        for harness in self.harnesses.values():
            harness.stop()

    def reset(self, latency: float, boot: float) -> None:
        """Forget every instance and call count, then set this scenario's latency and boot time."""
        self.aws_created.clear()
        for kind, harness in self.harnesses.items():
            harness.reset()
            harness.set_faults(latency=latency, boot_seconds=boot)
            self.handle_seconds[kind].clear()

    def calls(self) -> dict[str, Counter]:
        """API calls each emulator received, by action (GET /_emulator/calls)."""
        return {kind: Counter(self._control(kind, "calls")) for kind in CLOUD_KINDS}

    def instances(self, kind: str) -> list[dict]:
        """An emulator's own inventory (GET /_emulator/instances)."""
        return self._control(kind, "instances")

    def _control(self, kind: str, what: str):
        url = f"{self.harnesses[kind].url}/_emulator/{what}"
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - the loopback emulator
            return json.loads(answer.read())

    def created_at(self, kind: str) -> dict[str, float]:
        """Wall-clock time each instance was created at, by instance id, from the emulator's own records."""
        emulator = self.harnesses[kind].emulator
        if kind == "aws":
            return dict(self.aws_created)
        with emulator.lock:
            if kind == "aliyun":
                return {i.id: i.created_at + self.mono_offset for i in emulator.store.values()}
            return {s["id"]: s["created_at"] + self.mono_offset for s in emulator.servers.values()}


def call_kind(action: str) -> str:
    """A provider call's kind: create, describe, tag, destroy, auth (Keystone, version discovery) or catalog."""
    lowered = action.lower()
    if lowered in ("runinstances", "post /servers"):
        return "create"
    if lowered in ("describeinstances", "get /servers/detail", "get /servers", "get /servers/{id}"):
        return "describe"
    if "tag" in lowered or "metadata" in lowered:
        return "tag"
    if "terminate" in lowered or "delete" in lowered:
        return "destroy"
    if "auth" in lowered or lowered in ("get /identity", "get /compute", "get /image", "get /identity/v3"):
        return "auth"
    return "catalog"


# --- the pool --------------------------------------------------------------------------
def quotas(hosts: int) -> dict[str, int]:
    """Hosts per source: an even share each, the first sources taking the remainder."""
    share, rest = divmod(hosts, len(SOURCES))
    return {kind: share + (1 if i < rest else 0) for i, kind in enumerate(SOURCES)}


def make_pool(clouds: Clouds, hosts: int):
    """A superuser, a physical account with machines, an account per cloud, a template each, and the pool."""
    from apps.accounts.models import User
    from apps.inventory.models import Cluster, PhysicalMachine, PoolTemplate, ServicePool
    from apps.providers.models import CloudAccount, MachineTemplate
    from emulators.demo import demo_clouds

    share = quotas(hosts)
    user = User.objects.create(username="bench-clouds", is_superuser=True)
    physical = CloudAccount.objects.create(name="bench-idc", kind="physical")
    PhysicalMachine.objects.bulk_create(
        PhysicalMachine(
            provider=physical,
            hostname=f"bench-pm-{i}",
            ip=f"10.200.{i // 250}.{i % 250 + 1}",
            cpu=32,
            memory_gb=Decimal(64),
            machine_class="c32",
            idc="bj-1",
            monthly_cost=Decimal(500),
        )
        for i in range(share["physical"])
    )
    templates = [
        MachineTemplate.objects.create(
            name="bench-physical", provider=physical, instance_type="c32", zone="bj-1", max_hosts=share["physical"]
        )
    ]
    demo = {cloud.kind: cloud for cloud in demo_clouds()}
    for kind in CLOUD_KINDS:
        account = clouds.harnesses[kind].account()
        template = {**demo[kind].template, "max_hosts": share[kind]}
        templates.append(
            MachineTemplate.objects.create(
                name=f"bench-{kind}", provider=account, hourly_price=Decimal(demo[kind].hourly_price), **template
            )
        )
    cluster = Cluster.objects.create(name="bench-clouds")
    pool = ServicePool.objects.create(cluster=cluster, name="scale", max_size=hosts)
    for priority, template in enumerate(templates):
        PoolTemplate.objects.create(pool=pool, template=template, priority=priority)
    return user, pool


# --- workers -----------------------------------------------------------------------------
class Workers:
    """Real Celery worker processes and a beat (the periodic tick), the scenario's settings in their environment."""

    def __init__(self, env: dict[str, str], concurrency: int, processes: int, log_dir: Path):
        self.env = env
        self.concurrency = concurrency
        self.processes = processes
        self.log_dir = log_dir
        self.children: list[subprocess.Popen] = []

    def _spawn(self, args: list[str], log_name: str) -> None:
        log = open(self.log_dir / log_name, "ab")  # noqa: SIM115 - held by the process
        self.children.append(
            subprocess.Popen(
                [sys.executable, "-m", "celery", *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def start(self, redis) -> None:
        """Start the workers and beat; return once every worker consumes its queues."""
        for n in range(self.processes):
            self._spawn(
                [
                    "-A",
                    "bench.celery_counted",
                    "worker",
                    "--queues",
                    QUEUES,
                    "--concurrency",
                    str(self.concurrency),
                    "--pool",
                    "prefork",
                    "--hostname",
                    f"bench-clouds-{n}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel",
                    "WARNING",
                ],
                f"worker-{n}.log",
            )
        schedule = self.log_dir / "celerybeat-schedule"
        self._spawn(["-A", "dcp", "beat", "--schedule", str(schedule), "--loglevel", "WARNING"], "beat.log")
        deadline = time.monotonic() + 90
        while len(redis.keys("bench:ready:*")) < self.processes:
            if time.monotonic() > deadline or any(child.poll() is not None for child in self.children):
                sys.exit(f"the workers did not start: see {self.log_dir}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the workers and beat (and their pool processes)."""
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.children = []


def worker_env(scenario: Scenario, extra: dict[str, str]) -> dict[str, str]:
    """The workers' environment: this process's, --env, then the scenario's own settings (which define it)."""
    env = dict(os.environ)
    env.update({"DCP_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    env.update(scenario.env)
    return env


def engine_settings(extra: dict[str, str]) -> dict[str, str]:
    """The engine settings the workers run with (before a scenario's own): --env, else the environment, else DCP's."""
    from django.conf import settings

    found = {}
    for key in SETTINGS:
        default = (
            settings.CELERY_BEAT_SCHEDULE["reconcile-all"]["schedule"] if key == "DCP_RECONCILE_INTERVAL" else None
        )
        value = extra.get(key) or os.environ.get(key) or default or getattr(settings, key)
        found[key] = f"{value:g}" if isinstance(value, float) else str(value)
    return found


def task_counts(redis) -> dict[str, float]:
    """The workers' counts so far (bench/celery_counted.py): SQL, runs, seconds, outcomes per task."""
    return {key.decode(): float(value) for key, value in redis.hgetall("bench:counts").items()}


# --- one scenario --------------------------------------------------------------------------
def wait_for_tags(clouds: Clouds, timeout: float) -> bool:
    """Wait until every live cloud instance carries its own host's tag (the off-path work is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        untagged = 0
        for kind in CLOUD_KINDS:
            for item in clouds.instances(kind):
                if str(item.get("state", "")).lower() not in GONE_STATES and "dcp-host" not in (item.get("tags") or {}):
                    untagged += 1
        if not untagged:
            return True
        time.sleep(1)
    return False


def task_timeline(redis, pool, requested: float) -> list[str]:
    """Per source: when its create tasks ran, and how often each batch was really polled (bench:timeline)."""
    from apps.inventory.models import Host

    source = dict(Host.objects.filter(pool=pool).values_list("batch_token", "provider__kind").distinct())
    creates: dict[str, list[tuple[float, float]]] = defaultdict(list)
    polls: dict[str, list[float]] = defaultdict(list)
    for raw in redis.lrange("bench:timeline", 0, -1):
        entry = json.loads(raw)
        kind = source.get(entry["arg"]) if isinstance(entry["arg"], str) else None
        if kind and entry["task"] == "create_hosts":
            creates[kind].append((entry["start"] - requested, entry["end"] - requested))
        elif kind and entry["task"] == "poll_batch":
            polls[entry["arg"]].append(entry["start"])
    lines = []
    parts = []
    for kind in SOURCES:
        runs = creates.get(kind)
        if runs:
            starts, ends = [s for s, _ in runs], [e for _, e in runs]
            parts.append(
                f"{kind} {len(runs)} ran {min(starts):.2f}-{max(starts):.2f} s, done {min(ends):.2f}-{max(ends):.2f} s"
            )
    if parts:
        lines.append("create_hosts tasks (after the request): " + "; ".join(parts))
    gaps: dict[str, list[float]] = defaultdict(list)
    for token, starts in polls.items():
        starts.sort()
        gaps[source[token]].extend(b - a for a, b in zip(starts, starts[1:], strict=False))
    parts = [f"{kind} {spread(gaps[kind]).replace(' s', '')} s" for kind in SOURCES if gaps.get(kind)]
    if parts:
        lines.append(
            "poll_batch: seconds between two looks at one batch (probe or full poll), 50th / 90th / max: "
            + "; ".join(parts)
        )
    return lines


def check_inventory(clouds: Clouds, pool) -> list[str]:
    """One line per provider: the provider's live instances against the database's instance ids."""
    from apps.inventory.choices import HostStatus as H
    from apps.inventory.choices import MachineState
    from apps.inventory.models import Host, PhysicalMachine

    lines = []
    for kind in SOURCES:
        db_ids = set(
            Host.objects.filter(pool=pool, provider__kind=kind)
            .exclude(status=H.TERMINATED)
            .values_list("instance_id", flat=True)
        )
        if kind == "physical":
            live = set(PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).values_list("hostname", flat=True))
        else:
            live = {
                item["id"] for item in clouds.instances(kind) if str(item.get("state", "")).lower() not in GONE_STATES
            }
        verdict = "match" if live == db_ids else "MISMATCH"
        detail = (
            "" if live == db_ids else f" ({len(live - db_ids)} only at the provider, {len(db_ids - live)} only in DCP)"
        )
        lines.append(f"{kind} {len(live)} live = {len(db_ids)} in DCP: {verdict}{detail}")
    return lines


def timelines(clouds: Clouds, pool, job, boot: float) -> tuple[Counter, dict[str, dict[str, list[float]]]]:
    """Per source: hosts placed, and each host's seconds per step from the request to ready."""
    from apps.inventory.models import Host, PhysicalMachine
    from apps.provisioning.choices import EventKind
    from apps.provisioning.models import JobEvent

    requested = job.created_at.timestamp()
    seen_running = dict(
        JobEvent.objects.filter(job=job, kind=EventKind.RUNNING).values_list("host_id", "time").order_by("time")
    )
    created = {kind: clouds.created_at(kind) for kind in CLOUD_KINDS}
    created["physical"] = {
        hostname: allocated.timestamp()
        for hostname, allocated in PhysicalMachine.objects.exclude(allocated_at=None).values_list(
            "hostname", "allocated_at"
        )
    }
    placement: Counter = Counter()
    segments: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rows = Host.objects.filter(pool=pool).values_list("pk", "provider__kind", "instance_id", "ready_at")
    for pk, kind, instance_id, ready_at in rows:
        placement[kind] += 1
        if ready_at is None:
            continue
        ready = ready_at.timestamp()
        steps = segments[kind]
        steps["total"].append(ready - requested)
        made = created[kind].get(instance_id)
        running = seen_running.get(pk)
        if made is not None:
            steps["to_create"].append(made - requested)
        if made is not None and running is not None:
            booted = made + (boot if kind != "physical" else 0)
            steps["poll_lag"].append(max(0.0, running.timestamp() - booted))
        if running is not None:
            steps["to_ready"].append(ready - running.timestamp())
    return placement, segments


def run_scenario(scenario: Scenario, clouds: Clouds, args, redis) -> Figures:
    """Fresh database, emulators and workers; scale out; time, count and check; stop the workers."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from apps.inventory.choices import HostStatus as H
    from apps.inventory.models import Host
    from apps.provisioning import services
    from apps.provisioning.choices import JobStatus

    connection.close()
    recreate_database()
    ContentType.objects.clear_cache()
    redis.flushdb()
    clouds.reset(scenario.latency, scenario.boot)
    user, pool = make_pool(clouds, scenario.hosts)
    env = worker_env(scenario, args.env)
    log_dir = Path(tempfile.mkdtemp(prefix=f"bench-clouds-{scenario.name}-"))
    workers = Workers(env, args.concurrency, args.workers, log_dir)
    figures = Figures(hosts=scenario.hosts)
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dcp", "purge", "-f", "-Q", QUEUES],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    workers.start(redis)
    try:
        counter = QueryCounter()
        started = time.time()
        with connection.execute_wrapper(counter):
            job = services.scale(pool.pk, user, services.ScaleRequest(delta=scenario.hosts)).job
        figures.accepted = time.time() - started
        figures.sql_request = counter.count
        deadline = time.monotonic() + args.timeout
        while True:
            job.refresh_from_db()
            if job.status in JobStatus.TERMINAL:
                break
            if time.monotonic() > deadline:
                print(f"  job {job.pk} still {job.status} after {args.timeout:.0f} s: figures are partial")
                break
            time.sleep(0.2)
        figures.wall = time.time() - started
        figures.calls_at_end = clouds.calls()
        figures.tasks_at_end = task_counts(redis)
        tagged = wait_for_tags(clouds, args.settle)
        figures.settled = time.time() - started if tagged else float("nan")
        time.sleep(2)  # a last reconcile tick or tag retry in flight
        figures.calls = clouds.calls()
        figures.tasks = task_counts(redis)
    finally:
        workers.stop()
    job.refresh_from_db()
    figures.status = job.status
    figures.ready = Host.objects.filter(pool=pool, status=H.READY).count()
    requested = job.created_at.timestamp()
    if job.finished_at:
        figures.job_seconds = job.finished_at.timestamp() - requested
    last_ready = Host.objects.filter(pool=pool).exclude(ready_at=None).order_by("-ready_at").first()
    figures.all_ready = last_ready.ready_at.timestamp() - requested if last_ready else float("nan")
    figures.placement, figures.segments = timelines(clouds, pool, job, scenario.boot)
    figures.inventory = check_inventory(clouds, pool)
    figures.task_lines = task_timeline(redis, pool, requested)
    figures.emulator_seconds = {kind: Counter(seconds) for kind, seconds in clouds.handle_seconds.items()}
    if job.status != JobStatus.SUCCEEDED and job.message:
        print(f"  job {job.pk} ended {job.status}: {job.message}")
    figures.failures = logged_failures(log_dir)
    print(f"  worker and beat logs: {log_dir}")
    return figures


def logged_failures(log_dir: Path) -> str:
    """Tasks that raised unexpectedly, by task and error, from the worker logs (e.g. deadlocks)."""
    found: Counter = Counter()
    pattern = re.compile(r"Task apps\.provisioning\.tasks\.(\w+)\[[^]]+\] raised unexpected: (\w+)\('([^\\']{0,40})")
    for log in log_dir.glob("worker-*.log"):
        for match in pattern.finditer(log.read_text(errors="replace")):
            found[f"{match[1]} {match[2]}: {match[3]}"] += 1
    return "; ".join(f"{n} x {what}" for what, n in found.most_common())


# --- reporting ---------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def spread(values: list[float]) -> str:
    """50th / 90th / max of values, in seconds."""
    return f"{pct(values, 50):6.2f} / {pct(values, 90):6.2f} / {max(values) if values else float('nan'):6.2f} s"


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def report(scenario: Scenario, figures: Figures, args, load_before: str) -> None:
    """Print one scenario's figures."""
    hosts = figures.hosts
    cloud_hosts = sum(figures.placement[kind] for kind in CLOUD_KINDS) or 1
    concurrency, workers = args.concurrency, args.workers
    print(f"\n[{scenario.name}] {scenario.title}")
    settings = " ".join(f"{k}={v}" for k, v in engine_settings({**args.env, **scenario.env}).items())
    print(
        f"  {hosts} hosts; boot {scenario.boot:g} s, latency {scenario.latency * 1000:.0f} ms per emulated call; "
        f"{workers} worker process(es) x concurrency {concurrency} (prefork) + beat; {settings}"
    )
    print(f"  machine before: {load_before}; after: {load()}")
    print(
        f"  job {figures.status}, {figures.ready}/{hosts} ready; placement "
        + ", ".join(f"{kind} {figures.placement[kind]}" for kind in SOURCES)
    )
    ideal = f", {figures.all_ready / scenario.boot:.3f} x the ideal ({scenario.boot:g} s boot)" if scenario.boot else ""
    print(
        f"  scale request answered in {figures.accepted * 1000:.0f} ms; all ready {figures.all_ready:.2f} s{ideal}; "
        f"job ended {figures.job_seconds:.2f} s; benchmark saw it end {figures.wall:.2f} s; "
        f"off-path tagging done {figures.settled:.2f} s"
    )
    if not scenario.boot:
        print(
            f"  engine overhead: {figures.all_ready / hosts * 1000:.1f} ms wall per host "
            f"({hosts / figures.all_ready:.0f} hosts/s to ready)"
        )
    for label, calls in (("until the job ended", figures.calls_at_end), ("including off-path tagging", figures.calls)):
        total = sum(sum(c.values()) for c in calls.values())
        kinds: Counter = Counter()
        for counter in calls.values():
            for action, n in counter.items():
                kinds[call_kind(action)] += n
        by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        print(
            f"  provider calls {label}: {total} = {total / hosts:.2f}/host "
            f"({total / cloud_hosts:.2f} per cloud host); by kind: {by_kind}"
        )
    for kind in CLOUD_KINDS:
        actions = ", ".join(f"{a} {n}" for a, n in figures.calls[kind].most_common())
        print(
            f"    {kind:9s} {sum(figures.calls[kind].values()):5d} calls for {figures.placement[kind]} hosts: {actions}"
        )
        handling = figures.emulator_seconds[kind]
        slowest = ", ".join(
            f"{action} {seconds:.2f} s ({seconds / figures.calls[kind][action]:.3f} s/call)"
            for action, seconds in handling.most_common(3)
            if figures.calls[kind][action]
        )
        print(f"      the emulator's own handling (no injected latency): {sum(handling.values()):.1f} s; {slowest}")
    print(
        f"  SQL statements: {figures.sql_at_end} until the job ended = {figures.sql_at_end / hosts:.1f}/host; "
        f"{figures.sql} in all = {figures.sql / hosts:.1f}/host (scale request itself: {figures.sql_request})"
    )
    tasks = figures.tasks
    rows = []
    for name in TASKS:
        runs = int(tasks.get(f"{name}:runs", 0))
        if runs:
            retries = int(tasks.get(f"{name}:RETRY", 0))
            failed = int(tasks.get(f"{name}:FAILURE", 0))
            rows.append(
                f"{name} {runs} runs ({retries} retried{f', {failed} FAILED' if failed else ''}), "
                f"{tasks.get(f'{name}:seconds', 0):.1f} s busy, {int(tasks.get(f'{name}:sql', 0))} SQL"
            )
    print("  worker tasks: " + "; ".join(rows))
    if figures.failures:
        print(f"  task failures in the worker logs: {figures.failures}")
    for line in figures.task_lines:
        print(f"  {line}")
    busy = sum(v for k, v in tasks.items() if k.endswith(":seconds"))
    engine = busy - tasks.get("tag_hosts:seconds", 0)
    print(
        f"  worker busy in tasks: {busy:.1f} s = {busy / hosts * 1000:.1f} ms/host; "
        f"without the off-path tag_hosts: {engine:.1f} s = {engine / hosts * 1000:.1f} ms/host "
        f"(provider latency and rate-limit waits included)"
    )
    print("  per host, 50th / 90th / max:")
    steps = (
        ("total", "requested -> ready"),
        ("to_create", "requested -> provider made it"),
        ("poll_lag", "booted -> engine saw it running"),
        ("to_ready", "seen running -> ready"),
    )
    for step, label in steps:
        values = [v for kind in SOURCES for v in figures.segments.get(kind, {}).get(step, [])]
        per_source = "  ".join(
            f"{kind} max {max(figures.segments[kind][step]):.2f}"
            for kind in SOURCES
            if figures.segments.get(kind, {}).get(step)
        )
        print(f"    {label:34s} {spread(values)}   ({per_source})")
    for line in figures.inventory:
        print(f"  inventory: {line}")


def report_extrapolated(scenario: Scenario, figures: Figures) -> None:
    """Scale a smaller run's figures to the full count: per-host counts linearly, time beyond one boot linearly."""
    target = scenario.extrapolate_to
    factor = target / figures.hosts
    calls = sum(sum(c.values()) for c in figures.calls.values())
    beyond = figures.all_ready - scenario.boot
    all_ready = scenario.boot + beyond * factor
    print(
        f"  EXTRAPOLATED to {target} hosts (measured on {figures.hosts}; calls and SQL scale with hosts, "
        f"the time past one boot scales linearly as the rate limits make it): all ready ~{all_ready:.0f} s = "
        f"~{all_ready / scenario.boot:.1f} x the ideal; ~{round(calls * factor)} provider calls "
        f"({calls / figures.hosts:.2f}/host); ~{round(figures.sql * factor)} SQL statements"
    )


def scenarios(args) -> list[Scenario]:
    """The scenarios asked for on the command line."""
    found = []
    for name in args.scenarios.split(","):
        name = name.strip()
        if name == "a":
            found.append(Scenario("a", "engine overhead: no latency, no boot time", args.hosts, 0.0, 0.0))
        elif name == "b":
            found.append(
                Scenario("b", "batched, as DCP works: boot time and API latency", args.hosts, args.boot, args.latency)
            )
        elif name == "c":
            hosts = args.c_hosts or args.hosts
            found.append(
                Scenario(
                    "c",
                    "one provider call per host (DCP_CREATE_BATCH_SIZE=1), as the peers work",
                    hosts,
                    args.boot,
                    args.latency,
                    env={"DCP_CREATE_BATCH_SIZE": "1"},
                    extrapolate_to=args.hosts if hosts < args.hosts else 0,
                )
            )
        elif name:
            sys.exit(f"unknown scenario {name!r}: use a, b, c")
    return found


def main() -> None:
    """Parse arguments, start the emulators, run each scenario and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--scenarios", default="a,b,c", help="comma-separated, of a, b, c")
    parser.add_argument("--boot", type=float, default=30.0, help="seconds each instance boots (b, c)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every emulated call (b, c)")
    parser.add_argument("--c-hosts", type=int, default=0, help="hosts for scenario c (default --hosts)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="pool processes per worker (8 on 2 cores: the tasks mostly wait on provider latency, "
        "rate-limit sleeps and row locks, and 8 lets the first create of every source start at once)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (each with --concurrency)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the job")
    parser.add_argument("--settle", type=float, default=120, help="seconds to wait for off-path work after the job")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="a setting for the workers (repeatable)"
    )
    args = parser.parse_args()
    args.env = dict(item.split("=", 1) for item in args.env)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        sys.exit("set CELERY_BROKER_URL to a Redis database of the benchmark's own (it is flushed)")
    import django

    django.setup()
    import logging

    import redis
    from django.conf import settings

    logging.getLogger("apps.providers").setLevel(logging.WARNING)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    chosen = scenarios(args)
    shown = ", ".join(f"{key}={value}" for key, value in engine_settings(args.env).items())
    print(
        f"scale_clouds: {args.hosts} hosts over {', '.join(SOURCES)} (quota {quotas(args.hosts)}); "
        f"workers: {args.workers} x concurrency {args.concurrency} (prefork); worker settings {shown}; {load()}"
    )
    clouds = Clouds()
    clouds.start()
    started = time.perf_counter()
    try:
        for scenario in chosen:
            print(f"\nrunning [{scenario.name}] on {scenario.hosts} hosts ...", flush=True)
            before = load()
            figures = run_scenario(scenario, clouds, args, client)
            report(scenario, figures, args, before)
            if scenario.extrapolate_to:
                report_extrapolated(scenario, figures)
            sys.stdout.flush()
    finally:
        clouds.stop()
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s; {load()}")


if __name__ == "__main__":
    main()
