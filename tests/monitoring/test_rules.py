"""The Prometheus files in deploy/prometheus: rules promtool accepts, their unit tests, the scrape config,
and every metric a rule or the Grafana dashboard uses is one /metrics serves."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.monitoring.names import check_queries_use_exposed_names

ROOT = Path(__file__).resolve().parent.parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "dcp-rules.yml"


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess:
    """Run promtool (Debian's prometheus package) and return what it said."""
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is not installed; it checks the alerting rules: apt-get install prometheus")
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rules_are_valid():
    """promtool check rules accepts the rule file."""
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_unit_tests_pass():
    """The rules fire, and stay quiet, as dcp-rules.test.yml says."""
    result = promtool("test", "rules", "dcp-rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_scrape_config_is_valid(tmp_path):
    """promtool check config accepts prometheus.yml, its token file put where a deployment puts it."""
    token = tmp_path / "dcp-metrics-token"
    token.write_text("a-metrics-token-of-enough-length\n")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert "/etc/prometheus/dcp-metrics-token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/dcp-metrics-token", str(token)))
    shutil.copy(RULES, tmp_path / RULES.name)
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_rules_and_dashboard_use_only_served_metrics(client):
    """A rule over a metric DCP does not serve would never fire, a panel over one stays empty: each name the
    rules and the Grafana dashboard query is in a scrape of /metrics (tests/monitoring/test_scrape.py checks
    the same after a real scale-out)."""
    answer = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert answer.status_code == 200
    check_queries_use_exposed_names(answer.content.decode())
