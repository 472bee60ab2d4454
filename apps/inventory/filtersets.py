"""Filters of the inventory lists: by foreign key and status."""

from django.db.models import Q

from apps.core.api.filters import BaseFilterSet, BooleanFilter, IdFilter, MultipleChoiceFilter
from apps.inventory.choices import DriftState, HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine, ServicePool


class ServicePoolFilterSet(BaseFilterSet):
    """?cluster=&name=."""

    class Meta:
        model = ServicePool
        fields = ("cluster", "name")


class HostFilterSet(BaseFilterSet):
    """?pool=&cluster=&provider=&template=&job=&status=&drifted=&drift_state=."""

    cluster = IdFilter(field_name="pool__cluster")
    status = MultipleChoiceFilter(choices=HostStatus.CHOICES)
    drift_state = MultipleChoiceFilter(choices=DriftState.CHOICES)
    drifted = BooleanFilter(method="filter_drifted", label="Drifted from the base state at the last drift check.")

    def filter_drifted(self, queryset, name, value):
        """?drifted=true: hosts found drifted; false: the others."""
        drifted = Q(drift_state=DriftState.DRIFTED)
        return queryset.filter(drifted if value else ~drifted)

    class Meta:
        model = Host
        fields = ("pool", "cluster", "provider", "template", "job", "status", "instance_id", "hostname")


class PhysicalMachineFilterSet(BaseFilterSet):
    """?provider=&state=&machine_class=&idc=."""

    state = MultipleChoiceFilter(choices=MachineState.CHOICES)

    class Meta:
        model = PhysicalMachine
        fields = ("provider", "state", "machine_class", "idc")
