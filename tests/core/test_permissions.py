"""The permission matrix of every endpoint under /api/v1/, role by role.

Roles: ``anonymous`` (no token), ``outsider`` (signed in, not a member of the
cluster), ``guest``, ``developer`` and ``admin`` of the cluster, and
``sysadmin`` (a system administrator, not a member of any cluster).

Every write case also checks its effect: a refused write changes nothing in
the database, an allowed one takes effect.
"""

from types import SimpleNamespace

import pytest
from django.utils import timezone

from apps.accounts.models import Membership, User
from apps.core import audit
from apps.core.models import AuditAction, AuditEntry
from apps.inventory.models import Cluster, Host, PhysicalMachine, ServicePool
from apps.providers.models import CloudAccount, MachineTemplate
from apps.provisioning.models import Job, OrphanInstance
from tests.factories import (
    ClusterFactory,
    MachineFactory,
    MembershipFactory,
    PhysicalProviderFactory,
    PoolFactory,
    TemplateFactory,
    UserFactory,
    with_template,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "guest", "developer", "admin", "sysadmin")
MEMBER_ROLES = ("guest", "developer", "admin")
MISSING = 999_999


@pytest.fixture
def world(cluster, users, sysadmin):
    """The cluster (with a pool, host, job, audit entry, extra member), a second cluster with the same, global objects.

    ``bare`` is a cluster without pools where the role users have the same roles,
    so that deleting it is possible; ``empty_pool``, ``bare_provider`` and
    ``bare_template`` are unused objects that can be deleted.
    """
    provider = PhysicalProviderFactory(name="idc-main")
    machine = MachineFactory(provider=provider)
    MachineFactory(provider=provider)
    template = TemplateFactory(provider=provider, name="tpl-main")
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=5, desired_size=1), template)
    empty_pool = PoolFactory(cluster=cluster, name="empty")
    job = Job.objects.create(pool=pool, kind="scale_out", delta=1, desired_before=0, desired_after=1)
    host = Host.objects.create(
        pool=pool, provider=provider, template=template, hostname="web-1.idc.test", job=job, status="ready"
    )
    entry = audit.record(sysadmin, AuditAction.UPDATE, pool, {"description": ""}, {"description": "web"})
    extra = UserFactory(username="extra-member")
    MembershipFactory(cluster=cluster, user=extra, role="guest")
    newcomer = UserFactory(username="newcomer")

    bare = ClusterFactory(name="bare")
    for role in MEMBER_ROLES:
        MembershipFactory(cluster=bare, user=users[role], role=role)

    other = ClusterFactory(name="elsewhere")
    other_member = UserFactory(username="other-member")
    MembershipFactory(cluster=other, user=other_member, role="admin")
    other_pool = with_template(PoolFactory(cluster=other, name="db", max_size=5, desired_size=1), template)
    other_job = Job.objects.create(pool=other_pool, kind="scale_out", delta=1, desired_before=0, desired_after=1)
    other_host = Host.objects.create(
        pool=other_pool, provider=provider, template=template, hostname="db-1.idc.test", job=other_job
    )
    other_entry = audit.record(sysadmin, AuditAction.UPDATE, other_pool, {"description": ""}, {"description": "db"})
    global_entry = audit.record(sysadmin, AuditAction.UPDATE, provider, {"region": "bj"}, {"region": "bj"})

    bare_provider = PhysicalProviderFactory(name="idc-spare")
    bare_template = TemplateFactory(provider=provider, name="tpl-spare")
    now = timezone.now()
    orphan = OrphanInstance.objects.create(provider=provider, instance_id="pm-stray", first_seen=now, last_seen=now)
    return SimpleNamespace(
        cluster=cluster,
        users=users,
        sysadmin=sysadmin,
        provider=provider,
        machine=machine,
        template=template,
        pool=pool,
        empty_pool=empty_pool,
        job=job,
        host=host,
        entry=entry,
        extra=extra,
        newcomer=newcomer,
        bare=bare,
        other=other,
        other_member=other_member,
        other_pool=other_pool,
        other_job=other_job,
        other_host=other_host,
        other_entry=other_entry,
        global_entry=global_entry,
        bare_provider=bare_provider,
        bare_template=bare_template,
        orphan=orphan,
        actor=None,
    )


def actor_of(world, role):
    """The user behind a role (None for anonymous)."""
    if role == "sysadmin":
        return world.sysadmin
    return world.users.get(role)


def send(client, method, url, body=None):
    """Send a JSON request with any method."""
    return getattr(client, method.lower())(url, body, format="json")


# ---------------------------------------------------------------- reads of cluster objects


def detail_urls(w):
    """Per resource: the URL of the cluster's object, of the other cluster's object, of one that does not exist."""
    return {
        "cluster": (
            f"/api/v1/clusters/{w.cluster.pk}/",
            f"/api/v1/clusters/{w.other.pk}/",
            f"/api/v1/clusters/{MISSING}/",
        ),
        "member": (
            f"/api/v1/clusters/{w.cluster.pk}/members/{w.extra.username}/",
            f"/api/v1/clusters/{w.other.pk}/members/{w.other_member.username}/",
            f"/api/v1/clusters/{MISSING}/members/{w.other_member.username}/",
        ),
        "pool": (f"/api/v1/pools/{w.pool.pk}/", f"/api/v1/pools/{w.other_pool.pk}/", f"/api/v1/pools/{MISSING}/"),
        "host": (f"/api/v1/hosts/{w.host.pk}/", f"/api/v1/hosts/{w.other_host.pk}/", f"/api/v1/hosts/{MISSING}/"),
        "job": (f"/api/v1/jobs/{w.job.pk}/", f"/api/v1/jobs/{w.other_job.pk}/", f"/api/v1/jobs/{MISSING}/"),
        "audit": (f"/api/v1/audit/{w.entry.pk}/", f"/api/v1/audit/{w.other_entry.pk}/", f"/api/v1/audit/{MISSING}/"),
    }


def expected_ids(w):
    """Per resource: the id the detail of the cluster's object and of the other cluster's object must show."""
    own_member = Membership.objects.get(cluster=w.cluster, user=w.extra).pk
    other_member = Membership.objects.get(cluster=w.other, user=w.other_member).pk
    return {
        "cluster": (w.cluster.pk, w.other.pk),
        "member": (own_member, other_member),
        "pool": (w.pool.pk, w.other_pool.pk),
        "host": (w.host.pk, w.other_host.pk),
        "job": (w.job.pk, w.other_job.pk),
        "audit": (w.entry.pk, w.other_entry.pk),
    }


DETAIL_MATRIX = [
    # role, status on the cluster's object, status on another cluster's object
    ("anonymous", 401, 401),
    ("outsider", 404, 404),
    ("guest", 200, 404),
    ("developer", 200, 404),
    ("admin", 200, 404),
    ("sysadmin", 200, 200),
]


@pytest.mark.parametrize("resource", ["cluster", "member", "pool", "host", "job", "audit"])
@pytest.mark.parametrize(("role", "own_status", "other_status"), DETAIL_MATRIX)
def test_cluster_object_detail(clients, world, resource, role, own_status, other_status):
    """Members read their cluster's objects; non-members get the same 404 as for an object that does not exist."""
    client = clients[role]
    own_url, other_url, missing_url = detail_urls(world)[resource]
    own_id, other_id = expected_ids(world)[resource]
    for url, status, object_id in ((own_url, own_status, own_id), (other_url, other_status, other_id)):
        response = client.get(url)
        assert response.status_code == status, (url, response.content)
        if status == 200:
            assert response.json()["id"] == object_id
        elif status == 404:
            assert response.json() == client.get(missing_url).json()
        else:
            assert set(response.json()) == {"detail"}


def every_read_url(w):
    """Every list and detail URL under /api/v1/ (and the API root), for the world's objects."""
    urls = ["/api/v1/", f"/api/v1/clusters/{w.cluster.pk}/members/"]
    for name in (
        "clusters",
        "pools",
        "hosts",
        "jobs",
        "audit",
        "providers",
        "templates",
        "physical-machines",
        "users",
        "orphans",
    ):
        urls.append(f"/api/v1/{name}/")
    for own, _, _ in detail_urls(w).values():
        urls.append(own)
    urls += [
        f"/api/v1/providers/{w.provider.pk}/",
        f"/api/v1/templates/{w.template.pk}/",
        f"/api/v1/physical-machines/{w.machine.pk}/",
        f"/api/v1/users/{w.newcomer.pk}/",
        f"/api/v1/orphans/{w.orphan.pk}/",
    ]
    return urls


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_anonymous_refused_everywhere(clients, world, method):
    """Without a token, every list and detail under /api/v1/ (and the API root) answers 401, for any read method."""
    client = clients["anonymous"]
    for url in every_read_url(world):
        response = getattr(client, method.lower())(url)
        assert response.status_code == 401, (method, url, response.status_code)
        assert response["WWW-Authenticate"].startswith("Token")


def test_api_root_needs_sign_in_only(clients):
    """The API root lists the endpoints for any signed-in user."""
    response = clients["outsider"].get("/api/v1/")
    assert response.status_code == 200
    assert {"clusters", "pools", "hosts", "jobs", "providers", "templates", "users", "audit", "orphans"} <= set(
        response.json()
    )


@pytest.mark.parametrize("resource", ["cluster", "member", "pool", "host", "job", "audit"])
def test_outsider_head_is_404(clients, world, resource):
    """HEAD on another cluster's object is 404 like GET, so it reveals nothing either."""
    own, _, _ = detail_urls(world)[resource]
    assert clients["outsider"].head(own).status_code == 404
    assert clients["guest"].head(own).status_code == 200


LISTS = {
    # resource: (URL, attribute of the cluster's object, attribute of the other cluster's object)
    "clusters": ("/api/v1/clusters/", "cluster", "other"),
    "pools": ("/api/v1/pools/", "pool", "other_pool"),
    "hosts": ("/api/v1/hosts/", "host", "other_host"),
    "jobs": ("/api/v1/jobs/", "job", "other_job"),
    "audit": ("/api/v1/audit/", "entry", "other_entry"),
}


@pytest.mark.parametrize("resource", LISTS)
@pytest.mark.parametrize("role", ROLES)
def test_cluster_object_list(clients, world, resource, role):
    """Lists show the objects of the user's clusters only; system administrators see all; anonymous gets 401."""
    url, own_attr, other_attr = LISTS[resource]
    response = clients[role].get(url)
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200, response.content
    body = response.json()
    ids = {item["id"] for item in body["results"]}
    assert body["count"] == len(ids)
    own_visible = role in MEMBER_ROLES or role == "sysadmin"
    assert (getattr(world, own_attr).pk in ids) is own_visible
    assert (getattr(world, other_attr).pk in ids) is (role == "sysadmin")


@pytest.mark.parametrize(("role", "own_status", "other_status"), DETAIL_MATRIX)
def test_member_list(clients, world, role, own_status, other_status):
    """A cluster's member list is readable by its members and system administrators, 404 for anyone else."""
    client = clients[role]
    own = client.get(f"/api/v1/clusters/{world.cluster.pk}/members/")
    other = client.get(f"/api/v1/clusters/{world.other.pk}/members/")
    assert own.status_code == own_status
    assert other.status_code == other_status
    if own_status == 200:
        names = {m["username"] for m in own.json()["results"]}
        assert names == {"admin-user", "developer-user", "guest-user", "extra-member"}
    if other_status == 200:
        assert [m["username"] for m in other.json()["results"]] == ["other-member"]
    if other_status == 404:
        assert other.json() == client.get(f"/api/v1/clusters/{MISSING}/members/").json()


@pytest.mark.parametrize("role", ROLES)
def test_audit_visibility(clients, world, role):
    """Sysadmin sees every entry (global ones too); a member only entries of their clusters; others none."""
    client = clients[role]
    response = client.get("/api/v1/audit/?limit=1000")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    results = response.json()["results"]
    ids = {e["id"] for e in results}
    if role == "sysadmin":
        assert {world.entry.pk, world.other_entry.pk, world.global_entry.pk} <= ids
        assert client.get(f"/api/v1/audit/{world.global_entry.pk}/").status_code == 200
        return
    member_of = set(Membership.objects.filter(user=actor_of(world, role)).values_list("cluster_id", flat=True))
    assert {e["cluster"] for e in results} <= member_of
    assert world.global_entry.pk not in ids
    assert client.get(f"/api/v1/audit/{world.global_entry.pk}/").status_code == 404
    assert (world.entry.pk in ids) is (role in MEMBER_ROLES)


# ---------------------------------------------------------------- reads of global objects and users

GLOBAL_RESOURCES = {
    "providers": "provider",
    "templates": "template",
    "physical-machines": "machine",
}


@pytest.mark.parametrize("resource", GLOBAL_RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_global_objects_readable_by_every_signed_in_user(clients, world, resource, role):
    """Providers, templates and physical machines: any signed-in user lists and reads them; anonymous gets 401."""
    obj = getattr(world, GLOBAL_RESOURCES[resource])
    client = clients[role]
    listed = client.get(f"/api/v1/{resource}/")
    detail = client.get(f"/api/v1/{resource}/{obj.pk}/")
    if role == "anonymous":
        assert listed.status_code == detail.status_code == 401
        return
    assert listed.status_code == 200
    assert obj.pk in {item["id"] for item in listed.json()["results"]}
    assert detail.status_code == 200
    assert detail.json()["id"] == obj.pk


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_orphans_for_system_administrators_only(clients, world, role, method):
    """Orphan instances are provider accounts' business: system administrators read them, anyone else gets 403."""
    client = clients[role]
    listed = getattr(client, method.lower())("/api/v1/orphans/")
    detail = getattr(client, method.lower())(f"/api/v1/orphans/{world.orphan.pk}/")
    missing = getattr(client, method.lower())(f"/api/v1/orphans/{MISSING}/")
    expected = {"anonymous": 401, "sysadmin": 200}.get(role, 403)
    assert listed.status_code == detail.status_code == expected, (listed.content, detail.content)
    if method == "OPTIONS":
        return
    assert missing.status_code == (404 if role == "sysadmin" else expected)
    if method == "HEAD":
        return
    if role == "sysadmin":
        assert [o["id"] for o in listed.json()["results"]] == [world.orphan.pk]
        assert detail.json()["instance_id"] == "pm-stray"
    else:
        # The refusal is the same whether the orphan exists or not: nothing about it is revealed.
        assert set(detail.json()) == {"detail"} and detail.json() == missing.json()


@pytest.mark.parametrize("role", ROLES)
def test_users_visibility(clients, world, role):
    """System administrators see every user; others see only themselves (any other user is 404)."""
    client = clients[role]
    listed = client.get("/api/v1/users/?limit=1000")
    other = client.get(f"/api/v1/users/{world.newcomer.pk}/")
    if role == "anonymous":
        assert listed.status_code == other.status_code == 401
        return
    me = actor_of(world, role)
    assert client.get(f"/api/v1/users/{me.pk}/").json()["username"] == me.username
    names = [u["username"] for u in listed.json()["results"]]
    if role == "sysadmin":
        assert set(names) == set(User.objects.values_list("username", flat=True))
        assert other.status_code == 200
    else:
        assert names == [me.username]
        assert other.status_code == 404
        assert other.json() == client.get(f"/api/v1/users/{MISSING}/").json()


# ---------------------------------------------------------------- writes


def sysadmin_only(ok):
    """Global objects and users: only system administrators may change them."""
    return {"anonymous": 401, "outsider": 403, "guest": 403, "developer": 403, "admin": 403, "sysadmin": ok}


def cluster_admin(ok):
    """A cluster's own objects: its admins (and system administrators) change them; non-members get 404."""
    return {"anonymous": 401, "outsider": 404, "guest": 403, "developer": 403, "admin": ok, "sysadmin": ok}


def cluster_scale(ok):
    """Scaling and cancelling: developers and admins of the cluster, and system administrators."""
    return {"anonymous": 401, "outsider": 404, "guest": 403, "developer": ok, "admin": ok, "sysadmin": ok}


READ_ONLY = {"anonymous": 401, "outsider": 405, "guest": 405, "developer": 405, "admin": 405, "sysadmin": 405}
# Read-only and for system administrators only: everyone else is refused before the method is looked at.
SYSADMIN_READ_ONLY = sysadmin_only(405)


def machine_body(w, **extra):
    """A valid new physical machine."""
    return {
        "provider": w.provider.pk,
        "hostname": "pm-new.idc.test",
        "ip": "10.99.0.1",
        "cpu": 16,
        "memory_gb": "32",
        "machine_class": "c16",
        "idc": "bj-1",
        **extra,
    }


def _value(model, pk, field):
    """One field of one row as stored now (None if the row is gone)."""
    row = model.objects.filter(pk=pk).values_list(field, flat=True).first()
    return row


# name: (method, url(w), body(w), state(w), expected status by role)
WRITES = {
    # clusters
    "cluster-create": (
        "POST",
        lambda w: "/api/v1/clusters/",
        lambda w: {"name": "new-line", "description": "a new business line"},
        lambda w: Cluster.objects.filter(name="new-line").exists(),
        sysadmin_only(201),
    ),
    "cluster-put": (
        "PUT",
        lambda w: f"/api/v1/clusters/{w.cluster.pk}/",
        lambda w: {"name": w.cluster.name, "description": "changed"},
        lambda w: _value(Cluster, w.cluster.pk, "description"),
        cluster_admin(200),
    ),
    "cluster-patch": (
        "PATCH",
        lambda w: f"/api/v1/clusters/{w.cluster.pk}/",
        lambda w: {"description": "patched"},
        lambda w: _value(Cluster, w.cluster.pk, "description"),
        cluster_admin(200),
    ),
    "cluster-delete": (
        "DELETE",
        lambda w: f"/api/v1/clusters/{w.bare.pk}/",
        lambda w: None,
        lambda w: Cluster.objects.filter(pk=w.bare.pk).exists(),
        cluster_admin(204),
    ),
    # members
    "member-create": (
        "POST",
        lambda w: f"/api/v1/clusters/{w.cluster.pk}/members/",
        lambda w: {"username": "newcomer", "role": "guest"},
        lambda w: Membership.objects.filter(cluster=w.cluster, user=w.newcomer).exists(),
        cluster_admin(201),
    ),
    "member-put": (
        "PUT",
        lambda w: f"/api/v1/clusters/{w.cluster.pk}/members/extra-member/",
        lambda w: {"username": "extra-member", "role": "developer"},
        lambda w: Membership.objects.get(cluster=w.cluster, user=w.extra).role,
        cluster_admin(200),
    ),
    "member-patch": (
        "PATCH",
        lambda w: f"/api/v1/clusters/{w.cluster.pk}/members/extra-member/",
        lambda w: {"role": "admin"},
        lambda w: Membership.objects.get(cluster=w.cluster, user=w.extra).role,
        cluster_admin(200),
    ),
    "member-delete": (
        "DELETE",
        lambda w: f"/api/v1/clusters/{w.cluster.pk}/members/extra-member/",
        lambda w: None,
        lambda w: Membership.objects.filter(cluster=w.cluster, user=w.extra).exists(),
        cluster_admin(204),
    ),
    # pools
    "pool-create": (
        "POST",
        lambda w: "/api/v1/pools/",
        lambda w: {"cluster": w.cluster.pk, "name": "new-pool", "templates": [w.template.pk], "max_size": 3},
        lambda w: ServicePool.objects.filter(name="new-pool").exists(),
        # The outsider names a cluster they cannot see: answered as for a cluster that does not exist.
        {**cluster_admin(201), "outsider": 400},
    ),
    "pool-put": (
        "PUT",
        lambda w: f"/api/v1/pools/{w.pool.pk}/",
        lambda w: {
            "cluster": w.cluster.pk,
            "name": "web",
            "templates": [w.template.pk],
            "min_size": 0,
            "max_size": 6,
            "description": "changed",
        },
        lambda w: (_value(ServicePool, w.pool.pk, "max_size"), _value(ServicePool, w.pool.pk, "description")),
        cluster_admin(200),
    ),
    "pool-patch": (
        "PATCH",
        lambda w: f"/api/v1/pools/{w.pool.pk}/",
        lambda w: {"max_size": 7},
        lambda w: _value(ServicePool, w.pool.pk, "max_size"),
        cluster_admin(200),
    ),
    "pool-delete": (
        "DELETE",
        lambda w: f"/api/v1/pools/{w.empty_pool.pk}/",
        lambda w: None,
        lambda w: ServicePool.objects.filter(pk=w.empty_pool.pk).exists(),
        cluster_admin(204),
    ),
    "pool-scale": (
        "POST",
        lambda w: f"/api/v1/pools/{w.pool.pk}/scale/",
        lambda w: {"delta": 1},
        lambda w: (_value(ServicePool, w.pool.pk, "desired_size"), Job.objects.filter(pool=w.pool).count()),
        cluster_scale(202),
    ),
    # jobs
    "job-cancel": (
        "POST",
        lambda w: f"/api/v1/jobs/{w.job.pk}/cancel/",
        lambda w: None,
        lambda w: _value(Job, w.job.pk, "status"),
        cluster_scale(200),
    ),
    "job-create": (
        "POST",
        lambda w: "/api/v1/jobs/",
        lambda w: {"pool": w.pool.pk, "kind": "scale_out", "delta": 1},
        lambda w: Job.objects.count(),
        READ_ONLY,
    ),
    "job-put": (
        "PUT",
        lambda w: f"/api/v1/jobs/{w.job.pk}/",
        lambda w: {"pool": w.pool.pk, "kind": "scale_in", "delta": -1, "status": "succeeded"},
        lambda w: (_value(Job, w.job.pk, "kind"), _value(Job, w.job.pk, "status")),
        READ_ONLY,
    ),
    "job-patch": (
        "PATCH",
        lambda w: f"/api/v1/jobs/{w.job.pk}/",
        lambda w: {"status": "succeeded"},
        lambda w: _value(Job, w.job.pk, "status"),
        READ_ONLY,
    ),
    "job-delete": (
        "DELETE",
        lambda w: f"/api/v1/jobs/{w.job.pk}/",
        lambda w: None,
        lambda w: Job.objects.filter(pk=w.job.pk).exists(),
        READ_ONLY,
    ),
    # hosts
    "host-create": (
        "POST",
        lambda w: "/api/v1/hosts/",
        lambda w: {"pool": w.pool.pk, "hostname": "web-9.idc.test"},
        lambda w: Host.objects.count(),
        READ_ONLY,
    ),
    "host-put": (
        "PUT",
        lambda w: f"/api/v1/hosts/{w.host.pk}/",
        lambda w: {"pool": w.pool.pk, "hostname": "renamed.idc.test", "status": "failed"},
        lambda w: (_value(Host, w.host.pk, "hostname"), _value(Host, w.host.pk, "status")),
        READ_ONLY,
    ),
    "host-patch": (
        "PATCH",
        lambda w: f"/api/v1/hosts/{w.host.pk}/",
        lambda w: {"status": "failed"},
        lambda w: _value(Host, w.host.pk, "status"),
        READ_ONLY,
    ),
    "host-delete": (
        "DELETE",
        lambda w: f"/api/v1/hosts/{w.host.pk}/",
        lambda w: None,
        lambda w: Host.objects.filter(pk=w.host.pk).exists(),
        READ_ONLY,
    ),
    # audit
    "audit-create": (
        "POST",
        lambda w: "/api/v1/audit/",
        lambda w: {"action": "delete", "object_id": "1", "username": "forged"},
        lambda w: AuditEntry.objects.count(),
        READ_ONLY,
    ),
    "audit-put": (
        "PUT",
        lambda w: f"/api/v1/audit/{w.entry.pk}/",
        lambda w: {"action": "delete", "username": "forged"},
        lambda w: (_value(AuditEntry, w.entry.pk, "action"), _value(AuditEntry, w.entry.pk, "username")),
        READ_ONLY,
    ),
    "audit-patch": (
        "PATCH",
        lambda w: f"/api/v1/audit/{w.entry.pk}/",
        lambda w: {"username": "forged"},
        lambda w: _value(AuditEntry, w.entry.pk, "username"),
        READ_ONLY,
    ),
    "audit-delete": (
        "DELETE",
        lambda w: f"/api/v1/audit/{w.entry.pk}/",
        lambda w: None,
        lambda w: AuditEntry.objects.filter(pk=w.entry.pk).exists(),
        READ_ONLY,
    ),
    # orphan instances (the sweep records them; nobody writes them)
    "orphan-create": (
        "POST",
        lambda w: "/api/v1/orphans/",
        lambda w: {"provider": w.provider.pk, "instance_id": "i-forged", "state": "reported"},
        lambda w: OrphanInstance.objects.count(),
        SYSADMIN_READ_ONLY,
    ),
    "orphan-put": (
        "PUT",
        lambda w: f"/api/v1/orphans/{w.orphan.pk}/",
        lambda w: {"provider": w.provider.pk, "instance_id": "pm-stray", "state": "terminated"},
        lambda w: _value(OrphanInstance, w.orphan.pk, "state"),
        SYSADMIN_READ_ONLY,
    ),
    "orphan-patch": (
        "PATCH",
        lambda w: f"/api/v1/orphans/{w.orphan.pk}/",
        lambda w: {"state": "gone"},
        lambda w: _value(OrphanInstance, w.orphan.pk, "state"),
        SYSADMIN_READ_ONLY,
    ),
    "orphan-delete": (
        "DELETE",
        lambda w: f"/api/v1/orphans/{w.orphan.pk}/",
        lambda w: None,
        lambda w: OrphanInstance.objects.filter(pk=w.orphan.pk).exists(),
        SYSADMIN_READ_ONLY,
    ),
    # providers
    "provider-create": (
        "POST",
        lambda w: "/api/v1/providers/",
        lambda w: {"name": "idc-new", "kind": "physical", "region": "sh"},
        lambda w: CloudAccount.objects.filter(name="idc-new").exists(),
        sysadmin_only(201),
    ),
    "provider-put": (
        "PUT",
        lambda w: f"/api/v1/providers/{w.provider.pk}/",
        lambda w: {"name": "idc-main", "kind": "physical", "region": "gz"},
        lambda w: _value(CloudAccount, w.provider.pk, "region"),
        sysadmin_only(200),
    ),
    "provider-patch": (
        "PATCH",
        lambda w: f"/api/v1/providers/{w.provider.pk}/",
        lambda w: {"region": "sz"},
        lambda w: _value(CloudAccount, w.provider.pk, "region"),
        sysadmin_only(200),
    ),
    "provider-delete": (
        "DELETE",
        lambda w: f"/api/v1/providers/{w.bare_provider.pk}/",
        lambda w: None,
        lambda w: CloudAccount.objects.filter(pk=w.bare_provider.pk).exists(),
        sysadmin_only(204),
    ),
    # physical machines
    "machine-create": (
        "POST",
        lambda w: "/api/v1/physical-machines/",
        machine_body,
        lambda w: PhysicalMachine.objects.filter(hostname="pm-new.idc.test").exists(),
        sysadmin_only(201),
    ),
    "machine-import": (
        "POST",
        lambda w: "/api/v1/physical-machines/import/",
        lambda w: [machine_body(w), machine_body(w, hostname="pm-new2.idc.test", ip="10.99.0.2")],
        lambda w: PhysicalMachine.objects.filter(hostname__startswith="pm-new").count(),
        sysadmin_only(201),
    ),
    "machine-put": (
        "PUT",
        lambda w: f"/api/v1/physical-machines/{w.machine.pk}/",
        lambda w: machine_body(w, hostname=w.machine.hostname, ip=w.machine.ip, rack="r-07"),
        lambda w: (_value(PhysicalMachine, w.machine.pk, "rack"), _value(PhysicalMachine, w.machine.pk, "cpu")),
        sysadmin_only(200),
    ),
    "machine-patch": (
        "PATCH",
        lambda w: f"/api/v1/physical-machines/{w.machine.pk}/",
        lambda w: {"state": "maintenance"},
        lambda w: _value(PhysicalMachine, w.machine.pk, "state"),
        sysadmin_only(200),
    ),
    "machine-delete": (
        "DELETE",
        lambda w: f"/api/v1/physical-machines/{w.machine.pk}/",
        lambda w: None,
        lambda w: PhysicalMachine.objects.filter(pk=w.machine.pk).exists(),
        sysadmin_only(204),
    ),
    # templates
    "template-create": (
        "POST",
        lambda w: "/api/v1/templates/",
        lambda w: {"name": "tpl-new", "provider": w.provider.pk, "instance_type": "c32"},
        lambda w: MachineTemplate.objects.filter(name="tpl-new").exists(),
        sysadmin_only(201),
    ),
    "template-put": (
        "PUT",
        lambda w: f"/api/v1/templates/{w.template.pk}/",
        lambda w: {"name": "tpl-main", "provider": w.provider.pk, "instance_type": "c32", "image": "centos-7"},
        lambda w: _value(MachineTemplate, w.template.pk, "image"),
        sysadmin_only(200),
    ),
    "template-patch": (
        "PATCH",
        lambda w: f"/api/v1/templates/{w.template.pk}/",
        lambda w: {"image": "rocky-9"},
        lambda w: _value(MachineTemplate, w.template.pk, "image"),
        sysadmin_only(200),
    ),
    "template-delete": (
        "DELETE",
        lambda w: f"/api/v1/templates/{w.bare_template.pk}/",
        lambda w: None,
        lambda w: MachineTemplate.objects.filter(pk=w.bare_template.pk).exists(),
        sysadmin_only(204),
    ),
    # users ("self" is the user making the request; "other" a user who is not)
    "user-create": (
        "POST",
        lambda w: "/api/v1/users/",
        lambda w: {"username": "newbie", "password": "long-enough-secret-42"},
        lambda w: User.objects.filter(username="newbie").exists(),
        sysadmin_only(201),
    ),
    "user-put-self": (
        "PUT",
        lambda w: f"/api/v1/users/{(w.actor or w.newcomer).pk}/",
        lambda w: {
            "username": (w.actor or w.newcomer).username,
            "first_name": "Changed",
            "is_system_admin": (w.actor or w.newcomer).is_superuser,
        },
        lambda w: _value(User, (w.actor or w.newcomer).pk, "first_name"),
        sysadmin_only(200),
    ),
    "user-patch-self": (
        "PATCH",
        lambda w: f"/api/v1/users/{(w.actor or w.newcomer).pk}/",
        lambda w: {"first_name": "Patched"},
        lambda w: _value(User, (w.actor or w.newcomer).pk, "first_name"),
        sysadmin_only(200),
    ),
    "user-patch-self-to-sysadmin": (
        "PATCH",
        lambda w: f"/api/v1/users/{(w.actor or w.newcomer).pk}/",
        lambda w: {"is_system_admin": True},
        lambda w: _value(User, (w.actor or w.newcomer).pk, "is_superuser"),
        {**sysadmin_only(200), "sysadmin": None},
    ),
    "user-put-other": (
        "PUT",
        lambda w: f"/api/v1/users/{w.newcomer.pk}/",
        lambda w: {"username": "newcomer", "first_name": "Changed"},
        lambda w: _value(User, w.newcomer.pk, "first_name"),
        sysadmin_only(200),
    ),
    "user-patch-other": (
        "PATCH",
        lambda w: f"/api/v1/users/{w.newcomer.pk}/",
        lambda w: {"first_name": "Patched"},
        lambda w: _value(User, w.newcomer.pk, "first_name"),
        sysadmin_only(200),
    ),
    "user-delete-other": (
        "DELETE",
        lambda w: f"/api/v1/users/{w.newcomer.pk}/",
        lambda w: None,
        lambda w: User.objects.filter(pk=w.newcomer.pk).exists(),
        sysadmin_only(204),
    ),
    "user-delete-self": (
        "DELETE",
        lambda w: f"/api/v1/users/{(w.actor or w.newcomer).pk}/",
        lambda w: None,
        lambda w: User.objects.filter(pk=(w.actor or w.newcomer).pk).exists(),
        {**sysadmin_only(204), "sysadmin": None},
    ),
}

WRITE_CASES = [
    pytest.param(name, role, status, id=f"{name}-{role}")
    for name, (*_, expected) in WRITES.items()
    for role, status in expected.items()
    if status is not None
]


@pytest.mark.parametrize(("case", "role", "expected"), WRITE_CASES)
def test_write_matrix(clients, world, case, role, expected):
    """Each write answers the role's status; refused writes change nothing, allowed ones take effect."""
    method, url, body, state, _ = WRITES[case]
    world.actor = actor_of(world, role)
    before = state(world)
    response = send(clients[role], method, url(world), body(world))
    assert response.status_code == expected, response.content
    after = state(world)
    if 200 <= expected < 300:
        assert after != before, f"{case} by {role} answered {expected} but changed nothing"
    else:
        assert after == before, f"{case} by {role} was refused with {expected} but changed {before!r} to {after!r}"
        assert "detail" in response.json() or expected == 400


def test_outsider_pool_create_is_answered_like_a_missing_cluster(clients, world):
    """Creating a pool in a cluster the user cannot see is answered exactly as for a cluster that does not exist."""
    client = clients["outsider"]
    body = {"name": "sneaky", "templates": [world.template.pk], "max_size": 3}
    hidden = client.post("/api/v1/pools/", {**body, "cluster": world.cluster.pk}, format="json")
    missing = client.post("/api/v1/pools/", {**body, "cluster": MISSING}, format="json")
    assert hidden.status_code == missing.status_code == 400
    assert set(hidden.json()) == {"cluster"}
    assert hidden.json()["cluster"] == [
        m.replace(str(MISSING), str(world.cluster.pk)) for m in missing.json()["cluster"]
    ]
    assert not ServicePool.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("role", ["guest", "developer", "admin"])
def test_member_cannot_write_into_another_cluster(clients, world, role):
    """A member of one cluster gets 404 on the writes of another cluster's pools, jobs and members."""
    client = clients[role]
    other = world.other
    cases = [
        ("PATCH", f"/api/v1/clusters/{other.pk}/", {"description": "x"}),
        ("DELETE", f"/api/v1/clusters/{other.pk}/", None),
        ("POST", f"/api/v1/clusters/{other.pk}/members/", {"username": "newcomer", "role": "admin"}),
        ("PATCH", f"/api/v1/clusters/{other.pk}/members/other-member/", {"role": "guest"}),
        ("DELETE", f"/api/v1/clusters/{other.pk}/members/other-member/", None),
        ("PATCH", f"/api/v1/pools/{world.other_pool.pk}/", {"max_size": 9}),
        ("DELETE", f"/api/v1/pools/{world.other_pool.pk}/", None),
        ("POST", f"/api/v1/pools/{world.other_pool.pk}/scale/", {"delta": 1}),
        ("POST", f"/api/v1/jobs/{world.other_job.pk}/cancel/", None),
    ]
    for method, url, body in cases:
        response = send(client, method, url, body)
        assert response.status_code == 404, (method, url, response.content)
    world.other_pool.refresh_from_db()
    world.other_job.refresh_from_db()
    assert (world.other_pool.max_size, world.other_pool.desired_size, world.other_job.status) == (5, 1, "pending")
    assert list(Membership.objects.filter(cluster=other).values_list("user__username", "role")) == [
        ("other-member", "admin")
    ]


def test_cluster_admin_cannot_move_a_pool_into_a_cluster_they_only_guest(clients, world, users):
    """An admin of one cluster who is only a guest of another cannot create a pool there (403, nothing created)."""
    MembershipFactory(cluster=world.other, user=users["admin"], role="guest")
    response = clients["admin"].post(
        "/api/v1/pools/",
        {"cluster": world.other.pk, "name": "smuggled", "templates": [world.template.pk], "max_size": 2},
        format="json",
    )
    assert response.status_code == 403
    assert not ServicePool.objects.filter(name="smuggled").exists()


@pytest.mark.parametrize("role", ["guest", "developer"])
def test_member_cannot_raise_own_role(clients, world, users, role):
    """A guest or developer cannot make themselves admin of their cluster."""
    response = clients[role].patch(
        f"/api/v1/clusters/{world.cluster.pk}/members/{users[role].username}/", {"role": "admin"}, format="json"
    )
    assert response.status_code == 403
    assert Membership.objects.get(cluster=world.cluster, user=users[role]).role == role


FILTER_PROBES = {
    # list URL with a filter naming an object of another cluster (or one that does not exist)
    "pools?cluster": ("/api/v1/pools/?cluster={}", "other"),
    "hosts?cluster": ("/api/v1/hosts/?cluster={}", "other"),
    "hosts?pool": ("/api/v1/hosts/?pool={}", "other_pool"),
    "jobs?pool": ("/api/v1/jobs/?pool={}", "other_pool"),
    "jobs?cluster": ("/api/v1/jobs/?cluster={}", "other"),
    "audit?cluster": ("/api/v1/audit/?cluster={}", "other"),
    # users other than oneself are hidden from non-administrators too
    "audit?user": ("/api/v1/audit/?user={}", "newcomer"),
}


@pytest.mark.parametrize("probe", FILTER_PROBES)
def test_list_filters_do_not_reveal_other_clusters(clients, world, probe):
    """Filtering a list by another cluster's object answers exactly as filtering by an id that does not exist."""
    template, attr = FILTER_PROBES[probe]
    client = clients["guest"]
    hidden = client.get(template.format(getattr(world, attr).pk))
    missing = client.get(template.format(MISSING))
    assert hidden.status_code == missing.status_code
    assert hidden.json() == missing.json()


@pytest.mark.parametrize("role", ["guest", "developer"])
def test_adding_members_tells_usernames_apart_only_to_those_who_may(clients, world, role):
    """A member who may not add members gets the same 403 for a free, an unknown and an existing member's name."""
    url = f"/api/v1/clusters/{world.cluster.pk}/members/"
    names = ("newcomer", "no-such-user", "extra-member")
    answers = [send(clients[role], "POST", url, {"username": name, "role": "guest"}) for name in names]
    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    admin = [send(clients["admin"], "POST", url, {"username": name, "role": "guest"}) for name in names]
    assert [answer.status_code for answer in admin] == [201, 400, 409]
    assert Membership.objects.filter(cluster=world.cluster, user__username="newcomer").count() == 1
