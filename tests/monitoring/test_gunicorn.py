"""HTTP metrics under gunicorn with several worker processes: whichever process answers /metrics counts the
requests every process served (prometheus_client's multiprocess mode, prepared by gunicorn.conf.py)."""

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import child_process_env
from tests.conftest import gunicorn as gunicorn_process


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn with three worker processes and a metrics directory holding a stale file; yields its port."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left over from an earlier run")
    env = {**child_process_env("gunicorn tests"), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    env.pop("DCP_METRICS_TOKEN", None)
    with gunicorn_process(env, tmp_path / "gunicorn.log", workers=3) as port:
        assert not (metrics_dir / "counter_99999.db").exists(), "the metrics directory was not emptied at start"
        yield port


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
