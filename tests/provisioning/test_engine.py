"""The engine step by step, without a worker: each queued step is run by hand, in order.

These tests call the reconciler and the host steps directly, so every
intermediate state can be checked; the end-to-end tests run the same code in
a real worker process.
"""

from decimal import Decimal

import pytest

from apps.core.exceptions import Conflict, ServiceError
from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine
from apps.providers.drivers import NodeSpec, get_driver
from apps.provisioning import reconciler, services, transitions, work
from apps.provisioning.choices import JobStatus
from apps.provisioning.models import Job
from apps.provisioning.placement import plan_scale_out, scale_in_order
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    """A physical provider with 6 c32 machines and 4 c12 machines."""
    provider = PhysicalProviderFactory()
    MachineFactory.create_batch(6, provider=provider, machine_class="c32", cpu=32)
    MachineFactory.create_batch(4, provider=provider, machine_class="c12", cpu=12, memory_gb=Decimal("16"))
    return provider


def run_engine(pool) -> None:
    """Run reconcile and every host step it leads to until nothing moves (what a worker would do)."""
    for _ in range(20):
        reconciler.reconcile(pool.pk)
        hosts = Host.objects.filter(pool=pool)
        moved = False
        for token in set(
            hosts.filter(status__in=(HostStatus.PENDING, HostStatus.CREATING)).values_list("batch_token", flat=True)
        ):
            work.create_batch(token)
            moved = True
        initializing = list(hosts.filter(status=HostStatus.INITIALIZING).values_list("pk", flat=True))
        if initializing:
            work.initialize(initializing)
            moved = True
        terminating = list(hosts.filter(status=HostStatus.TERMINATING).values_list("pk", flat=True))
        if terminating:
            work.terminate(terminating)
            moved = True
        if not moved:
            reconciler.reconcile(pool.pk)
            return
    pytest.fail("engine did not settle")


def test_placement_spills_to_next_template_at_quota(provider, cluster, sysadmin):
    """The first template's quota caps it; the rest goes to the next template."""
    first = TemplateFactory(provider=provider, instance_type="c32", max_hosts=2)
    second = TemplateFactory(provider=provider, instance_type="c12", cpu=12, memory_gb=16)
    pool = with_template(with_template(PoolFactory(cluster=cluster), first, 0), second, 1)
    plan = plan_scale_out(pool, 5)
    assert [(p.template_name, p.count) for p in plan.placements] == [(first.name, 2), (second.name, 3)]
    assert plan.shortfall == 0
    assert "quota max_hosts=2" in plan.notes[0]


def test_placement_counts_capacity_and_reports_shortfall(provider, cluster):
    """More hosts than free machines of the class: a shortfall with the reason."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    plan = plan_scale_out(pool, 9)
    assert plan.placed == 6 and plan.shortfall == 3
    assert "only 6 free 'c32'" in plan.notes[0]


def test_class_is_never_substituted(provider):
    """A c32 spec never gets a c12 box, and a spec asking for more cores than a class has gets none."""
    driver = get_driver(provider)
    assert driver.available_capacity(NodeSpec(instance_type="c32", cpu=32)) == 6
    assert driver.available_capacity(NodeSpec(instance_type="c12", cpu=32)) == 0
    nodes = driver.create_nodes(NodeSpec(instance_type="c32"), 6, client_token="t1", tags={"dcp": "1"})
    assert {n.instance_type for n in nodes} == {"c32"}
    with pytest.raises(Exception, match="only 0 free machine"):
        driver.create_nodes(NodeSpec(instance_type="c32"), 1, client_token="t2", tags={})


def test_driver_contract_basics(provider):
    """Same token twice allocates nothing new; destroy twice is fine; list by tags finds ours."""
    driver = get_driver(provider)
    spec = NodeSpec(instance_type="c32")
    first = driver.create_nodes(spec, 2, client_token="tok", tags={"dcp-pool": "7"})
    again = driver.create_nodes(spec, 2, client_token="tok", tags={"dcp-pool": "7"})
    assert sorted(n.id for n in first) == sorted(n.id for n in again)
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 2
    assert sorted(n.id for n in driver.list_nodes({"dcp-pool": "7"})) == sorted(n.id for n in first)
    assert driver.list_nodes({"dcp-pool": "8"}) == []
    assert len(driver.get_nodes([n.id for n in first] + ["no-such-host"])) == 2
    driver.destroy_nodes([n.id for n in first])
    driver.destroy_nodes([n.id for n in first])
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 0
    assert {s.id for s in driver.list_sizes()} == {"c12", "c32"}


def test_scale_out_and_in_step_by_step(provider, cluster, sysadmin):
    """+6 then -3: statuses move in order, the scale-in removes the most expensive first."""
    template = TemplateFactory(provider=provider, instance_type="c32")
    pool = with_template(PoolFactory(cluster=cluster), template)
    PhysicalMachine.objects.filter(machine_class="c32").update(monthly_cost=Decimal("100"))
    PhysicalMachine.objects.filter(pk=PhysicalMachine.objects.filter(machine_class="c32").first().pk).update(
        monthly_cost=Decimal("900")
    )
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=6)).job
    reconciler.reconcile(pool.pk)
    assert set(Host.objects.filter(pool=pool).values_list("status", flat=True)) == {HostStatus.PENDING}
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    run_engine(pool)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 6
    expensive = Host.objects.filter(pool=pool).order_by("-hourly_price").first()
    assert expensive.hourly_price > Host.objects.filter(pool=pool).order_by("hourly_price").first().hourly_price
    assert list(scale_in_order(pool))[0] == expensive

    out = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=-3)).job
    run_engine(pool)
    out.refresh_from_db()
    assert out.status == JobStatus.SUCCEEDED
    expensive.refresh_from_db()
    assert expensive.status == HostStatus.TERMINATED and expensive.terminated_at is not None
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 3


def test_remove_named_hosts(provider, cluster, sysadmin):
    """{"hosts": [...]} removes exactly those hosts."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=3))
    run_engine(pool)
    victim = Host.objects.filter(pool=pool).order_by("pk").first()
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(hosts=(victim.pk,))).job
    run_engine(pool)
    victim.refresh_from_db()
    job.refresh_from_db()
    assert victim.status == HostStatus.TERMINATED and victim.removal_job == job
    assert job.status == JobStatus.SUCCEEDED
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 2


def test_cancel_scale_out_returns_pool_to_consistent_size(provider, cluster, sysadmin):
    """Cancelling before any host is ready: desired drops back, pending hosts are terminated."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=3)).job
    reconciler.reconcile(pool.pk)
    services.cancel(job.pk, sysadmin)
    run_engine(pool)
    pool.refresh_from_db()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert pool.desired_size == 0
    assert not Host.objects.filter(pool=pool, status__in=HostStatus.ACTIVE).exists()
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 0
    with pytest.raises(Conflict):
        services.cancel(job.pk, sysadmin)


def test_superseded_scale_out_ends(provider, cluster, sysadmin):
    """+3 then -3 before anything was created: both jobs end, nothing is left running."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    grow = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=3)).job
    reconciler.reconcile(pool.pk)
    shrink = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=-3)).job
    run_engine(pool)
    grow.refresh_from_db()
    shrink.refresh_from_db()
    assert grow.status not in JobStatus.ACTIVE and shrink.status not in JobStatus.ACTIVE
    assert not Host.objects.filter(pool=pool, status__in=HostStatus.ACTIVE).exists()
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 0


def test_host_removed_while_its_machine_is_allocated_is_freed(provider, cluster, sysadmin):
    """A host terminated before its create call returned: the machine it got is freed, not leaked."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=1))
    reconciler.reconcile(pool.pk)
    host = Host.objects.get(pool=pool)
    transitions.move_host(host, HostStatus.TERMINATING)
    work.terminate([host.pk])
    work.create_batch(host.batch_token)  # the create step, arriving late
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 0


def test_create_step_twice_allocates_once(provider, cluster, sysadmin):
    """Running a batch's create step twice (a retried task) makes no second allocation."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=2))
    reconciler.reconcile(pool.pk)
    token = Host.objects.filter(pool=pool).first().batch_token
    Host.objects.filter(pool=pool).update(status=HostStatus.CREATING)
    get_driver(provider).create_nodes(NodeSpec(instance_type="c32"), 2, client_token=token, tags={})
    work.create_batch(token)
    work.create_batch(token)
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 2
    assert len(set(Host.objects.filter(pool=pool).values_list("instance_id", flat=True))) == 2


def test_illegal_transition_refused(provider, cluster):
    """A terminated host cannot come back."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    host = Host.objects.create(
        pool=pool, provider=provider, template=pool.ordered_templates()[0], hostname="h", status=HostStatus.TERMINATED
    )
    with pytest.raises(transitions.IllegalTransition):
        transitions.move_host(host, HostStatus.READY)


def test_pool_creation_fills_min_size(provider, cluster, sysadmin):
    """A pool created with min_size 2 gets a job for 2 hosts, and they are made."""
    from tests.conftest import client_for

    template = TemplateFactory(provider=provider, instance_type="c32")
    client = client_for(sysadmin)
    answer = client.post(
        "/api/v1/pools/",
        {"cluster": cluster.pk, "name": "floor", "min_size": 2, "max_size": 4, "templates": [template.pk]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["desired_size"] == 2
    job = Job.objects.get(pool_id=answer.json()["id"])
    assert job.delta == 2 and job.desired_before == 0
    from apps.inventory.models import ServicePool

    run_engine(ServicePool.objects.get(pk=answer.json()["id"]))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED


def test_bounds_are_checked_under_the_lock(provider, cluster, sysadmin):
    """A scale past max_size or below min_size is refused and changes nothing."""
    pool = with_template(
        PoolFactory(cluster=cluster, max_size=3), TemplateFactory(provider=provider, instance_type="c32")
    )
    with pytest.raises(ServiceError, match="max_size 3"):
        services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=4))
    with pytest.raises(ServiceError, match="min_size 0"):
        services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=-1))
    pool.refresh_from_db()
    assert pool.desired_size == 0 and not Job.objects.exists()


def test_dry_run_changes_nothing(provider, cluster, sysadmin):
    """dry_run answers the plan and records nothing."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    result = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=2), dry=True)
    assert result.job is None
    assert result.dry_run["plan"]["placements"][0]["count"] == 2
    pool.refresh_from_db()
    assert pool.desired_size == 0 and not Job.objects.exists()


def test_fatal_provider_error_fails_the_job_without_retrying(provider, cluster, sysadmin):
    """An auth error on create: hosts fail once, no replacements are made, the job fails saying why."""
    from apps.providers.drivers import AuthError

    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=2)).job
    reconciler.reconcile(pool.pk)
    token = Host.objects.filter(pool=pool).first().batch_token
    Host.objects.filter(pool=pool).update(status=HostStatus.CREATING)
    work.fail_batch(token, AuthError("the access key was refused"))
    run_engine(pool)
    job.refresh_from_db()
    pool.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "the access key was refused" in job.message
    assert Host.objects.filter(pool=pool).count() == 2, "no replacement hosts were made"
    assert pool.desired_size == 0
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 0


def test_capacity_error_on_create_is_replaced_elsewhere(provider, cluster, sysadmin):
    """A capacity error from the provider (lost race) fails the batch; the next pass places the hosts again."""
    from apps.providers.drivers import CapacityError

    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=2)).job
    reconciler.reconcile(pool.pk)
    token = Host.objects.filter(pool=pool).first().batch_token
    Host.objects.filter(pool=pool).update(status=HostStatus.CREATING)
    work.fail_batch(token, CapacityError("sold out a moment ago"))
    run_engine(pool)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 2
    assert Host.objects.filter(pool=pool, failed_at__isnull=False).count() == 2


# ---------------------------------------------------------------- job figures, as the API shows them


def _job_as_shown(sysadmin, job) -> dict:
    """The job as GET /api/v1/jobs/{id}/ answers it."""
    from tests.conftest import client_for

    answer = client_for(sysadmin).get(f"/api/v1/jobs/{job.pk}/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_scale_in_job_counts_removed_hosts_not_ready_ones(provider, cluster, sysadmin):
    """A scale-in of 3 reports 3 hosts removed and none ready: its hosts were terminated, not made ready."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider, instance_type="c32"))
    services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=5))
    run_engine(pool)
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=-3)).job
    run_engine(pool)
    shown = _job_as_shown(sysadmin, job)
    assert shown["status"] == JobStatus.SUCCEEDED
    assert shown["progress"] == {"total": 3, "ready": 0, "removed": 3, "failed": 0, "drifted": 0}


def test_failed_job_counts_and_explains_its_failures(provider, cluster, sysadmin):
    """A scale-out no machine can serve fails with every host it asked for counted failed, the reason and its plan."""
    template = TemplateFactory(provider=provider, name="tpl-big", instance_type="c32")
    pool = with_template(PoolFactory(cluster=cluster, max_size=20), template)
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=8)).job
    PhysicalMachine.objects.filter(machine_class="c32").update(state=MachineState.MAINTENANCE)
    run_engine(pool)
    shown = _job_as_shown(sysadmin, job)
    assert shown["status"] == JobStatus.FAILED
    assert shown["progress"] == {"total": 8, "ready": 0, "removed": 0, "failed": 8, "drifted": 0}
    assert shown["message"].startswith("0 of 8 hosts ready; ")
    assert "tpl-big" in shown["message"] and "free" in shown["message"]
    assert [plan["shortfall"] for plan in shown["plan"]] == [8]
    assert shown["plan"][0]["placements"] == [] and shown["plan"][0]["notes"]


def test_partial_job_counts_the_hosts_it_did_not_get(provider, cluster, sysadmin):
    """+8 with 6 free machines: 6 ready, 2 counted failed, and the message says 6 of 8 and why."""
    pool = with_template(PoolFactory(cluster=cluster, max_size=20), TemplateFactory(provider=provider))
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=8)).job
    run_engine(pool)
    shown = _job_as_shown(sysadmin, job)
    assert shown["status"] == JobStatus.PARTIAL
    assert shown["progress"] == {"total": 8, "ready": 6, "removed": 0, "failed": 2, "drifted": 0}
    assert shown["message"].startswith("6 of 8 hosts ready; ")
    assert shown["plan"][0]["shortfall"] == 2


def test_job_list_is_newest_first_without_timelines(provider, cluster, sysadmin):
    """The job list comes newest first, ties broken by id, and leaves out events and hosts (the detail has them)."""
    from tests.conftest import client_for

    pool = with_template(PoolFactory(cluster=cluster, max_size=20), TemplateFactory(provider=provider))
    made = [services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=1)).job for _ in range(3)]
    Job.objects.filter(pk__in=[made[1].pk, made[2].pk]).update(created_at=made[0].created_at)
    listed = client_for(sysadmin).get(f"/api/v1/jobs/?pool={pool.pk}").json()["results"]
    assert [job["id"] for job in listed] == sorted((job.pk for job in made), reverse=True)
    assert not {"events", "hosts"} & set(listed[0])
    assert {"events", "hosts"} <= set(_job_as_shown(sysadmin, made[0]))


def test_removing_a_host_not_in_an_empty_pool_says_so(provider, cluster, sysadmin):
    """{"hosts": [id]} on an empty pool names the id that is not the pool's, not a desired_size of -1."""
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider))
    with pytest.raises(ServiceError) as refused:
        services.scale(pool.pk, sysadmin, services.ScaleRequest(hosts=(999999,)))
    assert refused.value.field == "hosts"
    assert "999999" in refused.value.message and "no live host" in refused.value.message
    assert "desired_size" not in refused.value.message
