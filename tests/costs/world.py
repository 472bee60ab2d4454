"""Building cost test data: accounts, templates, pools and host lives at exact instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from apps.costs.models import ExchangeRate, Price
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from tests.costs.reference import Life, Row
from tests.factories import ClusterFactory, PoolFactory

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(second: int) -> datetime:
    """An epoch second as an aware datetime."""
    return EPOCH + timedelta(seconds=second)


def epoch(moment: datetime) -> int:
    """An aware datetime as whole epoch seconds."""
    return int((moment - EPOCH).total_seconds())


def cents(amount: Fraction, places: int = 2) -> str:
    """An exact amount rounded half up to places, as DCP rounds money."""
    return str(_round(amount, places))


def _round(amount: Fraction, places: int) -> Decimal:
    scaled = amount * 10**places
    whole = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    return (Decimal(whole) / Decimal(10**places)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def hours(seconds: int) -> str:
    """Seconds as the API shows hours."""
    return str((Decimal(seconds) / 3600).quantize(Decimal("0.0001")))


class World:
    """Two clusters, pools, two AWS accounts and templates of two instance types, for the tests to fill."""

    def __init__(self):
        self.clusters = [ClusterFactory(), ClusterFactory()]
        self.pools = [PoolFactory(cluster=self.clusters[i % 2]) for i in range(3)]
        self.accounts = [CloudAccount.objects.create(name=f"aws-{i}", kind="aws", region="us-east-1") for i in range(2)]
        self.templates = {
            (a.pk, t): MachineTemplate.objects.create(name=f"{a.name}-{t}", provider=a, instance_type=t)
            for a in self.accounts
            for t in ("small", "large")
        }

    def host(self, pool: int, account: int, instance_type: str, zone: str, launched: int, ended: int | None) -> Life:
        """A host with this life; returns its reference Life."""
        pool_obj, acct = self.pools[pool], self.accounts[account]
        template = self.templates[(acct.pk, instance_type)]
        host = Host.objects.create(
            hostname=f"h{Host.objects.count()}",
            pool=pool_obj,
            provider=acct,
            template=template,
            zone=zone,
            instance_id=f"i-{Host.objects.count()}",
            status=HostStatus.TERMINATED if ended is not None else HostStatus.READY,
            launched_at=at(launched),
            terminated_at=at(ended) if ended is not None else None,
        )
        groups = {
            "cluster": pool_obj.cluster_id,
            "pool": pool_obj.pk,
            "provider": acct.pk,
            "template": template.pk,
            "kind": "aws",
            "zone": zone,
            "idc": zone,
            "instance_type": instance_type,
            "host": host.pk,
        }
        return Life(groups, acct.pk, "aws", instance_type, zone, launched, ended)

    def price(self, row: Row) -> Price:
        """Store a reference row in the catalog as it is (rows of one key are generated without overlap)."""
        return Price.objects.create(
            provider_id=row.provider,
            kind=row.kind if row.provider is None else "",
            instance_type=row.instance_type,
            zone=row.zone,
            currency=row.currency,
            hourly_price=row.price,
            billing="per_hour" if row.hourly else "per_second",
            minimum_seconds=row.minimum,
            valid_from=at(row.start),
            valid_to=at(row.end) if row.end is not None else None,
        )

    @staticmethod
    def rate(base: str, quote: str, rate: Decimal, day) -> ExchangeRate:
        """Store an exchange rate."""
        return ExchangeRate.objects.create(base=base, quote=quote, rate=rate, valid_from=day)
