"""gunicorn settings DCP needs beyond its command line (gunicorn reads ./gunicorn.conf.py by itself).

With PROMETHEUS_MULTIPROC_DIR set, each gunicorn worker process keeps its HTTP metrics in files there,
so /metrics, answered by any one process, adds up all of them: the directory is emptied when gunicorn
starts (values of an earlier run must not count again), and a worker that exits is marked dead.
"""

import os
import shutil
from pathlib import Path


def on_starting(server) -> None:
    """Start with an empty metrics directory."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:
    """Drop an exited worker's live gauges (its counters stay in the sum)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """Freeze what loading DCP left alive."""
    from dcp.heap import settle

    settle()


def post_request(worker, req, environ, resp) -> None:
    """Freeze what the first requests cached (the answer has been sent by now)."""
    from dcp.heap import SETTLE_AFTER_REQUESTS, settle

    if worker.nr in SETTLE_AFTER_REQUESTS:
        settle()
