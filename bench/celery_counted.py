"""DCP's Celery app with counters, for benchmarks: SQL statements, task runs and task time per worker process.

Start workers with this module instead of ``dcp`` and they run exactly DCP's
app and tasks (it is the same app object, with the same settings), plus:

- every SQL statement a worker process runs through Django's connection is
  counted (an execute wrapper installed in each pool process when it starts);
- after each task, its statements, its run, its outcome and its seconds are
  added to the Redis hash ``bench:counts`` (fields ``<task>:sql``,
  ``<task>:runs``, ``<task>:seconds``, ``<task>:<STATE>``), one pipeline per task;
- each task's name, first argument (a batch token, or how many host ids),
  outcome and wall-clock start and end are appended to the Redis list
  ``bench:timeline`` as JSON;
- when the worker is ready it sets ``bench:ready:<hostname>``.

The Redis is CELERY_BROKER_URL's (benchmarks run on a Redis broker).

    celery -A bench.celery_counted worker -Q engine,provider,init -c 4
"""

import json
import os
import time

from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready

from dcp.celery import app

__all__ = ["app"]

COUNTS = "bench:counts"
TIMELINE = "bench:timeline"
READY = "bench:ready:{}"

_state = {"sql": 0, "sql_at_start": 0, "started": 0.0, "wall": 0.0}
_redis = []


def redis_client():
    """This process's Redis client (the broker's Redis), made on first use."""
    if not _redis:
        import redis

        _redis.append(redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]))
    return _redis[0]


def count_statement(execute, sql, params, many, context):
    """Django execute wrapper: count one statement, then run it."""
    _state["sql"] += 1
    return execute(sql, params, many, context)


@worker_process_init.connect
def install_counter(**kwargs) -> None:
    """In each new pool process: count every statement made through the default connection."""
    from django.db import connection

    connection.execute_wrappers.append(count_statement)


@task_prerun.connect
def task_started(**kwargs) -> None:
    """Remember where the counts stood when this task started."""
    _state["sql_at_start"] = _state["sql"]
    _state["started"] = time.perf_counter()
    _state["wall"] = time.time()


@task_postrun.connect
def task_ended(task=None, state=None, args=None, **kwargs) -> None:
    """Add this task's statements, run, outcome and seconds to the shared counts, and its times to the timeline."""
    name = task.name.rsplit(".", 1)[-1]
    first = (args or [None])[0]
    entry = {
        "task": name,
        "arg": first if isinstance(first, (str, int)) else len(first) if isinstance(first, list) else None,
        "state": state,
        "start": _state["wall"],
        "end": time.time(),
    }
    pipe = redis_client().pipeline(transaction=False)
    pipe.rpush(TIMELINE, json.dumps(entry))
    pipe.hincrby(COUNTS, f"{name}:sql", _state["sql"] - _state["sql_at_start"])
    pipe.hincrby(COUNTS, f"{name}:runs", 1)
    pipe.hincrbyfloat(COUNTS, f"{name}:seconds", time.perf_counter() - _state["started"])
    pipe.hincrby(COUNTS, f"{name}:{state or 'UNKNOWN'}", 1)
    pipe.execute()


@worker_ready.connect
def announce_ready(sender=None, **kwargs) -> None:
    """Tell the benchmark this worker consumes its queues."""
    redis_client().set(READY.format(getattr(sender, "hostname", "worker")), "1", ex=3600)
