"""What a runner reports per host, and how one host's log is gathered from ansible-runner's events."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.configuration import drift
from apps.configuration.choices import InitStatus
from apps.core import sentences

#: Stored output per host is cut to its last part beyond this many characters.
OUTPUT_LIMIT = 20_000
HIDDEN = "********"


@dataclass(frozen=True)
class InitResult:
    """What initialization did to one host."""

    status: str = InitStatus.OK
    message: str = ""
    ok_tasks: int = 0
    changed_tasks: int = 0
    failed_tasks: int = 0
    output: str = ""
    duration: float | None = None
    host_keys: str = ""
    changes: tuple[dict, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the host reached its base state."""
        return self.status in InitStatus.SUCCEEDED


def scrub(text: str, secrets: list[str]) -> str:
    """text with every secret value replaced, whatever a task printed."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, HIDDEN)
    return text


def scrub_changes(changes: list[dict], secrets: list[str]) -> list[dict]:
    """A drift check's differences with every secret replaced, at most drift.MAX_CHANGES of them."""
    return [
        {"resource": scrub(change["resource"], secrets), "diff": scrub(change["diff"], secrets)}
        for change in changes[: drift.MAX_CHANGES]
    ]


def _task_name(data: dict) -> str:
    role = data.get("role") or ""
    task = data.get("task") or data.get("task_action") or "task"
    return f"{role} : {task}" if role else task


def _reason(res: dict) -> str:
    """The useful part of a failed task's result: its message, and stderr if it has one."""
    if res.get("censored"):
        return "the task's output is hidden because it handles a secret (no_log)"
    parts = [str(res.get("msg") or "").strip()]
    for key in ("stderr", "module_stderr", "stdout"):
        text = str(res.get(key) or "").strip()
        if text and text not in parts[0]:
            parts.append(text[-1500:])
            break
    return ": ".join(part for part in parts if part) or "failed"


@dataclass
class HostLog:
    """One host's part of a run: a line per task, the first failure, and the final counts."""

    lines: list[str] = field(default_factory=list)
    failure: str = ""
    raw_unreachable: str = ""
    counts: dict[str, int] | None = None
    last_seen: float | None = None
    changes: list[dict] = field(default_factory=list)

    def add(self, event: dict, elapsed: float, handler: bool = False) -> None:
        """Take in one event about this host; ``handler``: the event is a handler's (a consequence, not a change)."""
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        name = _task_name(data)
        self.last_seen = elapsed
        if kind == "runner_on_ok":
            # A no_log task's result is censored down to nothing; Ansible's own line still says "changed:".
            changed = res.get("changed") or str(event.get("stdout") or "").lstrip().startswith("changed:")
            self.lines.append(f"{'changed' if changed else 'ok'}: {name}")
            if changed and not handler:
                self.changes.extend(drift.task_changes(name, res))
        elif kind == "runner_on_skipped":
            self.lines.append(f"skipped: {name}")
        elif kind == "runner_on_failed" and str(data.get("task_action", "")).endswith("wait_for_connection"):
            # The host never answered SSH within dcp_connect_timeout: unreachable, not a failed task.
            reason = str(res.get("msg") or "no SSH connection").strip()
            self.raw_unreachable = reason
            self.lines.append(f"UNREACHABLE: {name}: {reason}")
            self.failure = self.failure or sentences.UNREACHABLE(reason=reason)
        elif kind == "runner_on_failed":
            reason = _reason(res)
            if data.get("ignore_errors"):
                self.lines.append(f"failed (ignored): {name}: {reason}")
                return
            self.lines.append(f"FAILED: {name}: {reason}")
            self.failure = self.failure or sentences.SAYS(who=name, message=reason)
        elif kind == "runner_on_unreachable":
            reason = str(res.get("msg") or "unreachable").strip()
            self.raw_unreachable = reason
            self.lines.append(f"UNREACHABLE: {name}: {reason}")
            self.failure = self.failure or sentences.UNREACHABLE(reason=reason)

    def stats(self, data: dict, name: str) -> None:
        """Take the play recap's counts for this host."""
        self.counts = {
            key: int((data.get(key) or {}).get(name, 0))
            for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
        }

    def result(self, run_status: str, timeout: int, secrets: list[str]) -> InitResult:
        """The host's outcome, its output scrubbed of secrets."""
        output = scrub("\n".join(self.lines), secrets)[-OUTPUT_LIMIT:]
        counts = self.counts or {}
        if counts.get("dark") or self.raw_unreachable:
            status = InitStatus.UNREACHABLE
        elif counts.get("failures") or self.failure:
            status = InitStatus.FAILED
        elif self.counts is None:
            status = InitStatus.FAILED
            self.failure = (
                sentences.INIT_TIMEOUT(seconds=timeout)
                if run_status == "timeout"
                else sentences.RUN_ENDED_EARLY(status=run_status)
            )
        else:
            status = InitStatus.CHANGED if counts.get("changed") else InitStatus.OK
        summary = sentences.TASK_COUNTS(count=counts.get("ok", 0), changed=counts.get("changed", 0))
        return InitResult(
            status=status,
            message=scrub(self.failure, secrets)[:2000] if self.failure else summary,
            ok_tasks=counts.get("ok", 0),
            changed_tasks=counts.get("changed", 0),
            failed_tasks=counts.get("failures", 0) + counts.get("dark", 0),
            output=output,
            duration=self.last_seen,
            changes=tuple(scrub_changes(self.changes, secrets)),
        )
