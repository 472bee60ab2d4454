"""The initialization seam: a runner per init method, one contract for all of them.

The engine calls ``initialize(hosts)`` for hosts that are running and gets one
result per host. A template may only name an init method whose runner is
registered here, so a host is never left waiting for a runner that does not exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import import_module

from apps.configuration.results import InitResult
from apps.core import sentences
from apps.providers.choices import InitMethod


class Runner(ABC):
    """Brings hosts to their base state."""

    method: str

    @abstractmethod
    def initialize(self, hosts: list, check: bool = False, cancelled=None) -> dict[int, InitResult]:
        """Initialize these hosts (``check``: only find what differs, changing nothing); a result per host id.

        ``cancelled``, if given, is a callable the runner asks now and then; once it answers True the run stops.
        """


class NoopRunner(Runner):
    """For templates whose hosts need no initialization (init_method ``none``)."""

    method = InitMethod.NONE

    def initialize(self, hosts: list, check: bool = False, cancelled=None) -> dict[int, InitResult]:
        """Every host is ready as it is."""
        return {host.pk: InitResult(message=sentences.NO_INIT()) for host in hosts}


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


def ssh_via(host) -> str:
    """Which of the host's addresses SSH uses: ``private`` unless the template's dcp_ssh_via says ``public``."""
    return "public" if (host.template.init_vars or {}).get("dcp_ssh_via") == "public" else "private"


def ssh_address(host) -> str:
    """The address DCP reaches the host on over SSH: the one dcp_ssh_via names, or "" while it has none.

    Never the other one instead: a private address is no use from where only public ones are reachable, and
    the template's setting says which one that is.
    """
    return str((host.public_ip if ssh_via(host) == "public" else host.private_ip) or "")


def missing_address(host) -> str:
    """Why initialization cannot reach the host (it lacks the address its SSH settings name), or "" if it can."""
    if not needs_run(host) or ssh_address(host):
        return ""
    via = ssh_via(host)
    other = "private" if via == "public" else "public"
    return sentences.NO_ADDRESS_REASON(
        via=via, method=host.template.init_method, via_again=via, other=other, other_again=other
    )
