"""Choice sets of the costs app: billing rules, catalog sources, cost dimensions, series steps."""

from apps.core.choices import ChoiceSet


class Billing(ChoiceSet):
    """How a provider bills a host's life (see apps.costs.accrual for the exact rules)."""

    PER_SECOND = "per_second"
    PER_HOUR = "per_hour"
    CHOICES = ((PER_SECOND, "Per second (with an optional minimum)"), (PER_HOUR, "Per started hour"))


class PriceSource(ChoiceSet):
    """Where a catalog row came from. A provider sync names itself ``sync:<what>`` (e.g. ``sync:aws-pricing``)."""

    MANUAL = "manual"
    IMPORT = "import"
    SYNC_PREFIX = "sync:"
    CHOICES = ((MANUAL, "Entered by hand"), (IMPORT, "Bulk import"))


class SyncOutcome(ChoiceSet):
    """What a price sync did with one instance type of one account (see apps.costs.sync)."""

    CONFIRMED = "confirmed"
    CHANGED = "changed"
    ADDED = "added"
    UNKNOWN = "unknown"
    KEPT = "kept"
    RATED = "rated"
    CHOICES = (
        (CONFIRMED, "Confirmed: the provider's price is the one in force"),
        (CHANGED, "Changed: a new price from now on, the old one closed"),
        (ADDED, "Added: the first price of its key"),
        (UNKNOWN, "Unknown: no price from the source (or a price of 0), nothing written"),
        (KEPT, "Kept: a price set by hand, or older fallback data, left as it is"),
        (RATED, "Rated: priced by DCP's own rate card or inventory, not by the provider"),
    )


class Dimension(ChoiceSet):
    """What costs can be grouped by (``group_by``)."""

    CLUSTER = "cluster"
    POOL = "pool"
    PROVIDER = "provider"
    TEMPLATE = "template"
    KIND = "kind"
    ZONE = "zone"
    IDC = "idc"
    INSTANCE_TYPE = "instance_type"
    CHOICES = (
        (CLUSTER, "Cluster"),
        (POOL, "Pool"),
        (PROVIDER, "Provider account"),
        (TEMPLATE, "Template"),
        (KIND, "Provider kind"),
        (ZONE, "Zone"),
        (IDC, "Data centre"),
        (INSTANCE_TYPE, "Instance type"),
    )


class Step(ChoiceSet):
    """Buckets of a cost time series, calendar-aligned in DCP_TIME_ZONE (weeks start on Monday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    CHOICES = ((DAY, "Day"), (WEEK, "Week"), (MONTH, "Month"))
