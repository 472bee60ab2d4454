"""visible_with() gives restrict()'s own answers, asked in one statement.

Every kind of user (each cluster role, a pool administrator, a pool administrator no longer a member, an
outsider, a deactivated user, a system administrator) is asked about a pool of their cluster and one of
another: the flags must equal what restrict() says check by check, and only pools restrict() lets them
view come back at all.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import PoolAdmin
from apps.core.choices import Action, Role
from apps.core.querysets import visible_with
from apps.inventory.models import Cluster, ServicePool
from apps.providers.models import CloudAccount
from tests.factories import ClusterFactory, MembershipFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

CHECKS = {
    "scale": (ServicePool, Action.SCALE, "pk"),
    "edit": (ServicePool, Action.CHANGE, "pk"),
    "operate": (ServicePool, Action.OPERATE, "pk"),
    "edit_cluster": (Cluster, Action.CHANGE, "cluster_id"),
    "edit_account": (CloudAccount, Action.CHANGE, "pk"),  # a global model: system administrators only
}


def people(cluster, pool):
    """Users of every kind, by name."""
    found = {role: UserFactory(username=f"{role}-u") for role in Role.values()}
    for role, user in found.items():
        MembershipFactory(cluster=cluster, user=user, role=role)
    found["pool-admin"] = UserFactory(username="pooladmin-u")
    MembershipFactory(cluster=cluster, user=found["pool-admin"], role=Role.GUEST)
    PoolAdmin.objects.create(pool=pool, user=found["pool-admin"])
    found["former-pool-admin"] = UserFactory(username="former-u")
    PoolAdmin.objects.create(pool=pool, user=found["former-pool-admin"])  # no membership: gives nothing
    found["outsider"] = UserFactory(username="outsider-u")
    found["inactive"] = UserFactory(username="inactive-u", is_active=False)
    MembershipFactory(cluster=cluster, user=found["inactive"], role=Role.ADMIN)
    found["sysadmin"] = UserFactory(username="sys-u", is_superuser=True)
    return found


def test_flags_equal_restrict_check_by_check():
    cluster = ClusterFactory()
    pool, other = PoolFactory(cluster=cluster), PoolFactory(cluster=ClusterFactory())
    for who, user in people(cluster, pool).items():
        shown = {p.pk: p for p in visible_with(ServicePool.objects.all(), user, **CHECKS)}
        assert set(shown) == set(ServicePool.objects.restrict(user).values_list("pk", flat=True)), who
        for candidate in (pool, other):
            if candidate.pk not in shown:
                continue
            for name, (model, action, field) in CHECKS.items():
                key = getattr(candidate, field)
                expected = model.objects.restrict(user, action).filter(pk=key).exists()
                assert getattr(shown[candidate.pk], f"may_{name}") is expected, (who, candidate, name)


def test_a_pool_administrator_may_scale_and_operate_only_their_pool():
    cluster = ClusterFactory()
    pool, sibling = PoolFactory(cluster=cluster), PoolFactory(cluster=cluster)
    user = people(cluster, pool)["pool-admin"]
    found = {p.pk: p for p in visible_with(ServicePool.objects.all(), user, **CHECKS)}
    assert (found[pool.pk].may_scale, found[pool.pk].may_operate, found[pool.pk].may_edit) == (True, True, False)
    assert (found[sibling.pk].may_scale, found[sibling.pk].may_operate) == (False, False)


def test_one_statement_after_the_administered_pools():
    cluster = ClusterFactory()
    pool = PoolFactory(cluster=cluster)
    user = people(cluster, pool)["developer"]
    with CaptureQueriesContext(connection) as queries:
        list(visible_with(ServicePool.objects.filter(pk=pool.pk), user, **CHECKS))
    assert len(queries) == 2, [q["sql"] for q in queries]
