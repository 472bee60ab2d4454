"""Scaling schedules: next occurrences, missed ones past their grace, the end that restores the size,
bounds and an enforced budget, read back in the API's occurrences and pool.

The beat task's own function (run_schedules) is called in this process with the clock moved; the
same occurrence under two beats and a killed worker is tests/e2e/test_scaling_beats.py.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from apps.costs.budgets.models import Budget
from apps.provisioning.models import Job
from apps.scaling import schedules
from apps.scaling.tasks import run_schedules
from tests.scaling.conftest import as_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 16, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai


def make_schedule(client, pool, **fields):
    answer = client.post("/api/v1/scaling-schedules/", {"pool": pool.pk, "name": "gala", **fields}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def occurrences(client, schedule) -> list[tuple[str, str]]:
    rows = client.get(f"/api/v1/scaling-occurrences/?schedule={schedule['id']}").json()["results"]
    return [(row["kind"], row["status"]) for row in reversed(rows)]


def desired(client, pool) -> int:
    return client.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"]


def test_next_occurrences_are_shown_in_the_schedules_time_zone(users, pool):
    """A daily 20:00 in Asia/Shanghai shows its next five occurrences at 20:00+08:00."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False):
        schedule = make_schedule(admin, pool, desired_size=10, cron="0 20 * * *", time_zone="Asia/Shanghai")
    assert schedule["next_occurrences"][:2] == ["2026-03-16T20:00:00+08:00", "2026-03-17T20:00:00+08:00"]
    assert len(schedule["next_occurrences"]) == 5
    # A tick looks only at schedules with something due: none before 20:00 in Shanghai (12:00 UTC).
    assert schedules.due(NOW + timedelta(minutes=59)) == []
    assert schedules.due(NOW + timedelta(hours=1)) == [schedule["id"]]


def test_an_occurrence_runs_within_its_grace_and_is_recorded_missed_past_it(users, pool):
    """DCP down over the 20:00 occurrence, back at 20:30 (grace 600 s): recorded missed, the pool left
    alone. The next day at 20:05 (within the grace) it runs late, once however many ticks come."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        schedule = make_schedule(admin, pool, delta=4, cron="0 20 * * *", time_zone="Asia/Shanghai")
        clock.move_to(NOW + timedelta(hours=1, minutes=30))
        assert run_schedules() == 1
        assert desired(admin, pool) == 3
        clock.move_to(NOW + timedelta(days=1, hours=1, minutes=5))
        assert run_schedules() == 1
        assert run_schedules() == 0
    assert occurrences(admin, schedule) == [("start", "missed"), ("start", "scaled")]
    missed = admin.get(f"/api/v1/scaling-occurrences/?schedule={schedule['id']}&status=missed").json()["results"][0]
    assert "past the schedule's grace of 600 s" in missed["message"]
    assert desired(admin, pool) == 7
    job = Job.objects.get(pool=pool)
    assert job.trigger == f"schedule gala (id {schedule['id']}) at 2026-03-17T20:00:00+08:00"


def test_the_end_time_restores_the_size_the_pool_had_before(users, pool):
    """A one-off to 10 hosts for 60 minutes: 10 at its time, back to 3 an hour later (and only then)."""
    admin = as_user(users["admin"])
    with time_machine.travel(NOW, tick=False) as clock:
        run_at = NOW + timedelta(minutes=5)
        schedule = make_schedule(admin, pool, desired_size=10, run_at=run_at.isoformat(), duration_minutes=60)
        assert schedule["next_occurrences"] == [run_at.isoformat()]
        clock.move_to(run_at + timedelta(seconds=10))
        run_schedules()
        assert desired(admin, pool) == 10
        clock.move_to(run_at + timedelta(minutes=59))
        assert run_schedules() == 0
        clock.move_to(run_at + timedelta(minutes=60, seconds=5))
        assert run_schedules() == 1
        assert run_schedules() == 0
    assert desired(admin, pool) == 3
    assert occurrences(admin, schedule) == [("start", "scaled"), ("end", "scaled")]
    assert [job.delta for job in Job.objects.filter(pool=pool).order_by("pk")] == [7, -7]


def test_a_schedule_is_held_to_the_pools_bounds_and_refused_by_an_enforced_budget(users, cluster, pool):
    """+30 on a pool of max 20 scales to 20 (saying so); a desired_size past max is a 400 at creation; a
    scale-out an enforced budget cannot take is recorded budget_refused and changes nothing."""
    admin = as_user(users["admin"])
    body = {"pool": pool.pk, "name": "big", "desired_size": 21, "cron": "0 * * * *"}
    answer = admin.post("/api/v1/scaling-schedules/", body, format="json")
    assert answer.status_code == 400 and "desired_size" in answer.json()
    with time_machine.travel(NOW, tick=False) as clock:
        held = make_schedule(admin, pool, delta=30, run_at=(NOW + timedelta(minutes=1)).isoformat())
        clock.shift(61)
        run_schedules()
        row = admin.get(f"/api/v1/scaling-occurrences/?schedule={held['id']}").json()["results"][0]
        assert (row["status"], row["size_after"]) == ("scaled", 20) and "held to the bounds" in row["message"]
        admin.post(f"/api/v1/pools/{pool.pk}/scale/", {"desired_size": 3}, format="json")
        Budget.objects.create(cluster=cluster, amount=Decimal("100.00"), currency="USD", enforce=True)
        refused = make_schedule(admin, pool, name="refused", delta=10, run_at=(NOW + timedelta(minutes=2)).isoformat())
        clock.shift(60)
        run_schedules()
    assert occurrences(admin, refused) == [("start", "budget_refused")]
    assert desired(admin, pool) == 3


def test_bad_schedules_are_400s_that_say_what_to_fix(users, pool):
    """A cron of six fields, an unknown time zone, both or neither of cron and run_at, a past run_at."""
    admin = as_user(users["admin"])
    cases = [
        ({"desired_size": 5, "cron": "0 20 * * * *"}, "cron"),
        ({"desired_size": 5, "cron": "0 20 * * *", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"desired_size": 5, "cron": "0 20 * * *", "run_at": "2030-01-01T00:00:00Z"}, "non_field_errors"),
        ({"desired_size": 5}, "non_field_errors"),
        ({"desired_size": 5, "delta": 2, "cron": "0 20 * * *"}, "non_field_errors"),
        ({"delta": 2, "run_at": "2020-01-01T00:00:00Z"}, "run_at"),
    ]
    for body, field in cases:
        answer = admin.post("/api/v1/scaling-schedules/", {"pool": pool.pk, "name": "x", **body}, format="json")
        assert answer.status_code == 400 and field in answer.json(), (body, answer.content)


def test_a_failing_pass_is_rolled_back_and_the_other_schedules_still_run(users, pool, monkeypatch):
    """One schedule's pass raises (an unexpected error, injected: nothing here fails on its own): its pass
    is rolled back whole, the other schedule runs; the next tick runs the first one (within its grace)."""
    admin = as_user(users["admin"])
    real_start = schedules._start

    def broken(schedule, moment, now):
        if schedule.name == "broken":
            raise RuntimeError("injected failure")
        return real_start(schedule, moment, now)

    with time_machine.travel(NOW, tick=False) as clock:
        at = (NOW + timedelta(minutes=1)).isoformat()
        broken_one = make_schedule(admin, pool, name="broken", delta=1, run_at=at)
        make_schedule(admin, pool, name="fine", delta=2, run_at=at)
        clock.shift(70)
        monkeypatch.setattr(schedules, "_start", broken)
        assert run_schedules() == 1
        assert occurrences(admin, broken_one) == [] and desired(admin, pool) == 5
        monkeypatch.setattr(schedules, "_start", real_start)
        clock.shift(15)
        assert run_schedules() == 1
    assert occurrences(admin, broken_one) == [("start", "scaled")] and desired(admin, pool) == 6
