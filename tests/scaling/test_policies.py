"""Alert-triggered scaling policies through their webhook, read back where the on-call engineer reads them:
the triggers list, the pool and its jobs in the API.

The clock is moved with time_machine to cross cooldowns and stable periods; the step in that follows a
stable period is the beat task's own function (settle_policies), called in this process.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.costs.budgets.models import Budget
from apps.provisioning.models import Job
from apps.scaling.models import PolicyTrigger
from apps.scaling.tasks import settle_policies
from tests.scaling.conftest import as_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


def firing(*names, status="firing"):
    """An Alertmanager webhook body (version 4) grouping alerts of these names."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "status": status,
        "receiver": "dcp-web",
        "groupLabels": {"alertname": names[0]},
        "commonLabels": {"alertname": names[0]},
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "instance": f"lb-{i}"},
                "annotations": {},
                "startsAt": "2026-03-16T11:58:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"f{i:015d}",
            }
            for i, name in enumerate(names)
        ],
    }


def make_policy(client, pool, **fields):
    """Create a policy through the API; its answer carries the webhook token once."""
    body = {"pool": pool.pk, "name": "latency", "alert_name": "HighLatency", "step_out": 2, **fields}
    answer = client.post("/api/v1/scaling-policies/", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def post_alerts(policy, body, token=None, signature=None):
    """POST a payload to the policy's webhook as Alertmanager does (no DCP user: only the policy's token)."""
    headers = {}
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    raw = json.dumps(body).encode()
    if signature is not None:
        headers["HTTP_X_DCP_SIGNATURE"] = signature
    return APIClient().post(policy["webhook"], raw, content_type="application/json", **headers)


def sign(token: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(token.encode(), raw, hashlib.sha256).hexdigest()


def decisions(client, policy) -> list[str]:
    answer = client.get(f"/api/v1/scaling-triggers/?policy={policy['id']}")
    return [row["decision"] for row in reversed(answer.json()["results"])]


def desired(client, pool) -> int:
    return client.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"]


def test_two_firing_alerts_scale_once_and_a_repeat_inside_the_cooldown_does_nothing(users, pool):
    """One payload grouping two firing alerts is one step out (+2), with a job naming the policy; the same
    alert again 60 s later, inside the 300 s cooldown, is recorded as cooldown and changes nothing."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        policy = make_policy(admin, pool, cooldown_seconds=300)
        assert policy["token"] and policy["token_prefix"] == policy["token"][:8]
        answer = post_alerts(policy, firing("HighLatency", "HighLatency"), token=policy["token"])
        assert answer.status_code == 200, answer.content
        assert answer.json()["decision"] == "scaled"
        job = admin.get(f"/api/v1/jobs/{answer.json()['job']}/").json()
        assert (job["delta"], job["desired_before"], job["desired_after"]) == (2, 3, 5)
        assert job["trigger"].startswith(f"policy latency (id {policy['id']})")
        clock.shift(60)
        again = post_alerts(policy, firing("HighLatency"), token=policy["token"])
        assert again.json()["decision"] == "cooldown" and again.json()["job"] is None
        assert desired(admin, pool) == 5
        assert Job.objects.filter(pool=pool).count() == 1
        assert decisions(admin, policy) == ["scaled", "cooldown"]
        # The token is never shown again.
        assert admin.get(f"/api/v1/scaling-policies/{policy['id']}/").json()["token"] is None


def test_resolved_alerts_scale_in_only_after_the_stable_period(users, pool):
    """Resolved at 12:10: nothing at 12:19:59, one step in (-1) at 12:20, the next another 600 s later,
    and none below the policy's own min_size (4)."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        policy = make_policy(admin, pool, step_in=1, stable_seconds=600, cooldown_seconds=60, min_size=4)
        post_alerts(policy, firing("HighLatency"), token=policy["token"])
        assert desired(admin, pool) == 5
        clock.move_to(NOW + timedelta(minutes=10))
        waiting = post_alerts(policy, firing("HighLatency", status="resolved"), token=policy["token"])
        assert waiting.json()["decision"] == "waiting"
        clock.move_to(NOW + timedelta(minutes=19, seconds=59))
        assert settle_policies() == 0
        assert desired(admin, pool) == 5
        clock.move_to(NOW + timedelta(minutes=20))
        assert settle_policies() == 1
        assert desired(admin, pool) == 4
        clock.move_to(NOW + timedelta(minutes=30))
        assert settle_policies() == 1
        assert desired(admin, pool) == 4
        clock.move_to(NOW + timedelta(minutes=40))
        assert settle_policies() == 0
    assert decisions(admin, policy) == ["scaled", "waiting", "scaled", "at_bound"]
    step_in = Job.objects.get(pool=pool, delta=-1)
    assert "resolved since" in step_in.trigger


def test_a_firing_alert_during_the_stable_period_cancels_the_step_in(users, pool):
    """Resolved, then firing again before the stable period ends: no step in (the alert is back)."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        policy = make_policy(admin, pool, step_in=1, stable_seconds=600, cooldown_seconds=60)
        post_alerts(policy, firing("HighLatency", status="resolved"), token=policy["token"])
        clock.shift(300)
        post_alerts(policy, firing("HighLatency"), token=policy["token"])
        clock.shift(600)
        assert settle_policies() == 0
    assert desired(admin, pool) == 5


def test_a_webhook_without_the_token_or_with_a_forged_body_is_refused_and_changes_nothing(users, pool):
    """No token, a wrong one, another policy's id, a signature of another body: 401, nothing recorded.
    A body the token signs is taken; a malformed one with the right token is a 400 that records nothing."""
    admin = as_user(users["admin"])
    policy = make_policy(admin, pool)
    other = make_policy(admin, pool, name="other")
    body = firing("HighLatency")
    raw = json.dumps(body).encode()
    refused = [
        post_alerts(policy, body),
        post_alerts(policy, body, token="not-the-token"),
        post_alerts(policy, body, token=other["token"]),
        post_alerts({"webhook": "/api/v1/scaling-policies/999999/alerts/"}, body, token=policy["token"]),
        post_alerts(policy, body, signature=sign(policy["token"], raw.replace(b"HighLatency", b"HighLatencY"))),
        post_alerts(policy, body, token=policy["token"], signature=sign(other["token"], raw)),
    ]
    assert [answer.status_code for answer in refused] == [401] * 6
    assert len({answer.content for answer in refused}) == 1
    assert refused[0]["WWW-Authenticate"].startswith("Bearer")
    malformed = post_alerts(policy, {"alerts": [{"status": "firing", "labels": {}}]}, token=policy["token"])
    assert malformed.status_code == 400 and "alertname" in malformed.json()["detail"]
    assert not PolicyTrigger.objects.exists()
    assert desired(admin, pool) == 3 and not Job.objects.exists()
    signed = post_alerts(policy, {"alertname": "HighLatency", "status": "firing"}, signature=sign(policy["token"], b""))
    assert signed.status_code == 401
    plain = {"alertname": "HighLatency", "status": "firing"}
    taken = post_alerts(policy, plain, signature=sign(policy["token"], json.dumps(plain).encode()))
    assert taken.status_code == 200 and taken.json()["decision"] == "scaled"
    assert taken.json()["source"] == "json"


def test_a_rotated_token_replaces_the_old_one(users, pool):
    """rotate-token answers a new token; the old one is refused from then on."""
    admin = as_user(users["admin"])
    policy = make_policy(admin, pool)
    rotated = admin.post(f"/api/v1/scaling-policies/{policy['id']}/rotate-token/").json()
    assert rotated["token"] and rotated["token"] != policy["token"]
    assert post_alerts(policy, firing("HighLatency"), token=policy["token"]).status_code == 401
    assert post_alerts(policy, firing("HighLatency"), token=rotated["token"]).status_code == 200


def test_rotate_token_with_a_body_is_refused_and_the_token_kept(users, pool):
    """rotate-token takes no body: one with a field is a 400 naming it, and the old token still works."""
    admin = as_user(users["admin"])
    policy = make_policy(admin, pool)
    refused = admin.post(f"/api/v1/scaling-policies/{policy['id']}/rotate-token/", {"token": "mine"}, format="json")
    assert refused.status_code == 400 and "Unknown field 'token'" in refused.json()["token"][0]
    assert post_alerts(policy, firing("HighLatency"), token=policy["token"]).status_code == 200


def test_unknown_alerts_are_recorded_and_do_nothing(users, pool):
    """A payload without the policy's alert is recorded as unknown_alert, naming what it had."""
    admin = as_user(users["admin"])
    policy = make_policy(admin, pool)
    answer = post_alerts(policy, firing("DiskFull", "NodeDown"), token=policy["token"])
    assert answer.json()["decision"] == "unknown_alert"
    assert "DiskFull, NodeDown" in answer.json()["message"]
    assert desired(admin, pool) == 3


def test_policy_steps_respect_its_bounds_percent_steps_and_an_enforced_budget(users, cluster, pool):
    """+50 % of 3 is 2 hosts; the policy's max_size 6 holds the next step to 6, then at_bound. An enforced
    budget the step would pass refuses it (budget_refused): the pool keeps its size."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        policy = make_policy(admin, pool, step_out=50, step_out_unit="percent", max_size=6, cooldown_seconds=0)
        post_alerts(policy, firing("HighLatency"), token=policy["token"])
        assert desired(admin, pool) == 5
        clock.shift(1)
        held = post_alerts(policy, firing("HighLatency"), token=policy["token"]).json()
        assert (held["decision"], held["size_after"]) == ("scaled", 6)
        assert "held to the bounds" in held["message"]
        clock.shift(1)
        assert post_alerts(policy, firing("HighLatency"), token=policy["token"]).json()["decision"] == "at_bound"
        # 6 hosts at 1 USD/h for the rest of March is past 100 USD already: one more host is refused.
        Budget.objects.create(cluster=cluster, amount=Decimal("100.00"), currency="USD", enforce=True)
        big = make_policy(admin, pool, name="big", step_out=1, cooldown_seconds=0)
        refused = post_alerts(big, firing("HighLatency"), token=big["token"]).json()
        assert refused["decision"] == "budget_refused" and "budget" in refused["message"]
    assert desired(admin, pool) == 6


def test_policy_bounds_stay_within_the_pools(users, pool):
    """A policy's max_size past the pool's is a 400 naming the field; so is a percent step past 1000."""
    admin = as_user(users["admin"])
    body = {"pool": pool.pk, "name": "p", "alert_name": "A", "step_out": 1, "max_size": 21}
    answer = admin.post("/api/v1/scaling-policies/", body, format="json")
    assert answer.status_code == 400 and "max_size" in answer.json()
    body = {"pool": pool.pk, "name": "p", "alert_name": "A", "step_out": 1001, "step_out_unit": "percent"}
    assert "step_out" in admin.post("/api/v1/scaling-policies/", body, format="json").json()
