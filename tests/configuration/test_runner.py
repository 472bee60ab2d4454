"""The Ansible runner without test hosts: a host nobody answers for is unreachable, retried, then failed."""

import socket

import pytest

from apps.configuration import keys
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, SSHKey
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.provisioning import work
from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def lonely_host():
    """An initializing host whose address answers no SSH."""
    init_vars = {"dcp_ntp_servers": ["127.0.0.1"], "dcp_ssh_port": closed_port(), "dcp_connect_timeout": 3}
    template = TemplateFactory(init_method="ansible", init_vars=init_vars)
    pool = with_template(PoolFactory(), template)
    return Host.objects.create(
        hostname="lonely-0",
        pool=pool,
        provider=template.provider,
        template=template,
        status=HostStatus.INITIALIZING,
        private_ip="127.0.0.1",
    )


def test_unreachable_host_is_retried_then_failed(lonely_host, settings):
    """With one retry: the first run leaves it initializing, the second fails it with the reason."""
    settings.DCP_INIT_RETRIES = 1
    work.initialize([lonely_host.pk])
    lonely_host.refresh_from_db()
    first = lonely_host.init_runs.get()
    assert lonely_host.status == HostStatus.INITIALIZING
    assert first.status == InitStatus.UNREACHABLE and first.attempt == 1
    assert "Connection refused" in first.message
    work.initialize([lonely_host.pk])
    lonely_host.refresh_from_db()
    assert lonely_host.status == HostStatus.FAILED
    assert lonely_host.status_message.startswith("initialization unreachable: unreachable over SSH")
    assert [run.attempt for run in InitRun.objects.order_by("pk")] == [1, 2]


def test_account_key_is_made_on_first_need_and_kept(lonely_host, settings):
    """The account had no key pair: one is made (and reused), its private half encrypted at rest."""
    settings.DCP_INIT_RETRIES = 0
    work.initialize([lonely_host.pk])
    key = SSHKey.objects.get(account=lonely_host.provider)
    assert keys.load(key.private_key) == key.public_key
    assert keys.key_for(lonely_host).pk == key.pk


def test_a_host_being_initialized_is_not_claimed_twice(lonely_host):
    """A second claim while a run is going gets nothing; a run whose worker died long ago is closed first."""
    from datetime import timedelta

    from apps.configuration import services

    first = services.claim([lonely_host])
    assert len(first) == 1 and services.claim([lonely_host]) == []
    InitRun.objects.filter(pk=first[0].pk).update(started_at=first[0].started_at - timedelta(days=1))
    again = services.claim([lonely_host])
    assert len(again) == 1 and again[0].attempt == 2
    assert InitRun.objects.get(pk=first[0].pk).message == "the worker running it was lost"
