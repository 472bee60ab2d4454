"""Job kinds, job statuses and event kinds."""

from apps.core.choices import ChoiceSet


class JobKind(ChoiceSet):
    """What a job does to its pool."""

    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    CHOICES = ((SCALE_OUT, "Scale out"), (SCALE_IN, "Scale in"))


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
