"""A priced pool for the scaling tests: three ready hosts at 1.00 USD an hour, bounds 2..20."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.costs.models import Price
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from tests.factories import PoolFactory, with_template


@pytest.fixture
def pool(cluster):
    """A pool of three live hosts at 1.00 USD/h (desired 3, bounds 2..20)."""
    pool = PoolFactory(cluster=cluster, name="web", desired_size=3, min_size=2, max_size=20)
    account = CloudAccount.objects.create(name="aws-s", kind="aws", region="us-east-1")
    template = MachineTemplate.objects.create(name="s", provider=account, instance_type="s.one")
    with_template(pool, template)
    Price.objects.create(
        kind="aws",
        instance_type="s.one",
        currency="USD",
        hourly_price=Decimal("1"),
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    for i in range(3):
        Host.objects.create(
            hostname=f"web-{i}",
            pool=pool,
            provider=account,
            template=template,
            instance_id=f"i-web{i}",
            status=HostStatus.READY,
            launched_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
    return pool


def as_user(user) -> APIClient:
    """A signed-in client (tests move the clock, so no token that could expire)."""
    client = APIClient()
    client.force_authenticate(user)
    return client
