"""Prices from the providers themselves, written into the catalog through ``catalog.record_found``.

Per provider account, by kind:

- **aws**: the Pricing API (``GetProducts``: on-demand, Linux, shared tenancy) for each
  region and instance type the account's templates use and each its earlier syncs priced;
  billed per second with a 60-second minimum. When the Pricing API cannot be reached (or fails,
  or throttles), or has no price for a type, Libcloud's own price data (``libcloud/data/pricing.json``) fills the gap:
  only for a key with no price in force, since that data is as old as the installed Libcloud.
- **aliyun**: ECS ``DescribePrice`` (pay-as-you-go, per hour) for the same pairs.
- **libcloud**: the driver's ``list_sizes()`` prices (Libcloud's data, or a custom pricing file),
  every size it lists.
- **openstack**: Nova has no prices. The rate card is the catalog itself: the prices system
  administrators enter for the account (or for every ``openstack`` account) per flavor, by hand
  or by CSV import. The sync lists Nova's flavors and reports those with no rate in force.
- **physical**: machines are priced by their own ``monthly_cost``; the sync writes nothing and
  reports the machines whose monthly_cost is 0 (unknown).

A source answering 0, or nothing, is an unknown price: nothing is written and it is reported.
A row set by hand (``manual`` or ``import``) is never replaced by a sync.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from libcloud.pricing import get_size_price

from apps.core.exceptions import ServiceError
from apps.costs import catalog
from apps.costs.choices import PriceSource, SyncOutcome
from apps.costs.currencies import is_currency
from apps.costs.models import PRICE_PLACES, Price
from apps.inventory.models import PhysicalMachine
from apps.providers.choices import ProviderKind
from apps.providers.drivers import ProviderError, Quote, get_driver
from apps.providers.drivers.aws import LINUX_BILLING
from apps.providers.models import CloudAccount

#: The ``source`` of rows each kind's sync writes.
SOURCES = {
    ProviderKind.AWS: f"{PriceSource.SYNC_PREFIX}aws",
    ProviderKind.ALIYUN: f"{PriceSource.SYNC_PREFIX}aliyun",
    ProviderKind.LIBCLOUD: f"{PriceSource.SYNC_PREFIX}libcloud",
}
#: The source of AWS prices taken from Libcloud's price data when the Pricing API gives none.
FALLBACK_SOURCE = f"{PriceSource.SYNC_PREFIX}libcloud-data"
#: Libcloud's price data for on-demand Linux EC2 instances: size → region → USD per hour.
LIBCLOUD_EC2 = "ec2_linux"
QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)


@dataclass
class Finding:
    """What the sync found for one instance type (or machine class) of one account."""

    outcome: str
    region: str
    instance_type: str
    price: Decimal | None = None
    currency: str = ""
    before: Decimal | None = None
    source: str = ""
    note: str = ""


@dataclass
class AccountSync:
    """One account's sync: a finding per type, or the error that stopped it."""

    account: str
    kind: str
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    retryable: bool = False

    def of(self, outcome: str) -> list[Finding]:
        """The findings with this outcome."""
        return [finding for finding in self.findings if finding.outcome == outcome]


def choose_accounts(names: list[str]) -> list[CloudAccount]:
    """The accounts named (by name, or by id), in id order; all of them when none are named.

    Raises LookupError naming every argument that is neither an account's name nor its id.
    """
    accounts = list(CloudAccount.objects.order_by("pk"))
    if not names:
        return accounts
    by_name = {account.name: account for account in accounts}
    by_id = {str(account.pk): account for account in accounts}
    unknown = [name for name in names if name not in by_name and name not in by_id]
    if unknown:
        raise LookupError(
            f"No provider account named or numbered {', '.join(unknown)}. Accounts: {', '.join(by_name) or 'none yet'}."
        )
    chosen = {(by_name.get(name) or by_id[name]).pk: by_name.get(name) or by_id[name] for name in names}
    return sorted(chosen.values(), key=lambda account: account.pk)


def sync_account(account: CloudAccount, now: datetime | None = None) -> AccountSync:
    """Sync one account's prices at now (default: this moment)."""
    now = now or timezone.now()
    result = AccountSync(account.name, account.kind)
    try:
        if account.kind == ProviderKind.PHYSICAL:
            result.findings = _machines(account)
        elif account.kind == ProviderKind.OPENSTACK:
            result.findings = _rate_card(account, now)
        else:
            result.findings = _record(account, _quotes(account), now)
    except ProviderError as exc:
        result.error, result.retryable = exc.message, exc.retryable
    return result


def wanted(account: CloudAccount) -> list[tuple[str, str]]:
    """(region, instance type) pairs to price: those the account's templates use, and those synced before."""
    pairs = [
        (region or account.region, instance_type)
        for region, instance_type in account.templates.values_list("region", "instance_type")
    ]
    earlier = Price.objects.filter(
        provider=account, zone="", valid_to__isnull=True, source__startswith=PriceSource.SYNC_PREFIX
    )
    pairs += list(earlier.values_list("region", "instance_type"))
    return sorted(set(pairs))


def _quotes(account: CloudAccount) -> list[tuple[Quote, str]]:
    """(quote, source) for the account's types; AWS gaps filled from Libcloud's data, marked by its source."""
    pairs = wanted(account)
    source = SOURCES[account.kind]
    if account.kind != ProviderKind.AWS:
        return [(quote, source) for quote in get_driver(account).quote_prices(pairs)]
    try:
        quotes = get_driver(account).quote_prices(pairs)
    except ProviderError as exc:
        # Unreachable, failing or throttling: the public prices are still in Libcloud's data. A refused
        # key or a bad request is the account's to fix, and is reported as such.
        if not exc.retryable:
            raise
        note = f"the Pricing API failed ({exc.message})"
        return [_fallback(Quote(region, instance_type, None, note=note)) for region, instance_type in pairs]
    # A price of 0 is the Pricing API's answer (an unknown price); only a type it has no answer for falls back.
    return [(quote, source) if quote.hourly_price is not None else _fallback(quote) for quote in quotes]


def _fallback(quote: Quote) -> tuple[Quote, str]:
    """Libcloud's price of an EC2 type for a quote the Pricing API left unknown (still unknown if it has none)."""
    try:
        listed = get_size_price("compute", LIBCLOUD_EC2, quote.instance_type, quote.region)
    except KeyError:
        listed = None
    if not listed:
        return Quote(quote.region, quote.instance_type, None, note=f"{quote.note}; Libcloud's data has none"), ""
    billing, minimum = LINUX_BILLING
    found = Quote(quote.region, quote.instance_type, Decimal(str(listed)), "USD", billing, minimum, quote.note)
    return found, FALLBACK_SOURCE


def _record(account: CloudAccount, quotes: list[tuple[Quote, str]], now: datetime) -> list[Finding]:
    """Write each priced quote through the catalog; unknown ones are reported, never written."""
    findings = []
    for quote, source in quotes:
        price, why = _usable(quote)
        if price is None:
            findings.append(Finding(SyncOutcome.UNKNOWN, quote.region, quote.instance_type, note=why))
            continue
        values = {
            "provider": account,
            "kind": "",
            "region": quote.region,
            "instance_type": quote.instance_type,
            "zone": "",
            "currency": quote.currency,
            "hourly_price": price,
            "billing": quote.billing,
            "minimum_seconds": quote.minimum_seconds,
            "source": source,
        }
        try:
            outcome, row, before = catalog.record_found(values, now, fill_only=source == FALLBACK_SOURCE)
        except ServiceError as exc:
            # A price set to start later than now leaves the sync no open-ended row to add; the person's
            # price is left as it is and the reason reported.
            note = f"{exc.message} (found {plain(price)} {quote.currency}/h)"
            findings.append(Finding(SyncOutcome.KEPT, quote.region, quote.instance_type, note=note))
            continue
        note = quote.note if outcome != SyncOutcome.KEPT else _kept_note(row, price, quote)
        findings.append(
            Finding(
                outcome,
                quote.region,
                quote.instance_type,
                row.hourly_price if outcome == SyncOutcome.KEPT else price,
                row.currency,
                before.hourly_price if before is not None and outcome == SyncOutcome.CHANGED else None,
                row.source,
                note,
            )
        )
    return findings


def _usable(quote: Quote) -> tuple[Decimal | None, str]:
    """The quote's price as the catalog keeps it, or None and why it is unknown (0, none, no currency)."""
    if quote.hourly_price is None or quote.hourly_price <= 0:
        return None, quote.note or "no price"
    price = quote.hourly_price.quantize(QUANTUM, rounding=ROUND_HALF_UP)
    if price <= 0:
        return None, f"{quote.hourly_price} is below the catalog's precision"
    if not is_currency(quote.currency):
        return None, f"the price's currency {quote.currency!r} is not an ISO 4217 code"
    return price, ""


def _kept_note(row: Price, found: Decimal, quote: Quote) -> str:
    """Why a price in force was left as it is."""
    if not row.source.startswith(PriceSource.SYNC_PREFIX):
        return f"set by hand ({row.source}), left as it is; the provider says {plain(found)} {quote.currency}/h"
    return f"{quote.note}; Libcloud's data ({plain(found)} {quote.currency}/h) never replaces a price in force"


def _rate_card(account: CloudAccount, now: datetime) -> list[Finding]:
    """OpenStack: each Nova flavor (and each template's) against the rates in the catalog for the account."""
    flavors = {size.id for size in get_driver(account).list_sizes()}
    pairs = set(wanted(account)) | {(account.region, flavor) for flavor in flavors}
    keys = [catalog.PriceKey(account.pk, account.kind, region, flavor, "") for region, flavor in sorted(pairs)]
    rows = catalog.candidates(keys, now, now + timedelta(seconds=1))
    findings = []
    for key in keys:
        row = catalog.in_force(key, rows, now)
        missing = "" if key.instance_type in flavors else "not a flavor Nova lists"
        if row is None:
            note = "; ".join(part for part in ("no rate in the catalog", missing) if part)
            findings.append(Finding(SyncOutcome.UNKNOWN, key.region, key.instance_type, note=note))
        else:
            findings.append(
                Finding(
                    SyncOutcome.RATED,
                    key.region,
                    key.instance_type,
                    row.hourly_price,
                    row.currency,
                    source=row.source,
                    note=missing,
                )
            )
    return findings


def _machines(account: CloudAccount) -> list[Finding]:
    """Physical: machines per class priced by their monthly_cost, and those without one (unknown)."""
    priced: dict[str, int] = defaultdict(int)
    unpriced: dict[str, list[str]] = defaultdict(list)
    machines = PhysicalMachine.objects.filter(provider=account).order_by("machine_class", "hostname")
    for machine_class, hostname, cost in machines.values_list("machine_class", "hostname", "monthly_cost"):
        if cost and cost > 0:
            priced[machine_class] += 1
        else:
            unpriced[machine_class].append(hostname)
    findings = [
        Finding(SyncOutcome.RATED, "", name, note=f"{count} machine(s) priced by their monthly_cost")
        for name, count in sorted(priced.items())
    ]
    findings += [
        Finding(SyncOutcome.UNKNOWN, "", name, note=f"no monthly_cost: {', '.join(hosts)}")
        for name, hosts in sorted(unpriced.items())
    ]
    return findings


def plain(amount: Decimal) -> str:
    """A price as people write it: no exponent, no trailing zeros (0.01040000 → 0.0104)."""
    return format(amount.normalize(), "f")


def describe(result: AccountSync) -> str:
    """One account's sync as lines a person reads: counts, then a line per type."""
    if result.error:
        return f"{result.account} ({result.kind}): not synced: {result.error}"
    counts = ", ".join(f"{len(result.of(outcome))} {outcome}" for outcome in SyncOutcome.values())
    lines = [f"{result.account} ({result.kind}): {counts}"]
    for finding in result.findings:
        where = " ".join(part for part in (finding.region, finding.instance_type) if part)
        what = ""
        if finding.price is not None:
            was = f"{plain(finding.before)} -> " if finding.before is not None else ""
            source = f" ({finding.source})" if finding.source else ""
            what = f" {was}{plain(finding.price)} {finding.currency}/h{source}"
        note = f": {finding.note}" if finding.note else ""
        lines.append(f"  {finding.outcome}: {where}{what}{note}")
    return "\n".join(lines)
