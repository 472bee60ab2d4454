"""Placement: which templates new hosts come from, and which hosts leave on scale-in.

A pool's ordered templates are its policy: fill from the first, spill to the
next when a template reaches its quota (``max_hosts``) or its provider has no
more capacity. Scale-in removes hosts that are not ready yet first, then the
most expensive, then the newest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.db.models import Case, IntegerField, Value, When

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.providers.drivers import NodeSpec, ProviderError, get_driver


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


def _quota_left(template) -> int | None:
    if template.max_hosts is None:
        return None
    used = Host.objects.filter(template=template, status__in=HostStatus.ACTIVE).count()
    return max(0, template.max_hosts - used)


def _capacity_left(template) -> int | None:
    """Free capacity the driver reports, less hosts already planned there but not yet created."""
    capacity = get_driver(template.provider).available_capacity(NodeSpec.from_template(template))
    if capacity is None:
        return None
    planned = Host.objects.filter(
        provider=template.provider,
        template__instance_type=template.instance_type,
        status__in=(HostStatus.PENDING, HostStatus.CREATING),
        instance_id="",
    ).count()
    return max(0, capacity - planned)


def plan_scale_out(pool: ServicePool, count: int) -> Plan:
    """Place count new hosts over the pool's templates, in priority order."""
    plan = Plan()
    remaining = count
    for template in pool.ordered_templates():
        if remaining == 0:
            break
        take = remaining
        quota = _quota_left(template)
        if quota is not None and quota < take:
            plan.notes.append(f"template {template.name}: quota max_hosts={template.max_hosts} leaves {quota}")
            take = quota
        try:
            capacity = _capacity_left(template)
        except ProviderError as exc:
            plan.notes.append(f"template {template.name}: capacity unknown ({exc.message}), skipped")
            continue
        if capacity is not None and capacity < take:
            plan.notes.append(f"template {template.name}: only {capacity} free {template.instance_type!r} left")
            take = capacity
        if take > 0:
            plan.placements.append(Placement(template.pk, template.name, template.provider.name, template.zone, take))
            remaining -= take
    if remaining and not pool.template_links.exists():
        plan.notes.append("the pool has no templates")
    plan.shortfall = remaining
    return plan


def scale_in_order(pool: ServicePool):
    """The pool's live hosts, in the order scale-in removes them."""
    not_ready_first = Case(When(status=HostStatus.READY, then=Value(1)), default=Value(0), output_field=IntegerField())
    return (
        pool.hosts.filter(status__in=HostStatus.ACTIVE)
        .annotate(readiness=not_ready_first)
        .order_by("readiness", "-hourly_price", "-created_at", "-pk")
    )
