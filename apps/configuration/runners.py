"""The initialization seam: a runner per init method, one contract for all of them.

The engine calls ``initialize(hosts)`` for hosts that are running and gets one
result per host. A template may only name an init method whose runner is
registered here, so a host is never left waiting for a runner that does not exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import import_module

from apps.configuration.results import InitResult
from apps.providers.choices import InitMethod


class Runner(ABC):
    """Brings hosts to their base state."""

    method: str

    @abstractmethod
    def initialize(self, hosts: list) -> dict[int, InitResult]:
        """Initialize these hosts; return a result per host id."""


class NoopRunner(Runner):
    """For templates whose hosts need no initialization (init_method ``none``)."""

    method = InitMethod.NONE

    def initialize(self, hosts: list) -> dict[int, InitResult]:
        """Every host is ready as it is."""
        return {host.pk: InitResult(message="no initialization configured") for host in hosts}


RUNNERS: dict[str, str] = {
    InitMethod.NONE: "apps.configuration.runners.NoopRunner",
    InitMethod.ANSIBLE: "apps.configuration.ansible.AnsibleRunner",
    InitMethod.PUPPET: "apps.configuration.ansible.PuppetRunner",
}


def available_methods() -> list[str]:
    """Init methods a template may use in this version."""
    return [method for method in InitMethod.values() if method in RUNNERS]


def get_runner(method: str) -> Runner:
    """The runner for an init method."""
    module_name, class_name = RUNNERS[method].rsplit(".", 1)
    return getattr(import_module(module_name), class_name)()


def needs_run(host) -> bool:
    """Whether the host's template asks for initialization at all."""
    return host.template.init_method != InitMethod.NONE
