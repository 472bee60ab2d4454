"""Placement: which templates new hosts come from, and which hosts leave on scale-in.

A pool's ordered templates are its policy: fill from the first, spill to the
next when a template reaches its quota (its own ``max_hosts``, or its provider
account's), or its provider has no more capacity. Within a template, hosts are
spread evenly over its zones; a zone where the provider recently had no
capacity, or where the last few hosts all failed, is passed over for
DCP_CAPACITY_COOLDOWN seconds. Scale-in removes hosts that are not ready yet first, then the
most expensive, then the newest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core import sentences
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.providers.drivers import NodeSpec, ProviderError
from apps.providers.drivers.registry import engine_driver

#: Hosts in a row that failed in a zone (within DCP_CAPACITY_COOLDOWN) before placement passes it over.
FAILING_STREAK = 3
#: How a host's status message starts when its provider had no capacity for it (see work.fail_batch).
CAPACITY_PREFIX = sentences.NO_CAPACITY(reason="").rstrip()


@dataclass
class Placement:
    """How many hosts one template gets."""

    template: int
    template_name: str
    provider: str
    zone: str
    count: int


@dataclass
class Plan:
    """A scale-out plan: placements, what could not be placed, and why."""

    placements: list[Placement] = field(default_factory=list)
    shortfall: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def placed(self) -> int:
        """Hosts the plan places."""
        return sum(item.count for item in self.placements)

    def as_json(self) -> dict:
        """The plan as shown on the job and by dry runs."""
        return {
            "placements": [asdict(item) for item in self.placements],
            "shortfall": self.shortfall,
            "notes": self.notes,
        }


def _quota_left(template, planned: dict[int, int]) -> tuple[int | None, str]:
    """Hosts the template may still get under its own and its account's quota, and what limits it."""
    left, why = None, ""
    if template.max_hosts is not None:
        used = Host.objects.filter(template=template, status__in=HostStatus.ACTIVE).count()
        left, why = max(0, template.max_hosts - used), sentences.TEMPLATE_QUOTA(count=template.max_hosts)
    account = template.provider
    if account.max_hosts is not None:
        used = Host.objects.filter(provider=account, status__in=HostStatus.ACTIVE).count()
        account_left = max(0, account.max_hosts - used - planned.get(account.pk, 0))
        if left is None or account_left < left:
            left, why = account_left, sentences.ACCOUNT_QUOTA(account=account.name, count=account.max_hosts)
    return left, why


def _cooling_zones(template) -> set[str]:
    """Zones where the provider recently said it had no capacity for this template: passed over for a while."""
    since = timezone.now() - timedelta(seconds=settings.DCP_CAPACITY_COOLDOWN)
    return set(
        Host.objects.filter(template=template, failed_at__gte=since, status_message__startswith=CAPACITY_PREFIX)
        .values_list("zone", flat=True)
        .distinct()
    )


def _failing_zones(template, zones: list[str]) -> set[str]:
    """Zones where the template's last FAILING_STREAK hosts to finish, lately, all failed: it keeps failing there."""
    since = timezone.now() - timedelta(seconds=settings.DCP_CAPACITY_COOLDOWN)
    finished = Coalesce("failed_at", "ready_at")
    failing = set()
    for zone in zones:
        outcomes = list(
            Host.objects.filter(template=template, zone=zone)
            .filter(Q(failed_at__gte=since) | Q(ready_at__gte=since))
            .order_by(finished.desc())
            .values_list("failed_at", flat=True)[:FAILING_STREAK]
        )
        if len(outcomes) == FAILING_STREAK and all(outcomes):
            failing.add(zone)
    return failing


def _capacity_left(template, zone: str) -> int | None:
    """Free capacity the driver reports in zone, less hosts already planned there but not yet created.

    A batch whose create call has taken its capacity but whose hosts are not recorded yet is out of the
    free count already: counting its hosts too made a pool scaled at that moment (another pool's create
    in flight on the same machines) see too little room and give up hosts it could have had.
    """
    spec = NodeSpec.from_template(template, zone=zone)
    driver = engine_driver(template.provider)
    capacity = driver.available_capacity(spec)
    if capacity is None:
        return None
    planned = Host.objects.filter(
        provider=template.provider,
        template__instance_type=template.instance_type,
        status__in=(HostStatus.PENDING, HostStatus.CREATING),
        instance_id="",
    )
    if zone:
        planned = planned.filter(zone=zone)
    counts = dict(planned.order_by().values_list("batch_token").annotate(n=Count("pk")))
    taken = driver.tokens_in_use(set(counts))
    return max(0, capacity - sum(n for token, n in counts.items() if token not in taken))


def _spread(take: int, present: dict[str, int], room: dict[str, int | None]) -> dict[str, int]:
    """Add take hosts over the zones, each to the zone with the fewest so far that has room left."""
    added = dict.fromkeys(room, 0)
    order = {zone: index for index, zone in enumerate(room)}
    for _ in range(take):
        open_zones = [z for z in room if room[z] is None or added[z] < room[z]]
        if not open_zones:
            break
        zone = min(open_zones, key=lambda z: (present.get(z, 0) + added[z], order[z]))
        added[zone] += 1
    return {zone: n for zone, n in added.items() if n}


def _zone_room(template, notes: list[str]) -> dict[str, int | None]:
    """Each usable zone of the template and its free capacity (None: unknown, no limit assumed).

    A provider that reports its capacity (the physical inventory) is trusted
    as it stands; one that cannot tell is judged by its recent answers. A zone
    where hosts keep failing, for any reason, is passed over for a while too.
    """
    zones = template.zone_choices()
    cooling = _cooling_zones(template)
    failing = _failing_zones(template, zones)
    room: dict[str, int | None] = {}
    for zone in zones:
        where = sentences.IN_ZONE(zone=zone) if zone else sentences.DEFAULT_ZONE()
        if zone in failing:
            notes.append(sentences.PASSED_OVER_FAILING(template=template.name, count=FAILING_STREAK, where=where))
            continue
        capacity = _capacity_left(template, zone)
        if capacity is None and zone in cooling:
            notes.append(sentences.PASSED_OVER_FULL(template=template.name, where=where))
            continue
        room[zone] = capacity
    return room


def plan_scale_out(pool: ServicePool, count: int) -> Plan:
    """Place count new hosts over the pool's templates in priority order, spread evenly over each one's zones."""
    plan = Plan()
    remaining = count
    planned_on: dict[int, int] = {}
    for template in pool.ordered_templates():
        if remaining == 0:
            break
        take = remaining
        quota, limit = _quota_left(template, planned_on)
        if quota is not None and quota < take:
            plan.notes.append(sentences.QUOTA_LEAVES(template=template.name, limit=limit, count=quota))
            take = quota
        if take == 0:
            continue
        try:
            room = _zone_room(template, plan.notes)
        except ProviderError as exc:
            plan.notes.append(sentences.CAPACITY_UNKNOWN(template=template.name, reason=exc.message))
            continue
        present = dict(
            pool.hosts.filter(template=template, status__in=HostStatus.ACTIVE)
            .values_list("zone")
            .annotate(n=Count("pk"))
        )
        spread = _spread(take, present, room)
        if sum(spread.values()) < take and room:
            free = sum(spread.values())
            plan.notes.append(
                sentences.ONLY_FREE(template=template.name, count=free, instance_type=repr(template.instance_type))
            )
        for zone, placed in spread.items():
            plan.placements.append(Placement(template.pk, template.name, template.provider.name, zone, placed))
            planned_on[template.provider_id] = planned_on.get(template.provider_id, 0) + placed
            remaining -= placed
    if remaining and not pool.template_links.exists():
        plan.notes.append(sentences.NO_TEMPLATES())
    plan.shortfall = remaining
    return plan


#: Scale-in removes hosts that are not ready yet first, then the most expensive, then the newest.
NOT_READY_FIRST = Case(When(status=HostStatus.READY, then=Value(1)), default=Value(0), output_field=IntegerField())
SCALE_IN_ORDER = ("readiness", "-hourly_price", "-created_at", "-pk")


def scale_in_order(pool: ServicePool):
    """The pool's live hosts, in the order scale-in removes them."""
    return pool.hosts.filter(status__in=HostStatus.ACTIVE).annotate(readiness=NOT_READY_FIRST).order_by(*SCALE_IN_ORDER)
