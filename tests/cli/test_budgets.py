"""dcp against an enforced budget: a refused scale-out exits 6 with the API's words; a dry run shows the figures."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.choices import Role
from apps.costs.models import Price
from apps.inventory.models import ServicePool
from apps.provisioning.models import Job
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def budget(demo):
    """A priced t3.micro (1 USD an hour) and an enforced budget of 1 USD a month on cluster demo."""
    Price.objects.create(
        kind="aws",
        region="us-east-1",
        instance_type="t3.micro",
        currency="USD",
        hourly_price=Decimal("1.00"),
        valid_from=timezone.now() - timedelta(days=1),
    )
    admin = UserFactory(username="demo-admin")
    MembershipFactory(cluster=demo.cluster, user=admin, role=Role.ADMIN)
    body = {"cluster": demo.cluster.pk, "name": "tight", "amount": "1.00", "currency": "USD", "enforce": True}
    answer = client_for(admin).post("/api/v1/budgets/", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_refused_scale_out_exits_6_and_changes_nothing(dcp, demo, budget):
    """Exit 6 naming the budget; the dry run's table shows it over; `budget list` shows it."""
    refused = dcp("pool", "scale", "demo/web", "--delta", "2")
    assert refused.returncode == 6, (refused.stdout, refused.stderr)
    assert "Error: This scale-out would take the forecast past budget tight" in refused.stderr
    assert ServicePool.objects.get(pk=demo.pool.pk).desired_size == 0 and not Job.objects.exists()

    plan = dcp("pool", "scale", "demo/web", "--delta", "2", "--dry-run")
    assert plan.returncode == 0 and "Budgets" in plan.stdout and "OVER" in plan.stdout
    assert [row["name"] for row in dcp.json("budget", "list", "--cluster", "demo")] == ["tight"]
