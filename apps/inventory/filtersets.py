"""Filters of the inventory lists: by foreign key and status."""

from apps.core.api.filters import BaseFilterSet, IdFilter, MultipleChoiceFilter
from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine, ServicePool


class ServicePoolFilterSet(BaseFilterSet):
    """?cluster=&name=."""

    class Meta:
        model = ServicePool
        fields = ("cluster", "name")


class HostFilterSet(BaseFilterSet):
    """?pool=&cluster=&provider=&template=&job=&status=."""

    cluster = IdFilter(field_name="pool__cluster")
    status = MultipleChoiceFilter(choices=HostStatus.CHOICES)

    class Meta:
        model = Host
        fields = ("pool", "cluster", "provider", "template", "job", "status", "instance_id", "hostname")


class PhysicalMachineFilterSet(BaseFilterSet):
    """?provider=&state=&machine_class=&idc=."""

    state = MultipleChoiceFilter(choices=MachineState.CHOICES)

    class Meta:
        model = PhysicalMachine
        fields = ("provider", "state", "machine_class", "idc")
