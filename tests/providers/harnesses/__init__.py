"""One harness per provider kind: how the contract suite reaches that provider and its emulator.

Each module here defines ``HARNESS``, a Harness subclass; the contract suite
finds them all, so adding a provider adds a module and nothing else.
"""

import importlib
import pkgutil

from tests.providers.harnesses.base import Harness


def all_harnesses() -> list[type[Harness]]:
    """Every harness defined in this package, by kind."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            harness = getattr(importlib.import_module(f"{__name__}.{module.name}"), "HARNESS", None)
            if harness is not None:
                found.append(harness)
    return sorted(found, key=lambda h: h.kind)
