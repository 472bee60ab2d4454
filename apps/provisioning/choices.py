"""Job kinds, job statuses and event kinds."""

from apps.core.choices import ChoiceSet


class JobKind(ChoiceSet):
    """What a job does to its pool."""

    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    INITIALIZE = "initialize"
    CHECK = "check"
    CHOICES = (
        (SCALE_OUT, "Scale out"),
        (SCALE_IN, "Scale in"),
        (INITIALIZE, "Initialize"),
        (CHECK, "Drift check"),
    )
    # Jobs that run initialization (or its check) on existing hosts: they change no pool's size.
    INIT = (INITIALIZE, CHECK)


class JobStatus(ChoiceSet):
    """Where a job is."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CHOICES = (
        (PENDING, "Pending"),
        (RUNNING, "Running"),
        (SUCCEEDED, "Succeeded"),
        (PARTIAL, "Partial"),
        (FAILED, "Failed"),
        (CANCELLED, "Cancelled"),
    )
    ACTIVE = (PENDING, RUNNING)
    TERMINAL = (SUCCEEDED, PARTIAL, FAILED, CANCELLED)


class EventKind(ChoiceSet):
    """What a job event records."""

    REQUESTED = "requested"
    PLANNED = "planned"
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    INITIALIZED = "initialized"
    CHECKED = "checked"
    READY = "ready"
    FAILED = "failed"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    RETRYING = "retrying"
    INFO = "info"
    ERROR = "error"
    FINISHED = "finished"
    CHOICES = tuple(
        (value, value.capitalize())
        for value in (
            REQUESTED,
            PLANNED,
            CREATING,
            CREATED,
            RUNNING,
            INITIALIZED,
            CHECKED,
            READY,
            FAILED,
            TERMINATING,
            TERMINATED,
            RETRYING,
            INFO,
            ERROR,
            FINISHED,
        )
    )


class OrphanState(ChoiceSet):
    """Where an orphan instance is: still there, destroyed by DCP, or gone on its own."""

    REPORTED = "reported"
    TERMINATED = "terminated"
    GONE = "gone"
    CHOICES = ((REPORTED, "Reported"), (TERMINATED, "Terminated"), (GONE, "Gone"))
    ACTIVE = (REPORTED,)
    TERMINAL = (TERMINATED, GONE)
