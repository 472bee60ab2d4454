"""A driver wrapper that counts every provider call by account and operation, and the failed ones by kind
of error (throttled answers also on their own).

The counts are kept in the database (apps.monitoring.counters), since the calls are made by worker
processes and read by /metrics in a web process: one upsert per call, next to a call over the network.
It sits inside the rate limiter's wrapper (PacedDriver): a call DCP holds back to stay under the
provider's limits never reached the provider, and shows in the rate limiter's own metrics instead.
"""

from __future__ import annotations

import functools
from typing import Any

from apps.providers.drivers.base import Driver, ProviderError, ThrottledError

#: The driver methods that call the provider, counted under their own names.
OPERATIONS = frozenset(
    {
        "create_nodes",
        "get_nodes",
        "get_node",
        "list_nodes",
        "tag_nodes",
        "destroy_nodes",
        "list_sizes",
        "list_images",
        "list_locations",
        "find_image",
        "check_credentials",
        "import_key_pair",
    }
)


class CountedDriver:
    """Delegates everything to a driver; a provider call that raises ProviderError adds one to its count."""

    def __init__(self, driver: Driver):
        self._driver = driver

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._driver, name)
        if name not in OPERATIONS:
            return value
        return functools.partial(self._call, name, value)

    def _call(self, operation: str, method, *args, **kwargs):
        from apps.monitoring import counters

        labels = {"provider": self._driver.account.pk, "operation": operation}
        counted = [(counters.PROVIDER_CALLS, labels, 1)]
        try:
            return method(*args, **kwargs)
        except ProviderError as exc:
            counted.append((counters.PROVIDER_ERRORS, {**labels, "error": exc.label}, 1))
            if isinstance(exc, ThrottledError):
                counted.append((counters.PROVIDER_THROTTLES, labels, 1))
            raise
        finally:
            counters.add(counted)
