"""A pool's scaling schedules, policies and administrators, managed from its console page.

Each test types into the forms what an on-call engineer would and reads the answer where they would: the
errors next to the fields, the pool's page, the API's list, the webhook's answer. Who may press which
button is the API's rule: the cluster's admins and the pool's admins run its schedules and policies, only
the cluster's admins appoint its administrators, the others see no buttons and are refused (403), and
someone outside the cluster learns nothing (404).
"""

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.accounts.models import PoolAdmin
from apps.core.models import AuditEntry
from apps.scaling.models import ScalingPolicy, ScalingSchedule
from tests.console.test_forms import field_errors, form_errors, login
from tests.factories import ClusterFactory, PoolFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, 11, 0, tzinfo=UTC)

SCHEDULE = {
    "name": "gala",
    "cron": "0 20 * * 6",
    "run_at": "",
    "time_zone": "Asia/Shanghai",
    "desired_size": "8",
    "delta": "",
    "duration_minutes": "180",
    "grace_seconds": "900",
    "enabled": "on",
}
POLICY = {
    "name": "latency",
    "alert_name": "HighLatency",
    "step_out": "2",
    "step_out_unit": "hosts",
    "step_in": "50",
    "step_in_unit": "percent",
    "stable_seconds": "600",
    "min_size": "2",
    "max_size": "12",
    "cooldown_seconds": "300",
    "enabled": "on",
}


@pytest.fixture
def pool(cluster):
    """The cluster's pool web (bounds 0..20)."""
    return PoolFactory(cluster=cluster, name="web", min_size=0, max_size=20)


@pytest.fixture
def other_pool(cluster):
    """Another pool of the same cluster."""
    return PoolFactory(cluster=cluster, name="api", min_size=0, max_size=20)


@pytest.fixture
def foreign_pool(db):
    """A pool of a cluster none of the users belongs to."""
    return PoolFactory(cluster=ClusterFactory(name="elsewhere"), name="secret")


def api(user) -> APIClient:
    """The API as the user sees it."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def listed(user, kind: str, pool) -> list[dict]:
    """The schedules or policies the API lists for the pool."""
    return api(user).get(f"/api/v1/scaling-{kind}/", {"pool": pool.pk}).json()["results"]


def section(page: str, anchor: str) -> str:
    """One section of the pool's page (schedules, policies, administrators), up to the next heading of its rank."""
    found = re.search(rf'<h2 id="{anchor}">(.*?)(<h2 |</section>)', page, re.S)
    assert found, f"no section {anchor}"
    return found.group(1)


def webhook(token: str, policy_id: int, alert: str = "HighLatency"):
    """What the webhook answers an alert sent with token."""
    body = json.dumps({"alertname": alert, "status": "firing"})
    return APIClient().post(
        f"/api/v1/scaling-policies/{policy_id}/alerts/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_an_admin_creates_a_schedule_and_the_api_lists_what_was_typed(users, pool):
    """From the pool's Add button to the saved schedule: the pool is picked already, the answer goes back to
    the pool's schedules, which show the next three occurrences; the API lists the values typed."""
    client = login(users["admin"])
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/pools/{pool.pk}/").content.decode()
        assert f'href="/scaling-schedules/add/?pool={pool.pk}"' in page
        form = client.get(f"/scaling-schedules/add/?pool={pool.pk}").content.decode()
        assert re.search(rf'<option value="{pool.pk}" selected>', form)
        answer = client.post(f"/scaling-schedules/add/?pool={pool.pk}", {**SCHEDULE, "pool": pool.pk})
        assert answer.status_code == 302, form_errors(answer)
        assert answer["Location"] == f"/pools/{pool.pk}/#scaling-schedules"
        shown = client.get(answer["Location"]).content.decode()
    [made] = listed(users["admin"], "schedules", pool)
    assert {key: made[key] for key in ("name", "cron", "run_at", "time_zone", "desired_size", "delta")} == {
        "name": "gala",
        "cron": "0 20 * * 6",
        "run_at": None,
        "time_zone": "Asia/Shanghai",
        "desired_size": 8,
        "delta": None,
    }
    assert (made["duration_minutes"], made["grace_seconds"], made["enabled"]) == (180, 900, True)
    # Saturdays 20:00 in Shanghai are 12:00 UTC: the next three from Monday 16 March.
    assert "gala was saved. It runs next at Mar 21, 2026, 12:00:00 UTC" in shown
    row = section(shown, "scaling-schedules")
    for day in ("2026-03-21", "2026-03-28", "2026-04-04"):
        assert f'<time datetime="{day}T20:00:00+08:00">' in row
    assert "2026-04-11" not in row
    entry = AuditEntry.objects.get(action="create", object_id=str(made["id"]))
    assert entry.via == "console" and entry.username == users["admin"].username


def test_a_one_off_schedule_is_read_in_its_time_zone_and_edited_back(users, pool):
    """A one-off time typed as the wall clock of the schedule's zone; its edit form shows it as typed; an edit
    that switches it to a delta on a cron expression clears the one-off time and the size."""
    client = login(users["admin"])
    body = {**SCHEDULE, "pool": pool.pk, "cron": "", "run_at": "2026-12-24T20:00", "duration_minutes": ""}
    with time_machine.travel(NOW, tick=False):
        assert client.post("/scaling-schedules/add/", body).status_code == 302
        [made] = listed(users["admin"], "schedules", pool)
        assert made["run_at"] == "2026-12-24T12:00:00Z" and made["duration_minutes"] is None
        form = client.get(f"/scaling-schedules/{made['id']}/edit/").content.decode()
        assert 'value="2026-12-24T20:00"' in form and 'name="pool"' not in form
        change = {**body, "run_at": "", "cron": "30 8 * * 1-5", "desired_size": "", "delta": "-2"}
        assert client.post(f"/scaling-schedules/{made['id']}/edit/", change).status_code == 302
    [edited] = listed(users["admin"], "schedules", pool)
    assert (edited["run_at"], edited["cron"]) == (None, "30 8 * * 1-5")
    assert (edited["delta"], edited["desired_size"]) == (-2, None)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"cron": "0 25 * * *"}, "cron", "“0 25 * * *” is not a cron expression: give five fields"),
        ({"cron": "every day"}, "cron", "“every day” is not a cron expression"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone “Mars/Olympus”: use an IANA name"),
        ({"delta": "3"}, "desired_size", "Give a size or hosts to add or remove, not both: clear one."),
        ({"desired_size": ""}, "desired_size", "Give a size to scale to, or hosts to add or remove."),
        ({"run_at": "2027-01-01T08:00"}, "run_at", "Give a cron expression or a one-off time, not both: clear one."),
        ({"cron": "", "run_at": "2026-03-01T08:00"}, "run_at", "A one-off time must be in the future."),
        ({"cron": "", "run_at": "tomorrow"}, "run_at", "Give a date and time such as 2026-12-24 20:00."),
        ({"desired_size": "50"}, "desired_size", "Pool cluster-"),
    ],
)
def test_a_bad_schedule_gets_its_message_next_to_the_field_and_makes_nothing(users, pool, change, field, message):
    """Each mistake is named by its own field (the API's checks too: the pool's bounds); nothing is saved."""
    client = login(users["admin"])
    with time_machine.travel(NOW, tick=False):
        answer = client.post("/scaling-schedules/add/", {**SCHEDULE, "pool": pool.pk, **change})
    assert answer.status_code == 400
    assert any(text.startswith(message) for text in field_errors(answer, field)), field_errors(answer, field)
    assert not ScalingSchedule.objects.exists()


def test_the_messages_are_in_the_readers_language(users, pool):
    """In Chinese: the cron, time zone and target messages, and the API's own bound check, next to their fields."""
    client = login(users["admin"], language="zh-hans")
    bad = {**SCHEDULE, "pool": pool.pk, "cron": "0 25 * * *", "time_zone": "Mars/Olympus", "delta": "3"}
    answer = client.post("/scaling-schedules/add/", bad)
    assert answer.status_code == 400
    assert "不是有效的 cron 表达式" in field_errors(answer, "cron")[0]
    assert "未知的时区" in field_errors(answer, "time_zone")[0]
    assert "不能同时" in field_errors(answer, "desired_size")[0]
    answer = client.post("/scaling-schedules/add/", {**SCHEDULE, "pool": pool.pk, "desired_size": "50"})
    assert "超出" in field_errors(answer, "desired_size")[0]
    page = client.get(f"/scaling-schedules/add/?pool={pool.pk}").content.decode()
    assert "新建扩缩容计划" in page and "时区" in page
    assert not ScalingSchedule.objects.exists()


def test_a_policys_token_is_shown_once_when_made_and_when_rotated(users, pool):
    """Made from the form: the page holds the webhook URL and the token, which the webhook takes; the pool's page
    never shows it again. Rotated: the next page holds a new token, the old one is refused."""
    client = login(users["admin"])
    page = client.get(f"/pools/{pool.pk}/").content.decode()
    assert f'href="/scaling-policies/add/?pool={pool.pk}"' in page
    answer = client.post(f"/scaling-policies/add/?pool={pool.pk}", {**POLICY, "pool": pool.pk})
    assert answer.status_code == 200, form_errors(answer)
    assert answer["Cache-Control"].startswith("max-age=0") and "no-store" in answer["Cache-Control"]
    shown = answer.content.decode()
    [made] = listed(users["admin"], "policies", pool)
    token = re.search(r'<pre class="output copy" id="policy-token">([^<]+)</pre>', shown).group(1)
    assert f"http://testserver/api/v1/scaling-policies/{made['id']}/alerts/" in shown
    assert "it will not be shown again" in shown
    assert token.startswith(made["token_prefix"]) and made["token"] is None
    assert {key: made[key] for key in POLICY if key != "enabled"} == {
        "name": "latency",
        "alert_name": "HighLatency",
        "step_out": 2,
        "step_out_unit": "hosts",
        "step_in": 50,
        "step_in_unit": "percent",
        "stable_seconds": 600,
        "min_size": 2,
        "max_size": 12,
        "cooldown_seconds": 300,
    }
    assert webhook(token, made["id"]).status_code == 200
    pool_page = client.get(f"/pools/{pool.pk}/").content.decode()
    assert "latency" in section(pool_page, "scaling-policies") and token not in pool_page
    assert token not in client.get(f"/scaling-policies/{made['id']}/edit/").content.decode()
    confirm = client.get(f"/scaling-policies/{made['id']}/rotate-token/")
    assert confirm.status_code == 200 and made["token_prefix"] in confirm.content.decode()
    assert ScalingPolicy.objects.get().token_prefix == made["token_prefix"]  # asking changes nothing
    rotated = client.post(f"/scaling-policies/{made['id']}/rotate-token/").content.decode()
    new = re.search(r'<pre class="output copy" id="policy-token">([^<]+)</pre>', rotated).group(1)
    assert new != token and "The old token stopped working." in rotated
    assert webhook(token, made["id"]).status_code == 401
    assert webhook(new, made["id"]).status_code == 200
    assert new not in client.get(f"/pools/{pool.pk}/").content.decode()


def test_a_bad_policy_is_shown_by_its_fields(users, pool):
    """Bounds the wrong way round and a step over 1000 percent: the API's checks, by their fields, in Chinese."""
    client = login(users["admin"], language="zh-hans")
    answer = client.post("/scaling-policies/add/", {**POLICY, "pool": pool.pk, "min_size": "15", "max_size": "12"})
    assert answer.status_code == 400 and "15" in field_errors(answer, "min_size")[0]
    bad = {**POLICY, "pool": pool.pk, "step_out": "2000", "step_out_unit": "percent"}
    answer = client.post("/scaling-policies/add/", bad)
    assert answer.status_code == 400 and "1000" in field_errors(answer, "step_out")[0]
    assert not ScalingPolicy.objects.exists()


def test_enable_disable_and_delete_from_the_pool_page(users, pool):
    """The row's Disable button turns the schedule off (no next occurrence), Enable back on; Delete asks first."""
    client = login(users["admin"])
    with time_machine.travel(NOW, tick=False):
        client.post("/scaling-schedules/add/", {**SCHEDULE, "pool": pool.pk})
        schedule = ScalingSchedule.objects.get()
        row = section(client.get(f"/pools/{pool.pk}/").content.decode(), "scaling-schedules")
        assert f'formaction="/scaling-schedules/{schedule.pk}/enable/" name="enabled" value="0"' in row
        answer = client.post(f"/scaling-schedules/{schedule.pk}/enable/", {"enabled": "0"})
        assert answer["Location"] == f"/pools/{pool.pk}/#scaling-schedules"
        assert listed(users["admin"], "schedules", pool)[0]["enabled"] is False
        shown = client.get(answer["Location"]).content.decode()
        row = section(shown, "scaling-schedules")
        assert "<time" not in row and 'value="1"' in row and "schedule gala is disabled." in shown
        client.post(f"/scaling-schedules/{schedule.pk}/enable/", {"enabled": "1"})
        assert listed(users["admin"], "schedules", pool)[0]["next_occurrences"][0] == "2026-03-21T20:00:00+08:00"
        assert client.get(f"/scaling-schedules/{schedule.pk}/enable/").status_code == 405
        assert b"cannot be undone" in client.get(f"/scaling-schedules/{schedule.pk}/delete/").content
        assert ScalingSchedule.objects.exists()
        answer = client.post(f"/scaling-schedules/{schedule.pk}/delete/")
    assert answer["Location"] == f"/pools/{pool.pk}/#scaling-schedules"
    assert not ScalingSchedule.objects.exists()


def test_a_pool_admin_runs_their_pools_schedules_and_no_other(users, pool, other_pool, foreign_pool):
    """A guest appointed administrator of web: buttons and forms on web; 403 on the cluster's other pool and its
    schedule, 404 on another cluster's pool; no buttons to appoint administrators."""
    PoolAdmin.objects.create(pool=pool, user=users["guest"])
    theirs = login(users["guest"])
    with time_machine.travel(NOW, tick=False):
        page = theirs.get(f"/pools/{pool.pk}/").content.decode()
        assert "/scaling-schedules/add/" in page and "/scaling-policies/add/" in page
        assert "/admins/" not in page
        assert theirs.post("/scaling-schedules/add/", {**SCHEDULE, "pool": pool.pk}).status_code == 302
        schedule = ScalingSchedule.objects.get(pool=pool)
        change = {**SCHEDULE, "desired_size": "6"}
        assert theirs.post(f"/scaling-schedules/{schedule.pk}/edit/", change).status_code == 302
        assert theirs.post(f"/scaling-schedules/{schedule.pk}/enable/", {"enabled": "0"}).status_code == 302
        assert theirs.post(f"/scaling-policies/add/?pool={pool.pk}", {**POLICY, "pool": pool.pk}).status_code == 200
        others = ScalingSchedule.objects.create(pool=other_pool, name="x", delta=1, cron="0 1 * * *", checked_until=NOW)
        assert 'href="/scaling-schedules/' not in theirs.get(f"/pools/{other_pool.pk}/").content.decode()
        for url in (f"/scaling-schedules/add/?pool={other_pool.pk}", f"/scaling-policies/add/?pool={other_pool.pk}"):
            assert theirs.get(url).status_code == 403, url
        assert theirs.post("/scaling-schedules/add/", {**SCHEDULE, "pool": other_pool.pk}).status_code == 403
        for url in (f"/scaling-schedules/{others.pk}/edit/", f"/scaling-schedules/{others.pk}/delete/"):
            assert theirs.get(url).status_code == 403, url
        assert theirs.post(f"/scaling-schedules/{others.pk}/enable/", {"enabled": "0"}).status_code == 403
        assert theirs.get(f"/scaling-schedules/add/?pool={foreign_pool.pk}").status_code == 404
        assert theirs.post("/scaling-schedules/add/", {**SCHEDULE, "pool": foreign_pool.pk}).status_code == 404
        assert theirs.post(f"/pools/{pool.pk}/admins/", {"username": "developer-user"}).status_code == 403
    schedule.refresh_from_db()
    assert (schedule.desired_size, schedule.enabled) == (6, False)
    assert not ScalingSchedule.objects.filter(pool__in=[other_pool, foreign_pool], name="gala").exists()
    assert ScalingSchedule.objects.get(pk=others.pk).enabled


@pytest.mark.parametrize("role", ["developer", "guest"])
def test_developers_and_guests_see_no_buttons_and_are_refused(users, pool, role):
    """The pool's schedules and policies are shown without buttons; every form URL answers 403, changing nothing."""
    with time_machine.travel(NOW, tick=False):
        login(users["admin"]).post("/scaling-schedules/add/", {**SCHEDULE, "pool": pool.pk})
        login(users["admin"]).post("/scaling-policies/add/", {**POLICY, "pool": pool.pk})
        schedule, policy = ScalingSchedule.objects.get(), ScalingPolicy.objects.get()
        client = login(users[role])
        page = client.get(f"/pools/{pool.pk}/").content.decode()
        assert "gala" in page and "latency" in page
        for hidden in ('href="/scaling-', "formaction=", "/admins/", 'id="scaling-enable"'):
            assert hidden not in page, hidden
        for url in (
            f"/scaling-schedules/add/?pool={pool.pk}",
            f"/scaling-schedules/{schedule.pk}/edit/",
            f"/scaling-schedules/{schedule.pk}/delete/",
            f"/scaling-policies/add/?pool={pool.pk}",
            f"/scaling-policies/{policy.pk}/edit/",
            f"/scaling-policies/{policy.pk}/delete/",
            f"/scaling-policies/{policy.pk}/rotate-token/",
        ):
            assert client.get(url).status_code == 403, url
            assert client.post(url, {**SCHEDULE, **POLICY, "pool": pool.pk}).status_code == 403, url
        assert client.post(f"/scaling-schedules/{schedule.pk}/enable/", {"enabled": "0"}).status_code == 403
        assert client.post(f"/pools/{pool.pk}/admins/", {"username": "guest-user"}).status_code == 403
    assert ScalingSchedule.objects.get().enabled and ScalingSchedule.objects.count() == 1
    assert ScalingPolicy.objects.get().token_prefix == policy.token_prefix


def test_an_outsider_learns_nothing(users, pool):
    """404 on every form of the pool's schedules, policies and administrators."""
    with time_machine.travel(NOW, tick=False):
        login(users["admin"]).post("/scaling-schedules/add/", {**SCHEDULE, "pool": pool.pk})
        login(users["admin"]).post("/scaling-policies/add/", {**POLICY, "pool": pool.pk})
    schedule, policy = ScalingSchedule.objects.get(), ScalingPolicy.objects.get()
    client = login(users["outsider"])
    for url in (
        f"/pools/{pool.pk}/",
        f"/scaling-schedules/add/?pool={pool.pk}",
        f"/scaling-schedules/{schedule.pk}/edit/",
        f"/scaling-schedules/{schedule.pk}/delete/",
        f"/scaling-policies/{policy.pk}/edit/",
        f"/scaling-policies/{policy.pk}/rotate-token/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/scaling-policies/{policy.pk}/enable/", {"enabled": "0"}).status_code == 404
    assert client.post(f"/pools/{pool.pk}/admins/", {"username": "outsider"}).status_code == 404
    assert client.post(f"/pools/{pool.pk}/admins/admin-user/remove/").status_code == 404
    assert ScalingPolicy.objects.get().enabled


def test_cluster_admins_appoint_and_remove_pool_administrators(users, pool):
    """Appointed by username from the pool's page and listed there; a non-member's name gets the API's message
    by the field; removed with its button. Who else sees the list sees no button."""
    client = login(users["admin"])
    page = client.get(f"/pools/{pool.pk}/").content.decode()
    assert f'action="/pools/{pool.pk}/admins/"' in section(page, "pool-admins")
    answer = client.post(f"/pools/{pool.pk}/admins/", {"username": "developer-user"})
    assert answer["Location"] == f"/pools/{pool.pk}/#pool-admins"
    shown = section(client.get(answer["Location"]).content.decode(), "pool-admins")
    assert 'data-pool-admin="developer-user"' in shown
    assert [row["username"] for row in api(users["admin"]).get("/api/v1/pool-admins/").json()["results"]] == [
        "developer-user"
    ]
    answer = client.post(f"/pools/{pool.pk}/admins/", {"username": "outsider"})
    assert answer.status_code == 400
    assert field_errors(answer, "username") == [
        f"Outsider is not a member of cluster {pool.cluster}: add them (as a guest) first."
    ]
    chinese = login(users["admin"], language="zh-hans")
    chinese = chinese.post(f"/pools/{pool.pk}/admins/", {"username": "developer-user"})
    assert chinese.status_code == 400 and "已经是" in field_errors(chinese, "username")[0]
    guest_page = login(users["guest"]).get(f"/pools/{pool.pk}/").content.decode()
    assert "developer-user" in section(guest_page, "pool-admins") and "<form" not in section(guest_page, "pool-admins")
    answer = client.post(f"/pools/{pool.pk}/admins/developer-user/remove/")
    assert answer["Location"] == f"/pools/{pool.pk}/#pool-admins"
    assert not PoolAdmin.objects.exists()
    assert client.post(f"/pools/{pool.pk}/admins/developer-user/remove/").status_code == 404
