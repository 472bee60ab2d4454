"""README.md says what a user sees today: where it states a fact the code decides, the two agree."""

import json
import re

import pytest
from rest_framework.test import APIClient

from tests.conftest import ROOT

README = ROOT / "README.md"


def blocks() -> list[str]:
    """The README's paragraphs and list items, each as one string."""
    return [block for block in re.split(r"\n\s*\n|\n(?=- )", README.read_text()) if block.strip()]


def test_readme_names_every_init_method_wherever_it_lists_them():
    """Each paragraph or item about init methods names every method a template takes, none missing."""
    from apps.providers.choices import InitMethod

    about = [block for block in blocks() if re.search(r"init[ _]methods?", block, re.I)]
    assert about, "the README does not say how hosts are initialized"
    for block in about:
        named = set(re.findall(r"`(\w+)`", block))
        missing = set(InitMethod.values()) - named
        assert not missing, f"the README leaves out {sorted(missing)} here:\n{block}"


@pytest.mark.django_db
def test_readme_shows_the_healthz_fields():
    """The /healthz example in the README has exactly the fields /healthz answers with."""
    example = re.search(r"`GET /healthz`.*?```json\n(.*?)```", README.read_text(), re.S)
    assert example, "the README shows no /healthz answer"
    answer = APIClient().get("/healthz").json()
    assert set(json.loads(example.group(1))) == set(answer)
    assert set(json.loads(example.group(1))["queues"]) == set(answer["queues"])


def test_readme_says_how_to_move_the_ports():
    """The address (DCP_ADDR, in the Makefile) and the emulated clouds' ports (DCP_EMULATOR_PORT) are documented,
    and both variables are the ones the Makefile and the emulators read."""
    from emulators.demo import PORT_VARIABLE

    text = README.read_text()
    assert "DCP_ADDR" in text and "DCP_ADDR" in (ROOT / "Makefile").read_text()
    assert PORT_VARIABLE in text
