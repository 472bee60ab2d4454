"""Placement policy: account quotas, zone spread, and zones passed over after a capacity error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers import NodeSpec
from apps.providers.models import CloudAccount
from apps.provisioning.placement import plan_scale_out
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


def cloud_template(name: str, account: CloudAccount, **fields):
    """A template on a cloud account (its driver cannot tell capacity, so none is assumed limited)."""
    return TemplateFactory(name=name, provider=account, instance_type="t3.small", cpu=None, memory_gb=None, **fields)


@pytest.fixture
def aws():
    """An EC2 account; placement never calls it (capacity is not a provider call)."""
    return CloudAccount.objects.create(
        name="ec2",
        kind="aws",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        credentials={"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret"},
    )


def placed(plan) -> dict[tuple[str, str], int]:
    """(template, zone) → hosts placed there."""
    return {(p.template_name, p.zone): p.count for p in plan.placements}


def host(pool, template, zone: str, **fields) -> Host:
    """A host of pool on template in zone."""
    fields.setdefault("status", HostStatus.READY)
    return Host.objects.create(
        hostname=f"{pool.name}-{Host.objects.count()}",
        pool=pool,
        provider=template.provider,
        template=template,
        zone=zone,
        **fields,
    )


def test_account_quota_spans_its_templates(cluster, aws):
    """Two templates of one account share its max_hosts; the rest spills to the next account."""
    aws.max_hosts = 5
    aws.save()
    other = PhysicalProviderFactory()
    MachineFactory.create_batch(10, provider=other)
    first, second = cloud_template("a1", aws), cloud_template("a2", aws)
    pool = PoolFactory(cluster=cluster)
    for priority, template in enumerate((first, second, TemplateFactory(name="pm", provider=other))):
        with_template(pool, template, priority)
    host(pool, first, "", status=HostStatus.READY)

    plan = plan_scale_out(pool, 8)

    assert placed(plan) == {("a1", ""): 4, ("pm", ""): 4}
    assert plan.shortfall == 0
    assert any("account ec2 quota max_hosts=5 leaves 4" in note for note in plan.notes)
    assert any("account ec2 quota max_hosts=5 leaves 0" in note for note in plan.notes)


def test_hosts_spread_evenly_over_zones_counting_those_there(cluster, aws):
    """Zones fill toward equal counts, starting from the hosts each already has."""
    template = cloud_template("spread", aws, zones=["us-east-1a", "us-east-1b", "us-east-1c"])
    pool = with_template(PoolFactory(cluster=cluster), template)
    for _ in range(3):
        host(pool, template, "us-east-1a")

    plan = plan_scale_out(pool, 6)

    assert placed(plan) == {("spread", "us-east-1b"): 3, ("spread", "us-east-1c"): 3}
    plan = plan_scale_out(pool, 7)
    assert placed(plan) == {("spread", "us-east-1a"): 1, ("spread", "us-east-1b"): 3, ("spread", "us-east-1c"): 3}


def test_zone_spread_respects_physical_capacity_per_idc(cluster):
    """Physical machines are counted per IDC: a small IDC fills up and the others take the rest."""
    provider = PhysicalProviderFactory()
    MachineFactory.create_batch(1, provider=provider, idc="bj-1")
    MachineFactory.create_batch(5, provider=provider, idc="sh-2")
    template = TemplateFactory(provider=provider, zones=["bj-1", "sh-2"])
    pool = with_template(PoolFactory(cluster=cluster), template)

    plan = plan_scale_out(pool, 6)

    assert placed(plan) == {(template.name, "bj-1"): 1, (template.name, "sh-2"): 5}
    assert plan.shortfall == 0


def test_a_zone_without_capacity_is_passed_over_for_a_while(cluster, aws, settings):
    """After a capacity error in one zone, new hosts go to the others until the cool-down ends."""
    settings.DCP_CAPACITY_COOLDOWN = 300
    template = cloud_template("cool", aws, zones=["us-east-1a", "us-east-1b"])
    backup = cloud_template("backup", aws)
    pool = with_template(with_template(PoolFactory(cluster=cluster), template, 0), backup, 1)
    sold_out = host(
        pool,
        template,
        "us-east-1a",
        status=HostStatus.TERMINATED,
        failed_at=timezone.now() - timedelta(seconds=10),
        status_message="capacity: EC2 has no t3.small in us-east-1a",
    )

    plan = plan_scale_out(pool, 4)
    assert placed(plan) == {("cool", "us-east-1b"): 4}
    assert any("us-east-1a had no capacity lately" in note for note in plan.notes)

    Host.objects.filter(pk=sold_out.pk).update(failed_at=timezone.now() - timedelta(seconds=301))
    assert placed(plan_scale_out(pool, 4)) == {("cool", "us-east-1a"): 2, ("cool", "us-east-1b"): 2}


def test_a_template_whose_only_zone_has_no_capacity_spills_to_the_next(cluster, aws):
    """A template without zones cools as a whole: the next template takes the hosts."""
    template, backup = cloud_template("one", aws), cloud_template("two", aws)
    pool = with_template(with_template(PoolFactory(cluster=cluster), template, 0), backup, 1)
    host(pool, template, "", status=HostStatus.FAILED, failed_at=timezone.now(), status_message="capacity: no stock")

    assert placed(plan_scale_out(pool, 3)) == {("two", ""): 3}


def test_each_zone_uses_its_own_subnet(aws):
    """A zone given with its subnet (vSwitch, VPC subnet) creates hosts on that subnet; others on the template's."""
    template = cloud_template(
        "subnets", aws, subnet="subnet-default", zones=[{"zone": "us-east-1a", "subnet": "subnet-a"}, "us-east-1b"]
    )
    assert template.zone_choices() == ["us-east-1a", "us-east-1b"]
    assert NodeSpec.from_template(template, zone="us-east-1a").subnet == "subnet-a"
    assert NodeSpec.from_template(template, zone="us-east-1b").subnet == "subnet-default"
    assert NodeSpec.from_template(template).subnet == "subnet-default"


def test_a_zone_where_hosts_keep_failing_is_passed_over(cluster, aws):
    """The last three hosts to finish in a zone all failed (any reason): new hosts go to the other zone."""
    template = cloud_template("flaky", aws, zones=["us-east-1a", "us-east-1b"])
    pool = with_template(PoolFactory(cluster=cluster), template)
    now = timezone.now()
    host(pool, template, "us-east-1a", ready_at=now - timedelta(seconds=60))
    for seconds in (30, 20, 10):
        host(
            pool,
            template,
            "us-east-1a",
            status=HostStatus.TERMINATED,
            failed_at=now - timedelta(seconds=seconds),
            status_message="instance i-1 not running after 900s",
        )
    host(pool, template, "us-east-1b", ready_at=now)

    plan = plan_scale_out(pool, 2)
    assert placed(plan) == {("flaky", "us-east-1b"): 2}
    assert any("its last 3 hosts in zone us-east-1a failed" in note for note in plan.notes)

    # One host that became ready since breaks the streak.
    host(pool, template, "us-east-1a", ready_at=now + timedelta(seconds=1))
    assert placed(plan_scale_out(pool, 2)) == {("flaky", "us-east-1a"): 1, ("flaky", "us-east-1b"): 1}


def test_machines_taken_by_a_create_in_flight_are_not_counted_twice(cluster):
    """Another pool's batch holds its machines but its hosts are not recorded yet: they count once, not twice.

    26 machines, pool A's 12 allocated by its create call a moment ago (its hosts still show no machine):
    pool B scaled +12 now is placed whole, not 2 with a shortfall of 10.
    """
    from apps.providers.drivers import get_driver

    provider = PhysicalProviderFactory()
    MachineFactory.create_batch(26, provider=provider)
    template = TemplateFactory(provider=provider)
    first = with_template(PoolFactory(cluster=cluster, name="first", max_size=12), template)
    second = with_template(PoolFactory(cluster=cluster, name="second", max_size=12), template)
    second.max_size = 20
    second.save()
    for _ in range(12):
        host(first, template, "", status=HostStatus.CREATING, batch_token="first-batch")
    # Before A's create call: 26 free less A's 12 planned.
    assert plan_scale_out(second, 15).shortfall == 1

    get_driver(provider).create_nodes(
        NodeSpec.from_template(template), 12, client_token="first-batch", tags={}, first_attempt=True
    )
    # After it, before its hosts are recorded: 14 free, and A's hosts no longer planned on top.
    plan = plan_scale_out(second, 12)
    assert placed(plan) == {(template.name, ""): 12}
    assert plan.shortfall == 0
    assert plan_scale_out(second, 15).shortfall == 1
