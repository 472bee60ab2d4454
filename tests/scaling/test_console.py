"""The pool's console page shows its schedules (with the next occurrence), policies, what they did, and its
administrators; in Chinese too. Rendered by Django's test client (a full request through the middleware)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from apps.scaling.tasks import run_schedules
from tests.scaling.conftest import as_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, 11, 0, tzinfo=UTC)


def test_the_pool_page_shows_schedules_policies_and_their_history(users, pool):
    """A missed occurrence, a scaled trigger with its job, the next occurrence, the pool's admin."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        body = {"pool": pool.pk, "name": "gala", "delta": 4, "cron": "0 20 * * *", "time_zone": "Asia/Shanghai"}
        assert admin.post("/api/v1/scaling-schedules/", body, format="json").status_code == 201
        body = {"pool": pool.pk, "name": "latency", "alert_name": "HighLatency", "step_out": 2}
        policy = admin.post("/api/v1/scaling-policies/", body, format="json").json()
        alert = json.dumps({"alertname": "HighLatency", "status": "firing"})
        fired = (
            APIClient()
            .post(
                policy["webhook"],
                alert,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {policy['token']}",
            )
            .json()
        )
        admin.post("/api/v1/pool-admins/", {"pool": pool.pk, "username": "guest-user"}, format="json")
        clock.move_to(NOW + timedelta(hours=2))
        run_schedules()
        browser = Client()
        browser.force_login(users["guest"])
        page = browser.get(f"/pools/{pool.pk}/").content.decode()
        job_page = browser.get(f"/jobs/{fired['job']}/").content.decode()
        chinese = browser.get(f"/pools/{pool.pk}/", headers={"Accept-Language": "zh-CN"}).content.decode()
    assert "Scaling schedules" in page and "gala" in page and "0 20 * * *" in page
    assert "2026-03-17" in page  # the next occurrence (20:00 in Shanghai, shown in the console's zone)
    assert 'data-value="missed"' in page and "past the schedule&#x27;s grace" in page
    assert "latency" in page and "HighLatency" in page and 'data-value="scaled"' in page
    assert f'href="/jobs/{fired["job"]}/"' in page
    assert f"/api/v1/scaling-policies/{policy['id']}/alerts/" in page
    assert policy["token"] not in page
    assert "Pool administrators" in page and "guest-user" in page
    # The job says which policy asked for it, on its page and in the pool's jobs table.
    assert f"by policy latency (id {policy['id']}): alert HighLatency firing" in job_page
    assert f"policy latency (id {policy['id']})" in page.split("Scaling schedules")[0]
    assert "扩缩容计划" in chinese and "告警策略" in chinese and "错过" in chinese
