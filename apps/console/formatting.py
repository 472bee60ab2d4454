"""Times, figures and money as the console shows them: in the reader's language, times with their time zone.

Formats come from dcp/formats/<language>/formats.py. CSV exports do not use
these: they keep machine-readable values.
"""

from decimal import Decimal
from functools import lru_cache

from django.utils import formats
from django.utils.timezone import get_current_timezone_name, localtime
from django.utils.translation import get_language


def when(value) -> str:
    """A date and time in the active language's DATETIME_FORMAT, in the console's time zone, which it names."""
    if value is None or value == "":
        return ""
    if hasattr(value, "hour"):
        # The formats show seconds at most: one formatting per second, language and time zone serves the rows
        # of a batch, all made within the same second (Django's formatting costs about 60 µs a time).
        local = localtime(value) if value.tzinfo else value
        return _formatted(local.replace(microsecond=0), get_language(), get_current_timezone_name())
    return formats.date_format(value, "DATE_FORMAT")


@lru_cache(maxsize=4096)
def _formatted(moment, language: str, zone: str) -> str:
    return formats.date_format(moment, "DATETIME_FORMAT")


def clock(value) -> str:
    """A time of day to the millisecond, with the time zone (a job's timeline, where seconds matter)."""
    if value is None:
        return ""
    local = localtime(value)
    return f"{local:%H:%M:%S}.{local.microsecond // 1000:03d} {formats.date_format(local, 'T')}"


def number(value) -> str:
    """A figure with the active language's separators (grouped thousands); empty for None."""
    if value is None or value == "":
        return ""
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def money(amount, currency: str) -> str:
    """An amount with its currency code, e.g. ``1,234.50 USD``; unknown (None) stays unknown, never 0."""
    if amount is None or amount == "":
        return "–"
    return f"{number(Decimal(str(amount)))} {currency or ''}".strip()
