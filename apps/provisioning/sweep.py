"""The periodic sweep: each provider's DCP-tagged instances compared with the database.

It finds two things:

- **Orphans**: live instances tagged ``dcp=1`` that no host claims, recorded as
  OrphanInstance rows and reported; destroyed when the account's option
  ``terminate_orphans`` is true. A host terminated while its instance still
  lives (a lost terminate) leaves an orphan too.
- **Lost hosts**: ready hosts whose instance is gone (or in error). They move
  to ``lost``; the reconciler's next pass terminates and replaces them.

The engine creates and records instances while the sweep runs. How the sweep
stays out of its way:

1. The provider is listed *before* the database is read. A batch's host rows
   are committed before the create call that makes its instances is queued,
   so every instance the listing shows has its hosts in the database by the
   time the sweep reads them. (The other way round, a batch created between
   the two reads would look like orphans.)
2. Between ``create_nodes`` returning and ``record_nodes`` committing, a
   batch's instances exist but no host names them. Each carries its batch's
   token (``dcp-batch``): while a host of that batch has no instance id and
   the engine still owns it (pending, creating, terminating, or terminated
   less than DCP_ORPHAN_GRACE_SECONDS ago), the engine will record those
   instances or destroy them itself, so the sweep leaves them alone. Batch
   tokens are never reused, so a batch judged settled stays settled.
3. An instance whose batch belongs to another account (two accounts reaching
   the same cloud) is that account's sweep's to judge.
4. A host terminated a moment ago may still show in a listing taken before
   its terminate: its instance counts as an orphan only after the grace.
5. An orphan is destroyed only when an earlier sweep, at least the grace
   before this one, found it an orphan too: a race the rules above miss has to
   hold still across two sweeps to cost an instance.
6. A ready host is lost only if its instance is missing from the listing *and*
   from a look-up by id made afterwards, and it is moved under the pool's and
   the host's row locks only while it is still ready with that instance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core import sentences
from apps.inventory.choices import HostStatus as H
from apps.inventory.models import Host
from apps.providers.drivers import Driver, Node, NodeState, ProviderError, get_driver
from apps.providers.models import CloudAccount
from apps.provisioning import transitions, work
from apps.provisioning.choices import OrphanState
from apps.provisioning.dispatch import after_commit
from apps.provisioning.models import OrphanInstance

logger = logging.getLogger(__name__)

DCP_TAGS = {"dcp": "1"}
BATCH_TAG = "dcp-batch"
HOST_TAG = "dcp-host"
# A ready host whose instance is in one of these states no longer has a machine.
DEAD = (NodeState.TERMINATED, NodeState.ERROR)
# While a host without an instance id is in one of these, the engine records or destroys its batch's instances.
ENGINE_OWNED = (H.PENDING, H.CREATING, H.TERMINATING)


@dataclass
class SweepResult:
    """What one sweep of one account found and did."""

    account: str
    listed: int = 0
    #: Instance ids found orphans by this sweep.
    orphans: list[str] = field(default_factory=list)
    #: Orphans this sweep destroyed.
    terminated: list[str] = field(default_factory=list)
    #: Orphans of earlier sweeps that are orphans no more (deleted elsewhere, mostly).
    gone: list[str] = field(default_factory=list)
    #: Hostnames of the hosts moved to lost.
    lost: list[str] = field(default_factory=list)
    #: Hosts whose instance lacked its own host tag (its tagging step was lost), queued to be tagged again.
    retagged: list[int] = field(default_factory=list)
    #: Why the account could not be swept ("" when it was).
    error: str = ""


@dataclass(frozen=True)
class Finding:
    """One orphan as this sweep sees it, and why it is one."""

    node: Node
    reason: str
    host_id: int | None = None


def grace() -> timedelta:
    """How long an orphan must stay one before it is destroyed (and a terminated host's instance may linger)."""
    return timedelta(seconds=settings.DCP_ORPHAN_GRACE_SECONDS)


def account_ids() -> list[int]:
    """Every provider account, in a stable order."""
    return list(CloudAccount.objects.order_by("pk").values_list("pk", flat=True))


def sweep_all(accounts: Iterable[CloudAccount] | None = None) -> list[SweepResult]:
    """Sweep every account (or these) one after the other; an account that fails is reported, the rest swept."""
    results = []
    for account in CloudAccount.objects.order_by("pk") if accounts is None else accounts:
        try:
            results.append(sweep_account_safely(account))
        except ProviderError as exc:  # throttled or transient: the next sweep will do
            logger.warning("Sweep of %s put off: %s", account.name, describe(exc))
            results.append(SweepResult(account=account.name, error=f"{describe(exc)} (try again later)"))
    return results


def sweep_account_id(account_id: int) -> SweepResult | None:
    """Sweep one account by id (None if it was deleted meanwhile)."""
    account = CloudAccount.objects.filter(pk=account_id).first()
    return sweep_account_safely(account) if account is not None else None


def sweep_account_safely(account: CloudAccount) -> SweepResult:
    """Sweep one account; a fatal provider error (auth, bad request) is logged and returned, not raised.

    Retryable errors (throttled, transient) are raised, so that the task retries with back-off.
    """
    try:
        return sweep_account(account)
    except ProviderError as exc:
        if exc.retryable:
            raise
        logger.error("Sweep of %s failed: %s", account.name, describe(exc))
        return SweepResult(account=account.name, error=describe(exc))


def describe(exc: ProviderError) -> str:
    """A provider error in one line: its kind and the provider's message."""
    return f"{type(exc).__name__}: {exc.message}"


def sweep_account(account: CloudAccount) -> SweepResult:
    """Look for orphans and lost hosts on one account; record, report, destroy and move them per policy."""
    seen_at = timezone.now()
    driver = get_driver(account)
    # The provider first, then the database: see point 1 of the module's docstring.
    listed = {node.id: node for node in driver.list_nodes(DCP_TAGS)}
    findings = find_orphans(account, list(listed.values()), seen_at)
    gone, doomed = record_orphans(account, findings, seen_at)
    result = SweepResult(account=account.name, listed=len(listed), orphans=sorted(findings), gone=gone)
    if doomed:
        driver.destroy_nodes(doomed)
        result.terminated = mark_terminated(account, doomed)
        logger.warning("Destroyed orphan instances on %s: %s", account.name, ", ".join(result.terminated))
    result.lost = mark_lost(account, driver, listed)
    result.retagged = retag(account, listed)
    return result


def retag(account: CloudAccount, listed: dict[str, Node]) -> list[int]:
    """Queue tagging again for hosts whose instance lacks its ``dcp-host`` tag (a worker died while tagging).

    Physical machines are named after their hosts' records, not tagged.
    """
    if account.kind == "physical":
        return []
    untagged = [node_id for node_id, node in listed.items() if HOST_TAG not in node.tags]
    hosts = Host.objects.filter(provider=account, status=H.READY, instance_id__in=untagged)
    ids = sorted(hosts.values_list("pk", flat=True))
    if ids:
        work.queue_tagging(ids)
    return ids


# ---------------------------------------------------------------- orphans


def find_orphans(account: CloudAccount, nodes: list[Node], seen_at: datetime) -> dict[str, Finding]:
    """The listed nodes no host of the account claims, less those the engine may still record (by id)."""
    claimed = set(
        Host.objects.filter(provider=account)
        .exclude(status=H.TERMINATED)
        .exclude(instance_id="")
        .values_list("instance_id", flat=True)
    )
    candidates = [node for node in nodes if node.id not in claimed]
    if not candidates:
        return {}
    cutoff = seen_at - grace()
    hands_off = _not_ours_to_judge(account, {node.tags.get(BATCH_TAG, "") for node in candidates} - {""}, cutoff)
    dead = _terminated_hosts(account, [node.id for node in candidates])
    found = {}
    for node in candidates:
        if node.tags.get(BATCH_TAG, "") in hands_off:
            continue
        host = dead.get(node.id)
        if host is None:
            found[node.id] = Finding(node, "no host claims it")
        elif host.terminated_at is None or host.terminated_at <= cutoff:
            found[node.id] = Finding(node, f"its host {host.hostname} is terminated but it still runs", host.pk)
    return found


def _not_ours_to_judge(account: CloudAccount, tokens: set[str], cutoff: datetime) -> set[str]:
    """Batch tokens whose instances this sweep leaves alone: batches in flight, and other accounts' batches."""
    if not tokens:
        return set()
    batches = Host.objects.filter(batch_token__in=tokens)
    engine_owned = Q(status__in=ENGINE_OWNED) | Q(status=H.TERMINATED, terminated_at__gt=cutoff)
    in_flight = batches.filter(provider=account, instance_id="").filter(engine_owned)
    foreign = batches.exclude(provider=account)
    return set(in_flight.values_list("batch_token", flat=True)) | set(foreign.values_list("batch_token", flat=True))


def _terminated_hosts(account: CloudAccount, instance_ids: list[str]) -> dict[str, Host]:
    """The last terminated host of the account on each of these instances."""
    hosts = (
        Host.objects.filter(provider=account, status=H.TERMINATED, instance_id__in=instance_ids)
        .only("pk", "hostname", "instance_id", "terminated_at")
        .order_by(F("terminated_at").asc(nulls_first=True), "pk")
    )
    return {host.instance_id: host for host in hosts}


def record_orphans(
    account: CloudAccount, findings: dict[str, Finding], seen_at: datetime
) -> tuple[list[str], list[str]]:
    """Record this sweep's orphans and mark earlier ones gone; returns (gone ids, ids to destroy now).

    An orphan is to be destroyed when the account says so and an earlier sweep,
    at least the grace before this one, found it an orphan too.
    """
    with transaction.atomic():
        # One sweep of an account at a time. NO KEY: hosts pointing at the account may still be inserted meanwhile.
        locked = CloudAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        terminate = bool((locked.options or {}).get("terminate_orphans"))
        gone = _mark_gone(locked, findings)
        records = {r.instance_id: r for r in locked.orphans.filter(instance_id__in=list(findings))}
        cutoff = seen_at - grace()
        doomed = []
        for instance_id, finding in sorted(findings.items()):
            record = records.get(instance_id)
            if terminate and record is not None and record.state != OrphanState.GONE and record.first_seen <= cutoff:
                doomed.append(instance_id)
            _save_record(locked, record, finding, seen_at)
    if findings:
        policy = (
            "terminate_orphans is on: each is destroyed once two sweeps DCP_ORPHAN_GRACE_SECONDS apart found it"
            if terminate
            else "reported only: terminate_orphans is off"
        )
        logger.warning(
            "Orphan instances on %s, claimed by no host (%s): %s", account.name, policy, ", ".join(sorted(findings))
        )
    return gone, doomed


def _mark_gone(account: CloudAccount, findings: dict[str, Finding]) -> list[str]:
    """Reported orphans this sweep did not find: they went away (or something claims them now)."""
    vanished = account.orphans.filter(state=OrphanState.REPORTED).exclude(instance_id__in=list(findings))
    ids = sorted(vanished.values_list("instance_id", flat=True))
    if ids:
        account.orphans.filter(instance_id__in=ids).update(state=OrphanState.GONE, updated_at=timezone.now())
    return ids


def _save_record(
    account: CloudAccount, record: OrphanInstance | None, finding: Finding, seen_at: datetime
) -> OrphanInstance:
    """Create or refresh one orphan's record; one that had gone and came back starts its wait again."""
    node = finding.node
    if record is None:
        record = OrphanInstance(provider=account, instance_id=node.id, first_seen=seen_at)
    elif record.state == OrphanState.GONE:
        record.first_seen = seen_at
    record.state = OrphanState.REPORTED
    record.terminated_at = None
    record.name = node.name[:255]
    record.tags = dict(node.tags)
    record.reason = finding.reason[:500]
    record.host_id = finding.host_id
    record.last_seen = seen_at
    record.save()
    return record


def mark_terminated(account: CloudAccount, instance_ids: list[str]) -> list[str]:
    """Record that these orphans were destroyed."""
    now = timezone.now()
    account.orphans.filter(instance_id__in=instance_ids).update(
        state=OrphanState.TERMINATED, terminated_at=now, updated_at=now
    )
    return sorted(instance_ids)


# ---------------------------------------------------------------- lost hosts


def mark_lost(account: CloudAccount, driver: Driver, listed: dict[str, Node]) -> list[str]:
    """Move the account's ready hosts whose instance is gone to lost; returns their hostnames."""
    ready = dict(
        Host.objects.filter(provider=account, status=H.READY).exclude(instance_id="").values_list("pk", "instance_id")
    )
    suspects = {pk: iid for pk, iid in ready.items() if iid not in listed or listed[iid].state in DEAD}
    if not suspects:
        return []
    # A second look, by id: an instance made after the listing, or whose tags were changed, is still found.
    found = {node.id: node for node in driver.get_nodes(sorted(set(suspects.values())))}
    vanished = {
        pk: (iid, _why_lost(account, iid, found.get(iid)))
        for pk, iid in suspects.items()
        if iid not in found or found[iid].state in DEAD
    }
    return _move_lost(vanished)


def _why_lost(account: CloudAccount, instance_id: str, node: Node | None) -> str:
    if node is not None and node.state == NodeState.ERROR:
        return sentences.INSTANCE_IN_ERROR(instance=instance_id, account=account.name)
    return sentences.INSTANCE_VANISHED(instance=instance_id, account=account.name)


def _move_lost(vanished: dict[int, tuple[str, str]]) -> list[str]:
    """Move hosts (pk → (instance id, message)) to lost, pool by pool, and have each pool reconciled."""
    pools: dict[int, list[int]] = {}
    for pk, pool_id in Host.objects.filter(pk__in=list(vanished)).values_list("pk", "pool_id"):
        pools.setdefault(pool_id, []).append(pk)
    moved = []
    for pool_id, host_ids in sorted(pools.items()):
        with transaction.atomic():
            # The pool's lock first, as the reconciler takes it; then only hosts still ready on that instance move.
            work.lock_pools([pool_id])
            hosts = (
                Host.objects.select_for_update(**transitions.HOST_LOCK)
                .filter(pk__in=host_ids, status=H.READY)
                .order_by("pk")
            )
            lost = [host for host in hosts if host.instance_id == vanished[host.pk][0]]
            for host in lost:
                transitions.move_host(host, H.LOST, vanished[host.pk][1])
                logger.warning("Host %s is lost: %s", host.hostname, vanished[host.pk][1])
            if lost:
                after_commit("reconcile_pool", pool_id)
        moved.extend(host.hostname for host in lost)
    return moved
