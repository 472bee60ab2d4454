"""HTTP metrics under gunicorn with several worker processes: whichever process answers /metrics counts the
requests every process served (prometheus_client's multiprocess mode, prepared by gunicorn.conf.py)."""

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, child_process_env, wait_for


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn with three worker processes and a metrics directory holding a stale file; yields its port."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left over from an earlier run")
    env = {**child_process_env("gunicorn tests"), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    env.pop("DCP_METRICS_TOKEN", None)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "dcp.wsgi:application", "--bind", "127.0.0.1:0", "--workers", "3"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: _port(log_path) or process.poll() is not None, timeout=60, message="gunicorn to listen")
        assert process.poll() is None, log_path.read_text()
        wait_for(lambda: log_path.read_bytes().count(b"Booting worker") >= 3, timeout=60, message="its workers")
        assert not (metrics_dir / "counter_99999.db").exists(), "the metrics directory was not emptied at start"
        yield _port(log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _port(log_path: Path) -> int | None:
    found = re.search(rb"Listening at: http://127\.0\.0\.1:(\d+)", log_path.read_bytes())
    return int(found.group(1)) if found else None


def healthz_responses(port: int) -> float:
    """What one scrape says of the 200s /healthz gave."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:  # noqa: S310 - loopback
        text = answer.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "django_http_responses_total_by_status_view_method_total"
        and sample.labels == {"view": "healthz", "method": "GET", "status": "200"}
    )


def test_every_process_counts_every_request(gunicorn):
    """30 requests spread over three processes: every scrape, whichever process answers it, counts all 30."""
    for _ in range(30):
        with urllib.request.urlopen(f"http://127.0.0.1:{gunicorn}/healthz", timeout=30) as answer:  # noqa: S310
            assert answer.status == 200
    for _ in range(6):
        assert healthz_responses(gunicorn) == 30
