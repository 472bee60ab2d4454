"""Celery task signals: each task's log lines carry its name, id, the request that queued it and its ids;
each task's runtime and outcome is counted for /metrics (in the database, as workers run anywhere).

The request id travels in a message header (``dcp_request_id``, set by apps.provisioning.dispatch), so
one scale request can be followed through every engine step it caused. The ids a task works on are
read from its arguments, by task.
"""

from __future__ import annotations

import time

from celery.signals import task_postrun, task_prerun

from apps.core.context import reset_request, set_fields, set_request
from apps.monitoring import counters

#: The context key each task's first argument fills: a pool id, a batch token, host ids, an account id, a job id.
FIRST_ARGUMENT = {
    "reconcile_pool": "pool",
    "create_hosts": "batch",
    "poll_batch": "batch",
    "initialize_hosts": "hosts",
    "terminate_hosts": "hosts",
    "tag_hosts": "hosts",
    "sweep_provider": "provider",
    "run_init_job": "job",
}
#: The header that carries the id of the request that queued a task.
REQUEST_HEADER = "dcp_request_id"

#: A task's outcome by the state Celery ends it in.
OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried", "REJECTED": "rejected"}

_tokens: dict[str, tuple] = {}
_started: dict[str, float] = {}


def task_fields(name: str, task_id: str, args) -> dict:
    """The ids one task's log lines carry."""
    short = name.rsplit(".", 1)[-1]
    fields = {"task": short, "task_id": task_id}
    key = FIRST_ARGUMENT.get(short)
    if key and args:
        value = args[0]
        if isinstance(value, list | tuple):
            value = ",".join(str(item) for item in value[:20]) + ("…" if len(value) > 20 else "")
        fields[key] = value
    return fields


@task_prerun.connect
def bind_task(task_id=None, task=None, args=None, **_kwargs) -> None:
    """Before a task runs: its request id and ids become the context of its log lines."""
    request_id = getattr(task.request, REQUEST_HEADER, None) or (task.request.headers or {}).get(REQUEST_HEADER) or ""
    tokens = set_request(str(request_id)[:36], "system")
    set_fields(**task_fields(task.name, task_id, args))
    _tokens[task_id] = tokens
    _started[task_id] = time.monotonic()


@task_postrun.connect
def unbind_task(task_id=None, task=None, state=None, **_kwargs) -> None:
    """After a task: its runtime is counted by name and outcome, and its context dropped."""
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        labels = {"task": task.name.rsplit(".", 1)[-1], "outcome": OUTCOMES.get(state, str(state).lower())}
        counters.observe(counters.TASK_RUNTIME, labels, time.monotonic() - started, counters.TASK_RUNTIME_BUCKETS)
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        reset_request(tokens)
