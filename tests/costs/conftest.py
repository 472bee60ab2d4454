"""Fixtures shared by the cost tests."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.costs.models import Price
from apps.providers.models import CloudAccount, MachineTemplate


@pytest.fixture
def priced(db):
    """An AWS template whose type costs 0.36 USD an hour since last year."""
    account = CloudAccount.objects.create(name="aws-look", kind="aws", region="us-east-1")
    template = MachineTemplate.objects.create(name="look", provider=account, instance_type="m5.large", max_hosts=100)
    Price.objects.create(
        provider=account,
        instance_type="m5.large",
        currency="USD",
        hourly_price=Decimal("0.36"),
        valid_from=timezone.now() - timedelta(days=400),
    )
    return template
