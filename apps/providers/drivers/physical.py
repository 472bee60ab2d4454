"""The physical provider: "creating" a node allocates a free company machine, destroying frees it.

Allocation happens under row locks with SKIP LOCKED, so two jobs running at
once can never be handed the same machine. A machine matches a spec only if its
class is the spec's instance type and it has at least the spec's cores and
memory: an old 12-core box never stands in for a 32-core class.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from apps.core.bulk import bulk_set
from apps.inventory.choices import MachineState
from apps.inventory.machines import record_intervals
from apps.inventory.models import PhysicalMachine
from apps.providers.drivers.base import (
    CapacityError,
    Driver,
    Image,
    InvalidRequestError,
    Location,
    Node,
    NodeSpec,
    NodeState,
    Size,
)


class PhysicalDriver(Driver):
    """Allocates and frees machines of the physical inventory held in DCP's database."""

    kind = "physical"
    max_batch = 1000

    def _machines(self) -> QuerySet:
        return PhysicalMachine.objects.filter(provider=self.account)

    def matching_free(self, spec: NodeSpec) -> QuerySet:
        """Free machines of the spec's class with at least its cores and memory, in its IDC if it names one."""
        machines = self._machines().filter(state=MachineState.FREE, machine_class=spec.instance_type)
        if spec.cpu:
            machines = machines.filter(cpu__gte=spec.cpu)
        if spec.memory_gb:
            machines = machines.filter(memory_gb__gte=spec.memory_gb)
        if spec.zone:
            machines = machines.filter(idc=spec.zone)
        return machines

    def _node(self, machine: PhysicalMachine) -> Node:
        state = NodeState.RUNNING if machine.state == MachineState.ALLOCATED else NodeState.TERMINATED
        return Node(
            id=machine.hostname,
            name=machine.hostname,
            state=state,
            private_ip=machine.ip,
            cpu=machine.cpu,
            memory_gb=machine.memory_gb,
            zone=machine.idc,
            instance_type=machine.machine_class,
            hourly_price=machine.hourly_cost,
            launched_at=machine.allocated_at,
            tags=dict(machine.tags or {}),
            extra={"rack": machine.rack, "machine_id": machine.pk},
        )

    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """Allocate count free machines of the spec's class, all or none."""
        if count < 1:
            raise InvalidRequestError("count must be at least 1")
        if not client_token:
            raise InvalidRequestError("a client token is required")
        with transaction.atomic():
            earlier = list(self._machines().filter(client_token=client_token, state=MachineState.ALLOCATED))
            if earlier:
                return [self._node(machine) for machine in earlier]
            free = list(
                self.matching_free(spec).select_for_update(skip_locked=True).order_by("monthly_cost", "pk")[:count]
            )
            if len(free) < count:
                raise CapacityError(
                    f"only {len(free)} free machine(s) of class {spec.instance_type!r}"
                    f"{' in ' + spec.zone if spec.zone else ''} on {self.account.name}; {count} needed",
                    code="NoFreeMachine",
                )
            now = timezone.now()
            allocation = {
                "state": MachineState.ALLOCATED,
                "client_token": client_token,
                "tags": dict(tags),
                "allocated_at": now,
                "updated_at": now,
            }
            for machine in free:
                for field, value in allocation.items():
                    setattr(machine, field, value)
            # The same values for every machine: one plain UPDATE.
            PhysicalMachine.objects.filter(pk__in=[machine.pk for machine in free]).update(**allocation)
            record_intervals(free, now)
        return [self._node(machine) for machine in free]

    def get_nodes(self, ids: list[str]) -> list[Node]:
        """Allocated machines among these hostnames."""
        machines = self._machines().filter(hostname__in=ids, state=MachineState.ALLOCATED)
        return [self._node(machine) for machine in machines]

    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Allocated machines carrying all these tags."""
        wanted = (tags or {}).items()
        machines = self._machines().filter(state=MachineState.ALLOCATED)
        return [self._node(m) for m in machines if all((m.tags or {}).get(k) == v for k, v in wanted)]

    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """Merge these tags into each allocated machine's; machines released meanwhile are skipped."""
        with transaction.atomic():
            machines = list(
                self._machines()
                .select_for_update()
                .filter(hostname__in=list(tags_by_id), state=MachineState.ALLOCATED)
                .order_by("pk")
            )
            for machine in machines:
                machine.tags = {**(machine.tags or {}), **tags_by_id[machine.hostname]}
            bulk_set(machines, ["tags"])

    def destroy_nodes(self, ids: list[str]) -> None:
        """Return these machines to the free pool; ones already free are left as they are."""
        now = timezone.now()
        freed = {"state": MachineState.FREE, "client_token": "", "tags": {}, "allocated_at": None, "updated_at": now}
        with transaction.atomic():
            machines = list(
                self._machines()
                .select_for_update()
                .filter(hostname__in=ids, state=MachineState.ALLOCATED)
                .order_by("pk")
            )
            for machine in machines:
                for field, value in freed.items():
                    setattr(machine, field, value)
            PhysicalMachine.objects.filter(pk__in=[machine.pk for machine in machines]).update(**freed)
            record_intervals(machines, now)

    def list_sizes(self) -> list[Size]:
        """One size per machine class: its smallest cores and memory, its mean hourly cost."""
        rows = (
            self._machines()
            .values("machine_class")
            .annotate(cpu=Min("cpu"), memory=Min("memory_gb"), machines=Count("pk"), cost=Min("monthly_cost"))
            .order_by("machine_class")
        )
        return [
            Size(
                id=row["machine_class"],
                name=row["machine_class"],
                cpu=row["cpu"],
                memory_gb=row["memory"],
                hourly_price=(row["cost"] / Decimal("730")).quantize(Decimal("0.000001")),
                extra={"machines": row["machines"]},
            )
            for row in rows
        ]

    def list_images(self) -> list[Image]:
        """Physical machines keep the operating system they were installed with."""
        return []

    def list_locations(self) -> list[Location]:
        """The data centres (IDCs) machines stand in."""
        idcs = self._machines().values_list("idc", flat=True).distinct().order_by("idc")
        return [Location(id=idc, name=idc, region=self.account.region) for idc in idcs]

    def check_credentials(self) -> None:
        """The inventory is DCP's own database: there is nothing to check."""

    def available_capacity(self, spec: NodeSpec) -> int | None:
        """Free machines matching the spec right now."""
        return self.matching_free(spec).count()

    def tokens_in_use(self, client_tokens: set[str]) -> set[str]:
        """The batches among these whose machines are allocated already (so no longer free)."""
        return set(
            self._machines()
            .filter(client_token__in=client_tokens, state=MachineState.ALLOCATED)
            .values_list("client_token", flat=True)
            .distinct()
        )
