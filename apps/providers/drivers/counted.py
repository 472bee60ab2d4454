"""A driver wrapper that counts every failed provider call by account, operation and kind of error.

The counts are kept in the database (apps.monitoring.counters), since the calls are made by worker
processes and read by /metrics in a web process; a call that succeeds costs nothing extra. It sits
inside the rate limiter's wrapper (PacedDriver): a call DCP holds back to stay under the provider's
limits never reached the provider, and shows as a retried step instead (dcp_provider_retries_total).
"""

from __future__ import annotations

import functools
from typing import Any

from apps.providers.drivers.base import Driver, ProviderError

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
        try:
            return method(*args, **kwargs)
        except ProviderError as exc:
            from apps.monitoring import counters

            account = self._driver.account
            counters.increment(
                counters.PROVIDER_ERRORS, {"provider": account.pk, "operation": operation, "error": exc.label}
            )
            raise
