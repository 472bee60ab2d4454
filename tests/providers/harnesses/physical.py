"""The physical provider: no emulator, its inventory is DCP's own database."""

from decimal import Decimal

from apps.inventory.choices import MachineState
from apps.inventory.models import PhysicalMachine
from apps.providers.drivers import NodeSpec
from apps.providers.models import CloudAccount
from tests.providers.harnesses.base import Harness


class PhysicalHarness(Harness):
    """Machines of class c32 in two IDCs; 'capacity' is simply running out of free machines."""

    kind = "physical"
    failures = ("capacity",)
    zones = ("bj-1", "sh-2")

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""

    def reset(self) -> None:
        """The test database is fresh for every test."""

    def account(self, *, valid: bool = True) -> CloudAccount:
        """A physical account with 6 free c32 machines in each zone."""
        account = CloudAccount.objects.create(name=f"idc-contract-{CloudAccount.objects.count()}", kind="physical")
        PhysicalMachine.objects.bulk_create(
            PhysicalMachine(
                provider=account,
                hostname=f"c{account.pk}-{zone}-{i}",
                ip=f"10.{account.pk % 250}.{z}.{i + 1}",
                cpu=32,
                memory_gb=Decimal(64),
                machine_class="c32",
                idc=zone,
                monthly_cost=Decimal(500),
            )
            for z, zone in enumerate(self.zones)
            for i in range(6)
        )
        return account

    def spec(self, zone: str | None = None) -> NodeSpec:
        """Class c32 in zone."""
        return NodeSpec(instance_type="c32", zone=zone or self.zones[0])

    def exhaust(self, account: CloudAccount, zone: str) -> None:
        """Take every free machine of a zone out of service."""
        PhysicalMachine.objects.filter(provider=account, idc=zone).update(state=MachineState.MAINTENANCE)

    def inventory(self) -> dict[str, str]:
        """Allocated machines are the provider's live nodes."""
        return {
            m.hostname: "running" if m.state == MachineState.ALLOCATED else "free"
            for m in PhysicalMachine.objects.all()
        }

    def reported(self) -> dict[str, dict]:
        """Each machine's record: the inventory is what this provider reports (hostname → address, cores, memory)."""
        return {
            m.hostname: {"private_ip": m.ip, "public_ip": None, "cpu": m.cpu, "memory_gb": m.memory_gb}
            for m in PhysicalMachine.objects.all()
        }


HARNESS = PhysicalHarness
