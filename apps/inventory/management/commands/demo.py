"""manage.py demo: load a demo cluster, pool, physical provider and machines; print admin credentials."""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.accounts import services
from apps.accounts.choices import TokenOrigin
from apps.accounts.models import Membership, User
from apps.core.choices import Role
from apps.costs.models import Price
from apps.costs.reports.demo import demo_report
from apps.inventory.models import Cluster, PhysicalMachine, PoolTemplate, ServicePool
from apps.providers.models import CloudAccount, MachineTemplate

MACHINE_CLASSES = (
    # class, count, cores, memory GB, monthly cost: old light boxes and core boxes.
    ("c12m16", 12, 12, 16, "180.00"),
    ("c32m64", 8, 32, 64, "520.00"),
)


class Command(BaseCommand):
    """Idempotent: running it again changes nothing that exists, but resets the admin password if asked."""

    help = "Load demo data (a physical provider with machines, a template, a cluster and a pool)."

    def add_arguments(self, parser):
        """--reset-password."""
        parser.add_argument("--reset-password", action="store_true", help="Give the admin user a new password.")

    @transaction.atomic
    def handle(self, reset_password, **options):
        """Create what is missing and print how to log in."""
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_superuser": True, "is_staff": True})
        password = None
        if created or reset_password:
            password = secrets.token_urlsafe(12)
            admin.set_password(password)
            admin.save()
        provider, _ = CloudAccount.objects.get_or_create(
            name="idc-physical", defaults={"kind": "physical", "region": "bj"}
        )
        for machine_class, count, cpu, memory, cost in MACHINE_CLASSES:
            for i in range(1, count + 1):
                PhysicalMachine.objects.get_or_create(
                    hostname=f"{machine_class}-{i:02d}.bj.idc",
                    defaults={
                        "provider": provider,
                        "ip": f"10.1{cpu}.0.{i}",
                        "cpu": cpu,
                        "memory_gb": Decimal(memory),
                        "machine_class": machine_class,
                        "idc": "bj-1",
                        "rack": f"r{i % 4 + 1}",
                        "monthly_cost": Decimal(cost),
                    },
                )
        light, _ = MachineTemplate.objects.get_or_create(
            name="physical-light",
            defaults={"provider": provider, "instance_type": "c12m16", "cpu": 12, "memory_gb": 16},
        )
        core, _ = MachineTemplate.objects.get_or_create(
            name="physical-core", defaults={"provider": provider, "instance_type": "c32m64", "cpu": 32, "memory_gb": 64}
        )
        cluster, _ = Cluster.objects.get_or_create(name="demo", defaults={"description": "Demo business line"})
        Membership.objects.get_or_create(cluster=cluster, user=admin, defaults={"role": Role.ADMIN})
        for name, template in (("web", light), ("core-api", core)):
            pool, made = ServicePool.objects.get_or_create(cluster=cluster, name=name, defaults={"max_size": 20})
            if made:
                PoolTemplate.objects.create(pool=pool, template=template, priority=0)
        self._clouds(cluster)
        self.stdout.write(
            "Demo data loaded: cluster 'demo' with pools 'web' (c12m16), 'core-api' (c32m64), "
            "'burst-openstack', 'burst-aliyun', 'burst-aws' (emulated clouds) and 'burst' "
            "(physical first, then OpenStack, then public cloud)."
        )
        self.stdout.write(demo_report(cluster, admin))
        if password:
            _, key = services.issue_token(admin, name="demo", origin=TokenOrigin.COMMAND)
            self.stdout.write(f"Admin login: admin / {password}")
            self.stdout.write(f"API token:   {key}")
        else:
            self.stdout.write("Admin user exists already (run 'manage.py demo --reset-password' for a new password).")

    def _clouds(self, cluster) -> None:
        """An account, a template and a pool on each emulated cloud, and a pool that spills across them all."""
        try:
            from emulators.demo import demo_clouds
        except ImportError:
            # The production image leaves the emulated clouds out: the demo then has physical machines only.
            self.stdout.write("Emulated clouds are not installed here: the demo has physical pools only.")
            return
        try:
            clouds = demo_clouds()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        order = [MachineTemplate.objects.get(name="physical-light")]
        for cloud in clouds:
            account, made = CloudAccount.objects.get_or_create(
                name=f"demo-{cloud.kind}",
                defaults={
                    "kind": cloud.kind,
                    "region": cloud.region,
                    "endpoint_url": cloud.url(),
                    "credentials": cloud.credentials,
                },
            )
            if not made and account.endpoint_url != cloud.url():
                # The emulated clouds moved (DCP_EMULATOR_PORT): the demo accounts follow them.
                account.endpoint_url = cloud.url()
                account.credentials = cloud.credentials
                account.save(update_fields=["endpoint_url", "credentials"])
            template, _ = MachineTemplate.objects.get_or_create(
                name=f"{cloud.kind}-small",
                defaults={"provider": account, "hourly_price": Decimal(cloud.hourly_price), **cloud.template},
            )
            order.append(template)
            # The catalog prices what the demo's hosts cost (EC2 Linux bills per second with a 60 s minimum).
            Price.objects.get_or_create(
                provider=account,
                instance_type=template.instance_type,
                defaults={
                    "currency": "USD",
                    "hourly_price": Decimal(cloud.hourly_price),
                    "minimum_seconds": 60 if cloud.kind == "aws" else 0,
                    "valid_from": timezone.now() - timedelta(days=365),
                    "source": "demo",
                },
            )
            pool, made = ServicePool.objects.get_or_create(
                cluster=cluster, name=f"burst-{cloud.kind}", defaults={"max_size": 50}
            )
            if made:
                PoolTemplate.objects.create(pool=pool, template=template, priority=0)
        pool, made = ServicePool.objects.get_or_create(cluster=cluster, name="burst", defaults={"max_size": 100})
        if made:
            for priority, template in enumerate(order):
                PoolTemplate.objects.create(pool=pool, template=template, priority=priority)
