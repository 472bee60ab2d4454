"""Fixtures of the console's tests: the costs tests' priced template, for the cost shown on pages."""

from tests.costs.conftest import priced  # noqa: F401 - a fixture, offered to the console's tests
