"""The Prometheus files in deploy/prometheus: rules promtool accepts, their unit tests, the scrape config,
and every metric a rule uses is one /metrics serves."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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


def served_names() -> set[str]:
    """The metric names DCP's code declares (collector families and HTTP metrics), as exposed."""
    names = set()
    for path in (ROOT / "apps" / "monitoring").glob("*.py"):
        text = path.read_text()
        for kind, name in re.findall(r'(\w+MetricFamily|Counter|Histogram)\(\s*"([a-z_]+)"', text):
            if kind.startswith("Counter"):
                names.add(name.removesuffix("_total") + "_total")
            elif kind.startswith("Histogram"):
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            else:
                names.add(name)
    return names


def test_rules_use_only_served_metrics():
    """A rule over a metric DCP does not serve would never fire: each name a rule uses is served."""
    served = served_names() | {"up"}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            used = set(re.findall(r"\b((?:dcp|celery|django)_[a-z_]+|up)\b(?=\s*[{\[)]|\s*[=<>!])", rule["expr"]))
            assert used, rule["alert"]
            assert used <= served, (rule["alert"], used - served)
