"""Pool administrators: a role on one pool that gives nothing on the rest of its cluster.

A guest of the cluster who administers pool web scales it, orders its templates, manages its schedules
and policies and re-runs its initialization; on the cluster's other pool and on the cluster itself they
keep the guest's rights (403 on writes); an outsider learns nothing (404).
"""

import pytest

from apps.accounts.models import PoolAdmin
from tests.factories import PoolFactory, TemplateFactory, with_template
from tests.scaling.conftest import as_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool_admin(users, pool):
    """The guest of the cluster, appointed administrator of pool web by a cluster admin (through the API)."""
    answer = as_user(users["admin"]).post(
        "/api/v1/pool-admins/", {"pool": pool.pk, "username": users["guest"].username}, format="json"
    )
    assert answer.status_code == 201, answer.content
    return as_user(users["guest"])


def test_a_pool_admin_runs_their_pool(pool_admin, pool):
    """Scale, template order, schedules, policies, re-run initialization: all on their own pool."""
    assert pool_admin.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code == 202
    other_template = TemplateFactory()
    order = [other_template.pk, *pool.template_links.values_list("template_id", flat=True)]
    answer = pool_admin.patch(f"/api/v1/pools/{pool.pk}/", {"templates": order}, format="json")
    assert answer.status_code == 200 and answer.json()["templates"] == order
    schedule = {"pool": pool.pk, "name": "gala", "desired_size": 8, "cron": "0 20 * * 6"}
    made = pool_admin.post("/api/v1/scaling-schedules/", schedule, format="json")
    assert made.status_code == 201
    assert pool_admin.delete(f"/api/v1/scaling-schedules/{made.json()['id']}/").status_code == 204
    policy = {"pool": pool.pk, "name": "cpu", "alert_name": "HighCPU", "step_out": 2}
    assert pool_admin.post("/api/v1/scaling-policies/", policy, format="json").status_code == 201
    # Allowed: the answer is about the hosts (their template has no init method), not about the role.
    rerun = pool_admin.post(f"/api/v1/pools/{pool.pk}/initialize/", {}, format="json")
    assert rerun.status_code == 400 and "init" in rerun.content.decode(), rerun.content


def test_a_pool_admin_gets_403_on_the_clusters_other_pools_and_settings(pool_admin, users, cluster, pool):
    """The other pool: no scale, no schedule; the cluster: no change; their pool's sizes and name, its
    budget override and its administrators stay the cluster admins'."""
    other = with_template(PoolFactory(cluster=cluster, name="api", max_size=10), TemplateFactory())
    assert pool_admin.post(f"/api/v1/pools/{other.pk}/scale/", {"delta": 1}, format="json").status_code == 403
    assert pool_admin.post(f"/api/v1/pools/{other.pk}/initialize/", {}, format="json").status_code == 403
    schedule = {"pool": other.pk, "name": "gala", "desired_size": 8, "cron": "0 20 * * 6"}
    assert pool_admin.post("/api/v1/scaling-schedules/", schedule, format="json").status_code == 403
    assert pool_admin.patch(f"/api/v1/clusters/{cluster.pk}/", {"description": "x"}, format="json").status_code == 403
    assert pool_admin.patch(f"/api/v1/pools/{pool.pk}/", {"max_size": 50}, format="json").status_code == 403
    assert pool_admin.delete(f"/api/v1/pools/{pool.pk}/").status_code == 403
    body = {"delta": 1, "override_budget": True}
    assert pool_admin.post(f"/api/v1/pools/{pool.pk}/scale/", body, format="json").status_code == 403
    appoint = {"pool": pool.pk, "username": users["developer"].username}
    assert pool_admin.post("/api/v1/pool-admins/", appoint, format="json").status_code == 403
    assert other.desired_size == type(other).objects.get(pk=other.pk).desired_size


def test_outsiders_learn_nothing_and_only_cluster_admins_appoint(users, pool, pool_admin):
    """An outsider gets 404 on the pool, its schedules and its admins; a developer may not appoint (403),
    a non-member cannot be appointed (400); removing the membership ends the pool role."""
    outsider = as_user(users["outsider"])
    schedule = pool_admin.post(
        "/api/v1/scaling-schedules/",
        {"pool": pool.pk, "name": "gala", "desired_size": 8, "cron": "0 20 * * 6"},
        format="json",
    ).json()
    assert outsider.get(f"/api/v1/pools/{pool.pk}/").status_code == 404
    assert outsider.get(f"/api/v1/scaling-schedules/{schedule['id']}/").status_code == 404
    assert outsider.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code == 404
    assert outsider.get("/api/v1/pool-admins/").json()["count"] == 0
    appoint = {"pool": pool.pk, "username": users["outsider"].username}
    assert as_user(users["developer"]).post("/api/v1/pool-admins/", appoint, format="json").status_code == 403
    answer = as_user(users["admin"]).post("/api/v1/pool-admins/", appoint, format="json")
    assert answer.status_code == 400 and "not a member" in answer.json()["username"][0]
    again = {"pool": pool.pk, "username": users["guest"].username}
    assert as_user(users["admin"]).post("/api/v1/pool-admins/", again, format="json").status_code == 409
    users["guest"].memberships.all().delete()
    assert PoolAdmin.objects.filter(user=users["guest"]).exists()
    assert pool_admin.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code == 404


def test_a_developer_reads_schedules_but_does_not_manage_them(users, pool):
    """Schedules and policies are operating the pool: cluster admins and pool admins, not developers."""
    developer = as_user(users["developer"])
    body = {"pool": pool.pk, "name": "gala", "desired_size": 8, "cron": "0 20 * * 6"}
    assert developer.post("/api/v1/scaling-schedules/", body, format="json").status_code == 403
    made = as_user(users["admin"]).post("/api/v1/scaling-schedules/", body, format="json").json()
    assert developer.get(f"/api/v1/scaling-schedules/{made['id']}/").status_code == 200
