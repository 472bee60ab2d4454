"""Statuses of initialization runs."""

from apps.core.choices import ChoiceSet


class InitStatus(ChoiceSet):
    """How one host's initialization run went, in Ansible's words."""

    RUNNING = "running"
    OK = "ok"  # reached the base state, nothing needed changing
    CHANGED = "changed"  # reached the base state, some things were changed
    FAILED = "failed"  # a task failed on the host
    UNREACHABLE = "unreachable"  # no SSH connection (down, wrong key, host key changed)
    CHOICES = (
        (RUNNING, "Running"),
        (OK, "OK"),
        (CHANGED, "Changed"),
        (FAILED, "Failed"),
        (UNREACHABLE, "Unreachable"),
    )
    ACTIVE = (RUNNING,)
    TERMINAL = (OK, CHANGED, FAILED, UNREACHABLE)
    SUCCEEDED = (OK, CHANGED)
