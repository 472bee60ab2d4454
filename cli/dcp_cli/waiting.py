"""Following a job until it ends: a live progress bar on a terminal, plain lines otherwise.

Progress and events go to stderr, so stdout holds only the job as it ended
(what `-o json` prints). Waiting is polling GET /api/v1/jobs/{id}/.
"""

import sys
import time

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dcp_cli.client import API, Api
from dcp_cli.exits import JOB_STATUS, TIMEOUT, CliError
from dcp_cli.output import stderr_console

ACTIVE = ("pending", "running")

interval_option = click.option(
    "--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="Seconds between polls."
)


def raise_for_status(job: dict) -> None:
    """A job that ended other than succeeded: CliError with its status's exit code and the job's message."""
    code = JOB_STATUS.get(job["status"])
    if code:
        raise CliError(f"Job {job['id']} ended {job['status']}: {job.get('message') or ''}".rstrip(": "), code)


def done(job: dict) -> int:
    """Hosts the job has made ready (scale-out) or removed (scale-in)."""
    progress = job.get("progress") or {}
    return progress.get("ready", 0) + progress.get("removed", 0)


def summary(job: dict) -> str:
    """One line: status and counts."""
    progress = job.get("progress") or {}
    verb = {"scale_in": "removed", "initialize": "initialized", "check": "checked"}.get(job.get("kind"), "ready")
    line = (
        f"job {job['id']} {job['status']}: {done(job)}/{progress.get('total', 0)} {verb}, "
        f"{progress.get('failed', 0)} failed"
    )
    return line + (f", {progress.get('drifted', 0)} drifted" if job.get("kind") == "check" else "")


def event_line(event: dict) -> str:
    """One event of the job's timeline: its time of day, kind, host and message."""
    message = event.get("message") or ""
    hostname = event.get("hostname") or ""
    if hostname and not message.startswith(hostname):
        message = f"{hostname}: {message}" if message else hostname
    moment = str(event.get("time", ""))
    clock = moment[11:19] if len(moment) >= 19 else moment
    return f"  {clock} {event.get('kind', '')}" + (f" {message}" if message else "")


class _Lines:
    """Plain lines, one when something changes: for logs and pipes."""

    def __init__(self):
        self.console = stderr_console()
        self.last = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def event(self, line: str) -> None:
        self.console.print(line, markup=False)

    def update(self, job: dict) -> None:
        line = summary(job)
        if line != self.last:
            self.console.print(line, markup=False)
            self.last = line


class _Bar(_Lines):
    """A rich progress bar that redraws in place, events printed above it."""

    def __enter__(self):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.__enter__()
        self.task = self.progress.add_task("job", total=None, failed=0)
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def event(self, line: str) -> None:
        self.progress.console.print(line, markup=False)

    def update(self, job: dict) -> None:
        progress = job.get("progress") or {}
        self.progress.update(
            self.task,
            description=f"job {job['id']} {job['status']}",
            total=progress.get("total") or None,
            completed=done(job),
            failed=progress.get("failed", 0),
        )


def wait(api: Api, job_id: int, *, timeout: float | None = None, interval: float = 2.0) -> dict:
    """Poll the job until it ends and return it as it ended; CliError(TIMEOUT) after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = 0
    with _Bar() if sys.stderr.isatty() else _Lines() as view:
        while True:
            job = api.get(f"{API}/jobs/{job_id}/")
            events = job.get("events") or []
            for event in events[shown:]:
                view.event(event_line(event))
            shown = max(shown, len(events))
            view.update(job)
            if job["status"] not in ACTIVE:
                return job
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise CliError(
                    f"Job {job_id} is still {job['status']} after {timeout:g}s; it goes on: "
                    f"`dcp job watch {job_id}` follows it, `dcp job cancel {job_id}` stops it.",
                    TIMEOUT,
                )
            time.sleep(interval if remaining is None else min(interval, remaining))
