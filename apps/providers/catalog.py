"""The providers' catalogs (sizes, images, zones), fetched once and cached.

Validating a template asks the provider what exists; asking on every save
would spend API calls (and rate-limit tokens) on the same answer. Entries
expire after DCP_CATALOG_TTL seconds, and an account's change starts afresh
(the key carries the time of the account's last change).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from apps.providers.drivers import Image, Location, Size, get_driver


def _key(account, part: str) -> str:
    return f"dcp:catalog:{account.pk}:{account.updated_at.timestamp() if account.updated_at else 0}:{part}"


def _cached(account, part: str, fetch):
    key = _key(account, part)
    found = cache.get(key)
    if found is None:
        found = fetch()
        cache.set(key, found, settings.DCP_CATALOG_TTL)
    return found


def sizes(account) -> dict[str, Size]:
    """Instance types (flavors, machine classes) by id."""
    return _cached(account, "sizes", lambda: {s.id: s for s in get_driver(account).list_sizes()})


def image(account, image_id: str) -> Image | None:
    """The image a template names (by id or name), or None if the provider has no such image."""
    found = _cached(account, f"image:{image_id}", lambda: get_driver(account).find_image(image_id) or False)
    return found or None


def locations(account) -> dict[str, Location]:
    """Zones (IDCs) by id."""
    return _cached(account, "locations", lambda: {loc.id: loc for loc in get_driver(account).list_locations()})
