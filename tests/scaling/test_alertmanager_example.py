"""deploy/alertmanager/dcp-scaling.example.yml points a receiver at a policy's webhook as DCP serves it."""

from pathlib import Path
from urllib.parse import urlsplit

import yaml
from django.urls import resolve

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "deploy" / "alertmanager" / "dcp-scaling.example.yml"


def test_the_example_receiver_posts_to_a_policy_webhook_with_a_bearer_token_and_resolved_alerts():
    """The URL resolves to the webhook view; resolved alerts are sent (the step in needs them); Bearer auth."""
    config = yaml.safe_load(EXAMPLE.read_text())
    receiver = next(r for r in config["receivers"] if r["name"] == config["route"]["routes"][0]["receiver"])
    webhook = receiver["webhook_configs"][0]
    match = resolve(urlsplit(webhook["url"]).path)
    assert match.url_name == "scalingpolicy-alerts" and match.kwargs == {"pk": 7}
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
