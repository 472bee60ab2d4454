"""manage.py demo: the demo accounts point at the emulated clouds wherever DCP_EMULATOR_PORT puts them."""

import io

import pytest
from django.core.management import CommandError, call_command

from apps.providers.models import CloudAccount

pytestmark = pytest.mark.django_db


def endpoints() -> dict[str, str]:
    """The demo accounts' endpoints by kind."""
    return dict(CloudAccount.objects.filter(name__startswith="demo-").values_list("kind", "endpoint_url"))


def test_demo_accounts_follow_the_emulator_port(monkeypatch):
    """Made on DCP_EMULATOR_PORT and the next two ports; moved there again when it changes (no port is bound)."""
    monkeypatch.setenv("DCP_EMULATOR_PORT", "6100")
    call_command("demo", stdout=io.StringIO())
    assert endpoints() == {
        "aws": "http://127.0.0.1:6100",
        "aliyun": "http://127.0.0.1:6101",
        "openstack": "http://127.0.0.1:6102/identity/v3",
    }

    monkeypatch.setenv("DCP_EMULATOR_PORT", "6200")
    call_command("demo", stdout=io.StringIO())
    assert endpoints()["aws"] == "http://127.0.0.1:6200"
    openstack = CloudAccount.objects.get(name="demo-openstack")
    assert openstack.endpoint_url == openstack.credentials["auth_url"] == "http://127.0.0.1:6202/identity/v3"
    assert CloudAccount.objects.filter(name__startswith="demo-").count() == 3


def test_demo_refuses_a_bad_emulator_port(monkeypatch):
    """A value that is no port is refused, naming the variable, before anything is changed."""
    monkeypatch.setenv("DCP_EMULATOR_PORT", "65535")
    with pytest.raises(CommandError, match="DCP_EMULATOR_PORT='65535' is not a port number"):
        call_command("demo", stdout=io.StringIO())
    assert not CloudAccount.objects.exists()
