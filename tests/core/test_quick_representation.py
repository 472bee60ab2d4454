"""QuickRepresentationMixin answers exactly what DRF's own to_representation answers.

The mixin reads each field's value by a plan made once per serializer (apps.core.api.serializers); DRF's
generic steps are the reference. Every list of the API is asked twice on the same rows, once as served and
once with the mixin handing every row to DRF's Serializer.to_representation, and the two answers must be
equal to the byte. The rows are test_lists' fleet (one of every listed thing) plus hosts whose costs are
known and fixed (launched and terminated, priced; a physical machine's host), so no figure moves between
the two requests.
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers

from apps.core.api import serializers as api_serializers
from apps.core.api.serializers import QuickRepresentationMixin
from apps.costs.kept import CHANGE_MARGIN
from apps.costs.models import Price
from apps.inventory.api import HostSerializer
from apps.inventory.models import Host
from apps.providers.models import CloudAccount
from tests.core.test_lists import LISTS, grow, path_of
from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


def _drf(self, instance):
    return serializers.Serializer.to_representation(self, instance)


def ended_hosts(cluster) -> list[Host]:
    """Two cloud hosts priced in EUR that ran for 36 hours and were terminated, and one never launched."""
    account = CloudAccount.objects.create(name=f"aws-q-{cluster.pk}", kind="aws", region="eu-west-1")
    template = TemplateFactory(provider=account, instance_type="q1.large")
    now = timezone.now()
    Price.objects.create(
        provider=template.provider,
        instance_type="q1.large",
        currency="EUR",
        hourly_price="0.125",
        valid_from=now - timedelta(days=10),
    )
    pool = with_template(PoolFactory(cluster=cluster), template)
    made = [
        Host.objects.create(
            pool=pool,
            provider=template.provider,
            template=template,
            hostname=f"ended-{i}",
            instance_id=f"i-ended-{i}",
            status="terminated",
            private_ip="10.0.0.9",
            cpu=4,
            memory_gb=Decimal("15.50"),
            launched_at=now - timedelta(hours=40),
            ready_at=now - timedelta(hours=39),
            terminated_at=now - timedelta(hours=4),
        )
        for i in range(2)
    ]
    made.append(
        Host.objects.create(pool=pool, provider=template.provider, template=template, hostname="never", status="failed")
    )
    return made


def answered(client, path: str, monkeypatch, generic: bool) -> str:
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(QuickRepresentationMixin, "to_representation", _drf)
        answer = client.get(path)
    assert answer.status_code == 200, (path, answer.content[:300])
    return answer.content.decode()


@pytest.mark.parametrize("prefix", sorted(LISTS))
@pytest.mark.parametrize("role", ["sysadmin", "admin"])
def test_every_list_answers_what_drf_answers(clients, cluster, prefix, role, monkeypatch):
    """The same bytes, the mixin's plan or DRF's steps, for every list and two kinds of user."""
    if role != "sysadmin" and prefix in ("orphans", "lockouts"):
        pytest.skip("system administrators only")
    grow(cluster, 2)
    ended_hosts(cluster)
    # The first answer keeps the pools' and clusters' cost figures (with their as_of) and both read them, once
    # no host is written within apps.costs.kept's margin for writes in flight.
    Host.objects.update(updated_at=timezone.now() - 2 * CHANGE_MARGIN)
    path = path_of(prefix, cluster)
    quick = answered(clients[role], path, monkeypatch, generic=False)
    assert json.loads(quick)["results"], f"{path} listed nothing: the comparison would prove nothing"
    assert answered(clients[role], path, monkeypatch, generic=True) == quick


def test_a_host_answers_what_drf_answers_in_another_time_zone(cluster):
    """Dates are shown in the time zone current when the plan is made, as DRF shows each one."""
    hosts = ended_hosts(cluster)
    rows = list(Host.objects.select_related("pool", "provider", "template").filter(pk__in=[h.pk for h in hosts]))
    with timezone.override("Asia/Shanghai"):
        quick = HostSerializer(rows, many=True, context={}).data
        child = HostSerializer(rows, many=True, context={}).child
        assert [_drf(child, row) for row in rows] == quick
    assert quick[0]["launched_at"].endswith("+08:00") and quick[0]["cost"] == "4.50"
    assert quick[0]["memory_gb"] == "15.50" and quick[2]["launched_at"] is None


def test_a_host_is_read_by_plan_not_by_drf_steps(cluster):
    """The fields of a host go the planned way (else the comparison above would test DRF against itself);
    only the nested drift object takes DRF's steps."""
    rows = ended_hosts(cluster)
    serializer = HostSerializer(rows, many=True, context={})
    assert len(serializer.data) == len(rows)
    steps = {name: how for name, how, *_ in serializer.child._quick_plan}
    assert [name for name, how in steps.items() if how == api_serializers._GENERIC] == ["drift"]
    assert steps["pool"] == steps["cost"] == api_serializers._DIRECT
    assert steps["cluster"] == steps["created_at"] == api_serializers._PATH
