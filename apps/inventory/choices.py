"""Status values of hosts and physical machines."""

from apps.core.choices import ChoiceSet


class DriftState(ChoiceSet):
    """Whether a host was in its base state when last looked at (a drift check, or a successful initialization)."""

    UNKNOWN = "unknown"  # never checked nor initialized by DCP
    IN_SYNC = "in_sync"  # in its base state
    DRIFTED = "drifted"  # something differs: see the host's drift summary
    FAILED = "failed"  # the last check could not run (unreachable, a task failed)
    CHOICES = ((UNKNOWN, "Unknown"), (IN_SYNC, "In base state"), (DRIFTED, "Drifted"), (FAILED, "Check failed"))


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


class FailureReason(ChoiceSet):
    """Why a host failed: a few codes an operator can count and alert on (the message says the rest)."""

    CAPACITY = "capacity"
    AUTH = "auth"
    QUOTA = "quota"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    PROVIDER_ERROR = "provider_error"
    INSTANCE_ERROR = "instance_error"
    BOOT_TIMEOUT = "boot_timeout"
    NO_ADDRESS = "no_address"
    INIT_FAILED = "init_failed"
    CHOICES = (
        (CAPACITY, "No capacity"),
        (AUTH, "Credentials refused"),
        (QUOTA, "Quota exceeded"),
        (INVALID_REQUEST, "Invalid request"),
        (NOT_FOUND, "Not found"),
        (PROVIDER_ERROR, "Provider error"),
        (INSTANCE_ERROR, "Instance stopped or in error"),
        (BOOT_TIMEOUT, "Boot timed out"),
        (NO_ADDRESS, "No address to initialize"),
        (INIT_FAILED, "Initialization failed"),
    )
