"""Host-level steps: create a batch, wait for it to run, initialize, terminate.

Each step reads its state from the database and may run twice: a batch is
created with its own idempotency token, so a repeated call returns the same
nodes; a host that has moved on since the step was queued is left alone; two
workers never create the same batch at the same moment (running_alone). Steps
lock the pool's row before its hosts', as the reconciler does.
"""

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.configuration import keys
from apps.configuration import services as init_services
from apps.configuration.results import InitResult
from apps.configuration.runners import missing_address, needs_run
from apps.core import sentences
from apps.core.bulk import bulk_set
from apps.inventory.choices import FailureReason
from apps.inventory.choices import HostStatus as H
from apps.inventory.models import Host, ServicePool
from apps.providers.drivers import CapacityError, Node, NodeSpec, NodeState, ProviderError
from apps.providers.drivers.registry import engine_driver, get_driver_class
from apps.providers.models import CloudAccount
from apps.providers.ratelimit import limits_for
from apps.provisioning import transitions
from apps.provisioning.choices import EventKind
from apps.provisioning.dispatch import after_commit
from apps.provisioning.models import JobEvent
from apps.provisioning.nodes import NODE_FIELDS, held_facts, keep_probed, take_node

logger = logging.getLogger(__name__)


def batch_tags(host: Host) -> dict[str, str]:
    """Tags every instance of a batch carries, so the reconciler can trace it back."""
    return {
        "dcp": "1",
        "dcp-cluster": host.pool.cluster.name,
        "dcp-pool": str(host.pool_id),
        "dcp-job": str(host.job_id or ""),
        "dcp-batch": host.batch_token,
    }


def host_tags(host: Host) -> dict[str, str]:
    """The tags naming one instance's own host, added once the host is ready."""
    return {"dcp-host": str(host.pk), "dcp-hostname": host.hostname}


def advisory_key(step: str, key: str) -> int:
    """The PostgreSQL advisory lock id of one step for one key."""
    digest = hashlib.blake2b(f"dcp:{step}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def running_alone(step: str, key: str) -> Iterator[bool]:
    """Whether this worker is the only one running this step for this key now; held until the block ends.

    A PostgreSQL session advisory lock, tried without waiting: the lock goes with the database session,
    so a worker killed mid-step frees it at once and the step re-queued by the tick can run. Elsewhere
    (SQLite, the embedded default) every caller runs, as before: record_nodes still destroys the surplus
    of a batch made twice.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    lock_id = advisory_key(step, key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
            except DatabaseError:
                # The session is broken or gone (and its lock with it): keep the step's own error.
                logger.warning("Advisory lock of %s %s not released: the database session failed.", step, key)


def create_batch(token: str) -> None:
    """Create the instances of one batch with a single provider call, unless another worker is doing so now."""
    with running_alone("create_batch", token) as alone:
        if not alone:
            # The same step for the same batch is running in another worker (a message delivered twice, or
            # re-queued by the tick while it ran): that one records what it makes. Calling the provider here
            # too would make the batch twice where there is no idempotency token (physical machines, Nova,
            # an endpoint that ignores ClientToken) and leak the second set if this worker died before
            # recording it.
            logger.info("Batch %s is being created by another worker; leaving it to that one.", token)
            return
        _create_batch(token)


def _create_batch(token: str) -> None:
    hosts = list(Host.objects.filter(batch_token=token).select_related("template__provider", "pool__cluster"))
    if not hosts or all(h.instance_id or h.status not in (H.PENDING, H.CREATING) for h in hosts):
        if any(h.status == H.CREATING for h in hosts):
            # Every instance exists but some still boot: this is the reconciler re-dispatching a batch
            # whose poll was lost (a killed worker's countdown message comes back only after the broker's
            # visibility timeout). Without polling here the batch would stay creating for ever.
            poll_batch(token)
        return
    with transaction.atomic():
        lock_pools([hosts[0].pool_id])
        pending = list(
            Host.objects.select_for_update(**transitions.HOST_LOCK).filter(batch_token=token, status=H.PENDING)
        )
        transitions.move_hosts(pending, H.CREATING)
    # Every host of the batch was pending: no earlier attempt can have called the provider (an attempt
    # commits creating before its call), so the driver need not look for what one made.
    first_attempt = len(pending) == len(hosts)
    first = hosts[0]
    driver = engine_driver(first.template.provider)
    # The key DCP will log in with goes with the create: the driver imports it into the cloud once.
    public_key = keys.key_of(first.pool_id, first.template.provider_id).public_key
    spec = NodeSpec.from_template(first.template, name_prefix=first.pool.name, zone=first.zone, public_key=public_key)
    try:
        nodes = driver.create_nodes(
            spec, len(hosts), client_token=token, tags=batch_tags(first), first_attempt=first_attempt
        )
    except ProviderError as exc:
        if exc.retryable:
            raise
        fail_batch(token, exc)
        return
    record_nodes(token, nodes, names_nodes=driver.kind == "physical")


def lock_pools(pool_ids) -> None:
    """Take these pools' row locks, in pk order: a step takes its pool's lock before any host's.

    The reconciler holds its pool's lock while it locks hosts in its own order (scale-in order,
    newest first). A step that locked the same hosts in pk order without the pool's lock deadlocked
    with it, and so did one that saved a locked host (the foreign key check takes a share lock on the
    pool row, which waits for the reconciler's). Seen with two workers and concurrent scale-out and
    scale-in on one pool: one side was rolled back, and a rolled-back reconcile pass is not retried
    until the next tick. Pool first, then hosts, everywhere, as fail_batch does.
    """
    list(
        ServicePool.objects.select_for_update(no_key=True).filter(pk__in=set(pool_ids)).order_by("pk").values_list("pk")
    )


def fail_batch(token: str, exc: ProviderError) -> None:
    """Mark a batch's hosts failed with the provider's reason; the reconciler replaces or gives up."""
    # The capacity sentence is what placement looks for to pass over this zone for a while.
    if isinstance(exc, CapacityError):
        message = sentences.NO_CAPACITY(reason=exc.message)
    else:
        message = sentences.SAYS(who=type(exc).__name__, message=exc.message)
    pool_id = Host.objects.filter(batch_token=token).values_list("pool_id", flat=True).first()
    with transaction.atomic():
        # The pool's lock first, as the reconciler takes it: this step writes the job row too.
        lock_pools([pool_id])
        hosts = list(
            Host.objects.select_for_update(**transitions.HOST_LOCK)
            .select_related("job", "provider")
            .filter(batch_token=token, status=H.CREATING, instance_id="")
        )
        for host in hosts:
            transitions.move_host(host, H.FAILED, message, failure_reason(exc))
        if hosts:
            logger.warning(
                "%d host(s) failed on %s: %s",
                len(hosts),
                hosts[0].provider.name,
                exc.message,
                extra={"pool": pool_id, "job": hosts[0].job_id, "provider": hosts[0].provider_id},
            )
        if hosts and hosts[0].job and not isinstance(exc, CapacityError):
            # Auth, quota and invalid-request errors will not fix themselves: the job stops and says why.
            # (Capacity errors do not stop it: the next pass places the hosts elsewhere.)
            transitions.give_up(
                hosts[0].job, sentences.PROVIDER_REFUSED(account=hosts[0].provider.name, reason=exc.message)
            )
        if hosts:
            after_commit("reconcile_pool", hosts[0].pool_id)


def failure_reason(exc: ProviderError) -> str:
    """The FailureReason of hosts whose create call raised exc: its kind where that is one, else provider_error."""
    return exc.label if exc.label in FailureReason.values() else FailureReason.PROVIDER_ERROR


def record_nodes(token: str, nodes: list[Node], *, names_nodes: bool = False) -> None:
    """Match the batch's nodes to its hosts, keep what each answer says of them, and move the running ones on."""
    orphans: list[str] = []
    with transaction.atomic():
        lock_pools(Host.objects.filter(batch_token=token).values_list("pool_id", flat=True)[:1])
        hosts = list(
            Host.objects.select_for_update(**transitions.HOST_LOCK)
            .filter(batch_token=token)
            .select_related("template", "provider")
            .order_by("pk")
        )
        known = {h.instance_id for h in hosts if h.instance_id}
        fresh = sorted((n for n in nodes if n.id not in known), key=lambda n: n.id)
        by_id = {n.id: n for n in nodes}
        booting: Host | None = None  # a host of the batch whose instance still boots, to probe
        created: list[Host] = []
        changed: list[Host] = []
        running: list[Host] = []
        for host in hosts:
            new = not host.instance_id and bool(fresh)
            node = fresh.pop(0) if new else by_id.get(host.instance_id)
            if node is None or host.status == H.TERMINATED:
                if new:
                    orphans.append(node.id)
                continue
            if take_node(host, node, names_nodes):
                changed.append(host)
            if new:
                created.append(host)
                if host.status == H.TERMINATING:
                    after_commit("terminate_hosts", [host.pk])
            if host.status != H.CREATING:
                continue
            if node.state == NodeState.RUNNING:
                if not _fail_if_unreachable(host):
                    running.append(host)
            elif not _fail_if_broken(host, node):
                booting = booting or host
        # A batch's writes in a few statements, not several per host: what a create or poll costs the
        # database does not grow with the batch.
        bulk_set(changed, [*NODE_FIELDS, "updated_at"])
        JobEvent.objects.bulk_create(
            transitions.event(
                h.job_id, EventKind.CREATED, sentences.HOST_CREATED(host=h.hostname, instance=h.instance_id), h
            )
            for h in created
            if h.job_id
        )
        transitions.move_hosts(running, H.INITIALIZING)
        if running:
            after_commit("initialize_hosts", [h.pk for h in running])
        orphans.extend(n.id for n in fresh)
        if booting:
            # Watched, so not stuck: the reconciler re-dispatches only a batch whose polls stopped (a lost
            # message), instead of starting a second chain of polls beside a live one every
            # DCP_STUCK_AFTER_SECONDS while a slow batch boots.
            Host.objects.filter(batch_token=token, status=H.CREATING).update(updated_at=timezone.now())
            schedule_poll(token, hosts[0].provider, booting)
    if orphans:
        # More nodes than hosts, or hosts removed while their nodes were being made: never leave them running.
        engine_driver(hosts[0].provider).destroy_nodes(orphans)


def _fail_if_unreachable(host: Host) -> bool:
    """Fail a host whose instance runs without the address initialization needs, and stop its job; else False.

    Initializing it would only fail later, less clearly, after a wasted SSH attempt and a retry. The running
    answer is the last one a host waits for, so the address will not come on its own: a template that names
    the wrong address (dcp_ssh_via) or a cloud that gives none is to be fixed, not retried host after host.
    """
    reason = missing_address(host)
    if not reason:
        return False
    message = sentences.NO_ADDRESS(instance=host.instance_id, reason=reason)
    transitions.move_host(host, H.FAILED, message, FailureReason.NO_ADDRESS)
    if host.job_id:
        transitions.give_up(host.job, sentences.SAYS(who=host.provider.name, message=reason))
    after_commit("reconcile_pool", host.pool_id)
    return True


def _fail_if_broken(host: Host, node: Node) -> bool:
    """Fail a creating host whose node is not running and will not be (or took too long); False while it boots."""
    if node.state in (NodeState.ERROR, NodeState.TERMINATED, NodeState.STOPPED):
        reason = sentences.INSTANCE_BROKEN(instance=node.id, state=node.state.value)
        code = FailureReason.INSTANCE_ERROR
        if node.extra.get("no_capacity"):
            # The provider found no room for it after the create call returned: the same as a capacity error.
            fault = (node.extra.get("fault") or {}).get("message", "")
            reason = sentences.NO_CAPACITY(reason=sentences.SAYS(who=reason, message=fault) if fault else reason)
            code = FailureReason.CAPACITY
        transitions.move_host(host, H.FAILED, reason, code)
        after_commit("reconcile_pool", host.pool_id)
        return True
    if (timezone.now() - host.created_at).total_seconds() > settings.DCP_BOOT_TIMEOUT:
        message = sentences.BOOT_TIMEOUT(instance=node.id, seconds=settings.DCP_BOOT_TIMEOUT)
        transitions.move_host(host, H.FAILED, message, FailureReason.BOOT_TIMEOUT)
        after_commit("reconcile_pool", host.pool_id)
        return True
    return False


#: Hosts per tagging task: a batch's worth. Measured on 1,000 hosts (bench/scale_clouds.py): tasks of 10
#: queued ~100 messages ahead of the batches' polls on the provider queue (all ready 39.4 s instead of
#: 35.9 s), and on the init queue ahead of initialization (39.1 s). A task per batch holds a worker slot
#: longer but leaves the queues' order to the work that makes hosts ready.
TAG_CHUNK = 100
#: Tagging tasks running at once, over all workers: tagging is one paced call per host (a batch of 100
#: on EC2 takes 10 s at its CreateTags rate), and when it filled the provider queue's slots the polls
#: waited behind it (a batch polled 6 to 11 s apart instead of 2).
TAG_SLOTS = 2


def queue_tagging(host_ids: list[int]) -> None:
    """Queue tag_hosts for these hosts, TAG_CHUNK at a time, once the current transaction commits."""
    for start in range(0, len(host_ids), TAG_CHUNK):
        after_commit("tag_hosts", host_ids[start : start + TAG_CHUNK])


def tag_hosts(host_ids: list[int]) -> list[int]:
    """Tag each ready host's instance with its host, one call each; returns the ids still to do when throttled.

    Best effort and off the path to ready (it starts once the host is ready, in
    at most TAG_SLOTS tasks at a time): the batch tags and the instance id
    already tie an instance to DCP, this names the host for whoever looks at
    the cloud's console. A throttled or failing call, or no free slot, leaves
    the rest for later.
    """
    with tag_slot() as slot:
        if not slot:
            return list(host_ids)
        return _tag_hosts(host_ids)


@contextmanager
def tag_slot() -> Iterator[bool]:
    """One of the TAG_SLOTS tagging slots shared by all workers, if one is free."""
    for number in range(TAG_SLOTS):
        with running_alone("tag_hosts", str(number)) as free:
            if free:
                yield True
                return
    yield False


def _tag_hosts(host_ids: list[int]) -> list[int]:
    hosts = list(
        Host.objects.filter(pk__in=host_ids)
        .exclude(instance_id="")
        .exclude(status__in=(H.TERMINATING, H.TERMINATED))
        .select_related("provider")
        .order_by("pk")
    )
    for index, host in enumerate(hosts):
        try:
            engine_driver(host.provider).tag_nodes({host.instance_id: host_tags(host)})
        except ProviderError as exc:
            if exc.retryable:
                return [h.pk for h in hosts[index:]]
            logger.warning("Host %s not tagged on %s: %s", host.hostname, host.provider.name, exc.message)
    return []


def poll_batch(token: str, probe: dict | None = None) -> None:
    """Look at a batch's booting instances; queue the next look while some boot.

    A look is either a probe (``probe`` given, its full poll not yet due): one booting instance, one
    small call, and a write only when it tells something new of that instance; or a full poll: every
    booting instance of the batch in one describe call, recorded. A probe that finds its instance
    running, failed or gone makes a full poll at once.
    """
    if probe and _still_booting(token, probe):
        delay = min(probe["every"], max(0.0, probe["full_at"] - time.time()))
        after_commit("poll_batch", token, probe, countdown=delay)
        return
    hosts = list(
        Host.objects.filter(batch_token=token, status=H.CREATING).exclude(instance_id="").select_related("provider")
    )
    if not hosts:
        return
    nodes = engine_driver(hosts[0].provider).get_nodes([h.instance_id for h in hosts])
    found = {n.id for n in nodes}
    vanished = [
        Node(id=h.instance_id, name=h.hostname, state=NodeState.TERMINATED) for h in hosts if h.instance_id not in found
    ]
    record_nodes(token, nodes + vanished)


def _still_booting(token: str, probe: dict) -> bool:
    """Whether the probed instance still boots (its news recorded); False when its full poll is due."""
    if time.time() >= probe["full_at"]:
        return False
    account = CloudAccount.objects.filter(pk=probe["account"]).first()
    if account is None:
        return False
    try:
        node = engine_driver(account).get_node(probe["instance"])
    except ProviderError as exc:
        if not exc.retryable:
            return False  # the full poll meets the same error and handles it
        # Throttled or a hiccup: a probe is only a hint, so no back-off for it; the full poll still comes.
        logger.debug("Probe of %s on %s skipped: %s", probe["instance"], account.name, exc.message)
        return True
    if node is None or node.state != NodeState.PENDING:
        return False
    keep_probed(token, probe, node)
    return True


def probe_interval(account: CloudAccount) -> float:
    """Seconds between two probes of one booting batch on this account; 0 when probes are not worth it.

    DCP_PROBE_INTERVAL, stretched so that the probes of every batch booting on the account together
    take at most DCP_PROBE_RATE_SHARE of its describe rate limit. No probes where a single get lists
    everything (Libcloud), or where they would come no sooner than the full poll.
    """
    fastest = settings.DCP_PROBE_INTERVAL
    if not fastest or not get_driver_class(account.kind).cheap_get_node:
        return 0.0
    bucket = limits_for(account, "describe").get("request")
    if bucket is not None:
        batches = (
            Host.objects.filter(provider=account, status=H.CREATING)
            .exclude(instance_id="")
            .values("batch_token")
            .distinct()
            .count()
        )
        fastest = max(fastest, batches / (bucket.rate * settings.DCP_PROBE_RATE_SHARE))
    return fastest if fastest < settings.DCP_POLL_INTERVAL else 0.0


def schedule_poll(token: str, account: CloudAccount, booting: Host) -> None:
    """After commit, queue the batch's next look: a probe of one booting instance, or the full poll when due."""
    every = probe_interval(account)
    if not every:
        after_commit("poll_batch", token, countdown=settings.DCP_POLL_INTERVAL)
        return
    probe = {
        "instance": booting.instance_id,
        "account": account.pk,
        "every": every,
        "full_at": time.time() + settings.DCP_POLL_INTERVAL,
        "seen": held_facts(booting),
    }
    after_commit("poll_batch", token, probe, countdown=every)


def initialize(host_ids: list[int]) -> None:
    """Initialize running hosts in one run per method; each becomes ready, is retried, or fails (and is replaced).

    A host whose run failed is initialized again DCP_INIT_RETRIES times, DCP_INIT_RETRY_DELAY apart (a
    host just booted may not answer SSH yet, a mirror may hiccup); after that it fails, and the
    reconciler terminates and replaces it. A host already being initialized is left to that run.
    """
    hosts = init_services.load(host_ids, status=H.INITIALIZING)
    # Hosts that need no initialization keep no run record: they are ready as they are.
    results = {h.pk: InitResult(message=sentences.NO_INIT()) for h in hosts if not needs_run(h)}
    runs = init_services.claim([h for h in hosts if needs_run(h)])
    results.update(init_services.execute(runs))
    with transaction.atomic():
        lock_pools(host.pool_id for host in hosts)
        pools, again = set(), []
        attempts = {run.host_id: run.attempt for run in runs}
        locked = Host.objects.select_for_update(**transitions.HOST_LOCK).filter(
            pk__in=list(results), status=H.INITIALIZING
        )
        ready, events = [], []
        for host in locked:
            result = results[host.pk]
            if host.job_id:
                message = (
                    sentences.INITIALIZED(host=host.hostname, message=result.message)
                    if result.ok
                    else sentences.INIT_ENDED(host=host.hostname, status=result.status, message=result.message)
                )
                events.append(transitions.event(host.job_id, EventKind.INITIALIZED, message, host))
            if result.ok:
                ready.append(host)
            elif attempts[host.pk] <= settings.DCP_INIT_RETRIES:
                again.append(host.pk)
                continue
            else:
                message = sentences.INIT_FAILED(status=result.status, message=result.message)
                transitions.move_host(host, H.FAILED, message, FailureReason.INIT_FAILED)
            pools.add(host.pool_id)
        JobEvent.objects.bulk_create(events)
        transitions.move_hosts(ready, H.READY)
        # Physical machines carry DCP's tags in its own inventory already.
        tagged_by_cloud = {h.pk for h in hosts if h.provider.kind != "physical"}  # providers loaded with the hosts
        queue_tagging([h.pk for h in ready if h.pk in tagged_by_cloud])
        if again:
            after_commit("initialize_hosts", again, countdown=settings.DCP_INIT_RETRY_DELAY)
        for pool_id in sorted(pools):
            after_commit("reconcile_pool", pool_id)


def terminate(host_ids: list[int]) -> None:
    """Destroy the instances of terminating hosts, then mark them terminated."""
    hosts = list(Host.objects.filter(pk__in=host_ids, status=H.TERMINATING).select_related("provider"))
    by_provider: dict[int, list[Host]] = {}
    for host in hosts:
        by_provider.setdefault(host.provider_id, []).append(host)
    for group in by_provider.values():
        ids = [h.instance_id for h in group if h.instance_id]
        if ids:
            engine_driver(group[0].provider).destroy_nodes(ids)
    destroyed = {host.pk: host.instance_id for host in hosts}
    with transaction.atomic():
        lock_pools(host.pool_id for host in hosts)
        pools = set()
        locked = Host.objects.select_for_update(**transitions.HOST_LOCK).filter(
            pk__in=[h.pk for h in hosts], status=H.TERMINATING
        )
        done = []
        for host in locked:
            if host.instance_id != destroyed[host.pk]:
                # Its instance was recorded after this step read the host (removed while its create call
                # was in flight): that instance was not destroyed here, and marking the host terminated
                # would leave it running for ever. record_nodes queued a terminate step that destroys it
                # (and the tick re-queues one if that message is lost).
                continue
            done.append(host)
            pools.add(host.pool_id)
        transitions.move_hosts(done, H.TERMINATED)
        for pool_id in sorted(pools):
            after_commit("reconcile_pool", pool_id)
