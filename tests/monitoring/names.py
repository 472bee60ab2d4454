"""What the Grafana dashboard and the alert rules query, and what a scrape of /metrics exposes: the names
the monitoring tests compare."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent.parent


#: The series names a family of each type is queried by.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed_names(text: str) -> set[str]:
    """Every series name a PromQL query can use on this exposition: its samples', and for a family with no
    sample yet (a counter nothing has added to) the names its type gives it."""
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def queried_names(expressions: list[str]) -> set[str]:
    """The metric names PromQL expressions use (DCP's, Celery's and Django's; Prometheus' own ``up`` aside)."""
    return {name for expr in expressions for name in re.findall(r"\b(?:dcp|celery|django)_[a-z0-9_]+\b", expr)}


def dashboard_expressions() -> list[str]:
    """Every PromQL query of the Grafana dashboard: its panels' and its variables'."""
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dcp.json").read_text())
    found = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    variables = dashboard["templating"]["list"]
    return found + [item["query"]["query"] for item in variables if isinstance(item.get("query"), dict)]


def rule_expressions() -> list[str]:
    """Every alert rule's expression."""
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "dcp-rules.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def check_queries_use_exposed_names(text: str) -> None:
    """Each metric the dashboard and the alert rules query is one this exposition (of a real scrape) has,
    with the suffixes of its type, so no panel stays empty and no alert silently never fires."""
    exposed = exposed_names(text)
    for source, expressions in (("dashboard", dashboard_expressions()), ("rules", rule_expressions())):
        used = queried_names(expressions)
        assert len(used) >= 10, (source, used)
        assert used <= exposed, (source, sorted(used - exposed))
