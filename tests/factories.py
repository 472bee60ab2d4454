"""factory_boy factories for test data."""

from decimal import Decimal

import factory

from apps.accounts.models import Membership, User
from apps.core.choices import Role
from apps.inventory.models import Cluster, PhysicalMachine, PoolTemplate, ServicePool
from apps.providers.models import CloudAccount, MachineTemplate


class UserFactory(factory.django.DjangoModelFactory):
    """A user with password 'correct horse battery'."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        """Set and save the password."""
        self.set_password(extracted or "correct horse battery")
        if create:
            self.save(update_fields=["password"])


class ClusterFactory(factory.django.DjangoModelFactory):
    """A cluster."""

    class Meta:
        model = Cluster

    name = factory.Sequence(lambda n: f"cluster-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    """A membership."""

    class Meta:
        model = Membership

    cluster = factory.SubFactory(ClusterFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.GUEST


class PhysicalProviderFactory(factory.django.DjangoModelFactory):
    """A physical provider account."""

    class Meta:
        model = CloudAccount

    name = factory.Sequence(lambda n: f"idc-{n}")
    kind = "physical"
    region = "bj"


class MachineFactory(factory.django.DjangoModelFactory):
    """A free physical machine of class c32 (32 cores, 64 GB)."""

    class Meta:
        model = PhysicalMachine

    provider = factory.SubFactory(PhysicalProviderFactory)
    hostname = factory.Sequence(lambda n: f"pm{n:04d}.idc.test")
    ip = factory.Sequence(lambda n: f"10.20.{n // 250}.{n % 250 + 1}")
    cpu = 32
    memory_gb = Decimal("64")
    machine_class = "c32"
    idc = "bj-1"
    monthly_cost = Decimal("500")


class TemplateFactory(factory.django.DjangoModelFactory):
    """A template on a physical provider, class c32."""

    class Meta:
        model = MachineTemplate

    name = factory.Sequence(lambda n: f"tpl-{n}")
    provider = factory.SubFactory(PhysicalProviderFactory)
    instance_type = "c32"
    cpu = 32
    memory_gb = Decimal("64")


class PoolFactory(factory.django.DjangoModelFactory):
    """A pool with no templates; use with_template() to add one."""

    class Meta:
        model = ServicePool

    cluster = factory.SubFactory(ClusterFactory)
    name = factory.Sequence(lambda n: f"pool-{n}")
    min_size = 0
    max_size = 10
    desired_size = 0


def with_template(pool: ServicePool, template: MachineTemplate, priority: int = 0) -> ServicePool:
    """Add a template to a pool's placement order."""
    PoolTemplate.objects.create(pool=pool, template=template, priority=priority)
    return pool


def ready_hosts(pool: ServicePool, template: MachineTemplate, machines: list[PhysicalMachine]) -> list:
    """Ready hosts of pool placed on these machines, which become allocated (no engine run needed)."""
    from apps.inventory.choices import HostStatus, MachineState
    from apps.inventory.models import Host

    hosts = []
    for i, machine in enumerate(machines):
        machine.state = MachineState.ALLOCATED
        machine.save()
        hosts.append(
            Host.objects.create(
                hostname=f"{pool.name}-{i}",
                pool=pool,
                provider=template.provider,
                template=template,
                status=HostStatus.READY,
                instance_id=machine.hostname,
            )
        )
    return hosts
