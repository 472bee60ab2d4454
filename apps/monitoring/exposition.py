"""The Prometheus text format (version 0.0.4) of the families the state collector builds, written directly.

prometheus_client's generate_latest validates and escapes every label name of every sample (names may be
UTF-8 since its 0.21), which on a fleet of 1,000 pools (11,000 samples) costs more than the database
queries. These families are DCP's own: their metric and label names are fixed identifiers in the code
(tests/monitoring parses the output with prometheus_client's own parser), so only label values and help
texts need escaping, as the format says.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

#: The name a family's HELP and TYPE lines use, by type (a counter's samples end in _total).
SUFFIX = {"counter": "_total"}


def _value(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def text_of(families: Iterable[Metric]) -> bytes:
    """The exposition of these counter, gauge and histogram families."""
    lines = []
    for family in families:
        name = family.name + SUFFIX.get(family.type, "")
        lines.append(f"# HELP {name} {_help(family.documentation)}\n# TYPE {name} {family.type}\n")
        for sample in family.samples:
            if sample.labels:
                labels = ",".join(f'{key}="{_value(value)}"' for key, value in sample.labels.items())
                lines.append(f"{sample.name}{{{labels}}} {floatToGoString(sample.value)}\n")
            else:
                lines.append(f"{sample.name} {floatToGoString(sample.value)}\n")
    return "".join(lines).encode()
