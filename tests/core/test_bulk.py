"""bulk_set: different values for many rows in one UPDATE, each value typed as its column."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.bulk import bulk_set
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from tests.factories import PoolFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_in_one_statement(cluster):
    """Text, IP (and none), integer, decimal and time columns; rows not named keep theirs."""
    pool = PoolFactory(cluster=cluster)
    template = TemplateFactory()
    hosts = [
        Host.objects.create(
            hostname=f"bulk-{i}", pool=pool, provider=template.provider, template=template, status=HostStatus.CREATING
        )
        for i in range(4)
    ]
    for i, host in enumerate(hosts[:3]):
        host.instance_id = f"i-{i}"
        host.private_ip = f"10.0.0.{i + 1}" if i else None
        host.cpu = 2 * (i + 1)
        host.memory_gb = Decimal("3.75") * (i + 1)
        host.hourly_price = Decimal("0.012345")
    with CaptureQueriesContext(connection) as queries:
        bulk_set(hosts[:3], ["instance_id", "private_ip", "cpu", "memory_gb", "hourly_price"])
    assert len(queries) == 1
    rows = {h.hostname: h for h in Host.objects.filter(pool=pool)}
    assert rows["bulk-0"].instance_id == "i-0" and rows["bulk-0"].private_ip is None
    assert rows["bulk-2"].private_ip == "10.0.0.3" and rows["bulk-2"].cpu == 6
    assert rows["bulk-1"].memory_gb == Decimal("7.50") and rows["bulk-1"].hourly_price == Decimal("0.012345")
    assert rows["bulk-3"].instance_id == "" and rows["bulk-3"].cpu is None
    bulk_set([], ["cpu"])  # nothing to write: no statement


def test_values_are_parameters_not_sql(cluster):
    """A value that looks like SQL is stored as written."""
    pool = PoolFactory(cluster=cluster)
    template = TemplateFactory()
    host = Host.objects.create(hostname="quoted", pool=pool, provider=template.provider, template=template)
    host.instance_id = "x'); DROP TABLE inventory_host; --"
    bulk_set([host], ["instance_id"])
    assert Host.objects.get(pk=host.pk).instance_id == "x'); DROP TABLE inventory_host; --"
