"""Status values of hosts and physical machines."""

from apps.core.choices import ChoiceSet


class HostStatus(ChoiceSet):
    """Where a host is in its life."""

    PENDING = "pending"
    CREATING = "creating"
    INITIALIZING = "initializing"
    READY = "ready"
    FAILED = "failed"
    LOST = "lost"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    CHOICES = (
        (PENDING, "Pending"),
        (CREATING, "Creating"),
        (INITIALIZING, "Initializing"),
        (READY, "Ready"),
        (FAILED, "Failed"),
        (LOST, "Lost"),
        (TERMINATING, "Terminating"),
        (TERMINATED, "Terminated"),
    )
    # Hosts that count toward the pool's desired size.
    ACTIVE = (PENDING, CREATING, INITIALIZING, READY)
    # Hosts on their way to ready: work is in flight for them.
    IN_FLIGHT = (PENDING, CREATING, INITIALIZING)
    TERMINAL = (TERMINATED,)


class MachineState(ChoiceSet):
    """A physical machine's place in the inventory."""

    FREE = "free"
    ALLOCATED = "allocated"
    MAINTENANCE = "maintenance"
    CHOICES = ((FREE, "Free"), (ALLOCATED, "Allocated"), (MAINTENANCE, "Maintenance"))
