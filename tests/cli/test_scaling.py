"""dcp schedule and dcp policy against a real DCP: made, listed with their next occurrences, their history
read, deleted; the policy's token printed once and accepted by its webhook; a developer refused (exit 5)."""

import json

import pytest
import requests

from apps.accounts.models import Token
from apps.core.choices import Role
from apps.scaling.models import ScalingSchedule
from tests.cli.conftest import Dcp
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_dcp(dcp, demo):
    """The CLI with a token of an admin of cluster demo."""
    admin = UserFactory(username="demo-admin")
    MembershipFactory(cluster=demo.cluster, user=admin, role=Role.ADMIN)
    _, key = Token.issue(admin, "cli tests")
    return Dcp(dcp.home, dcp.url, key)


def test_schedules_and_policies_from_the_command_line(admin_dcp, dcp, demo, server):
    """Schedules: create prints the schedule with its next occurrences in its zone; list shows it; a developer
    gets exit 5; history is empty until it runs; delete removes it. Policies: the token create prints is the
    one the webhook takes; history shows the decision; rotate-token; delete. (One test: one server start.)"""
    made = admin_dcp.json(
        "schedule", "create", "demo/web", "gala", "--to", "6", "--cron", "0 20 * * 6", "--time-zone", "Asia/Shanghai"
    )
    assert made["desired_size"] == 6 and made["next_occurrences"][0].endswith("T20:00:00+08:00")
    listed = admin_dcp.json("schedule", "list", "--pool", "demo/web")
    assert [row["name"] for row in listed] == ["gala"]
    refused = dcp("schedule", "create", "demo/web", "other", "--delta", "1", "--cron", "0 * * * *")
    assert refused.returncode == 6, refused.stderr  # refused by role: exits.REFUSED
    bad = admin_dcp("schedule", "create", "demo/web", "bad", "--delta", "1", "--cron", "0 20 * *")
    assert bad.returncode == 1 and "five fields" in bad.stderr
    usage = admin_dcp("schedule", "create", "demo/web", "bad", "--delta", "1")
    assert usage.returncode == 2 and "--cron" in usage.stderr
    assert admin_dcp.json("schedule", "history", str(made["id"])) == []
    assert admin_dcp.json("schedule", "disable", str(made["id"]))["enabled"] is False
    assert admin_dcp.json("schedule", "list")[0]["next_occurrences"] == []
    assert admin_dcp.json("schedule", "enable", str(made["id"]))["enabled"] is True
    deleted = admin_dcp("schedule", "delete", str(made["id"]))
    assert deleted.returncode == 0 and not ScalingSchedule.objects.exists()
    assert admin_dcp("schedule", "delete", str(made["id"])).returncode == 1  # no such object: exits.ERROR

    made = admin_dcp.json(
        "policy", "create", "demo/web", "latency", "--alert", "HighLatency", "--step-out", "2", "--max", "4"
    )
    assert made["token"] and made["webhook"].endswith(f"/{made['id']}/alerts/")
    answer = requests.post(
        server.url + made["webhook"],
        data=json.dumps({"alertname": "HighLatency", "status": "firing"}),
        headers={"Authorization": f"Bearer {made['token']}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["decision"] == "scaled"
    history = admin_dcp.json("policy", "history", str(made["id"]))
    assert [row["decision"] for row in history] == ["scaled"]
    listed = admin_dcp.json("policy", "list", "--cluster", "demo")
    assert listed[0]["token"] is None and listed[0]["last_scaled_at"]
    assert admin_dcp.json("policy", "disable", str(made["id"]))["enabled"] is False
    rotated = admin_dcp.json("policy", "rotate-token", str(made["id"]))
    assert rotated["token"] and rotated["token"] != made["token"]
    assert admin_dcp("policy", "delete", str(made["id"])).returncode == 0
