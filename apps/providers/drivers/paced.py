"""A driver wrapper that takes rate-limit tokens before every provider call."""

from __future__ import annotations

from apps.providers.drivers.base import Driver, Image, Location, Node, NodeSpec, Quote, Size
from apps.providers.ratelimit import pace


class PacedDriver(Driver):
    """Delegates to a driver after pacing each call (see apps.providers.ratelimit).

    Creates and destroys also take one "resource" token per instance, as EC2
    counts them; the other calls take one request token each.
    """

    def __init__(self, driver: Driver):
        super().__init__(driver.account)
        self.driver = driver
        self.kind = driver.kind
        self.max_batch = driver.max_batch
        self.cheap_get_node = driver.cheap_get_node

    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """Paced create."""
        pace(self.account, "create", count)
        return self.driver.create_nodes(spec, count, client_token=client_token, tags=tags, first_attempt=first_attempt)

    def get_nodes(self, ids: list[str]) -> list[Node]:
        """Paced bulk get."""
        pace(self.account, "describe")
        return self.driver.get_nodes(ids)

    def get_node(self, node_id: str) -> Node | None:
        """Paced single get."""
        pace(self.account, "describe")
        return self.driver.get_node(node_id)

    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Paced list."""
        pace(self.account, "describe")
        return self.driver.list_nodes(tags)

    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """One tag token per node, as each costs a call."""
        for node_id, tags in tags_by_id.items():
            pace(self.account, "tag")
            self.driver.tag_nodes({node_id: tags})

    def destroy_nodes(self, ids: list[str]) -> None:
        """Paced destroy."""
        pace(self.account, "destroy", len(ids))
        self.driver.destroy_nodes(ids)

    def list_sizes(self) -> list[Size]:
        """Paced catalog read."""
        pace(self.account, "catalog")
        return self.driver.list_sizes()

    def list_images(self) -> list[Image]:
        """Paced catalog read."""
        pace(self.account, "catalog")
        return self.driver.list_images()

    def list_locations(self) -> list[Location]:
        """Paced catalog read."""
        pace(self.account, "catalog")
        return self.driver.list_locations()

    def quote_prices(self, wanted: list[tuple[str, str]]) -> list[Quote]:
        """Paced price look-up: a catalog read (one token; a driver asking per type paces nothing more)."""
        pace(self.account, "catalog")
        return self.driver.quote_prices(wanted)

    def find_image(self, image: str) -> Image | None:
        """Paced image look-up."""
        pace(self.account, "catalog")
        return self.driver.find_image(image)

    def check_credentials(self) -> None:
        """Paced credentials check."""
        pace(self.account, "catalog")
        self.driver.check_credentials()

    def import_key_pair(self, name: str, public_key: str, region: str) -> bool:
        """Paced key pair import (a look-up, then an import where needed: catalog-sized calls)."""
        pace(self.account, "catalog")
        return self.driver.import_key_pair(name, public_key, region)

    def available_capacity(self, spec: NodeSpec) -> int | None:
        """Capacity is read from the driver's own knowledge, not a provider call of its own."""
        return self.driver.available_capacity(spec)

    def tokens_in_use(self, client_tokens: set[str]) -> set[str]:
        """As available_capacity: the driver's own knowledge."""
        return self.driver.tokens_in_use(client_tokens)
