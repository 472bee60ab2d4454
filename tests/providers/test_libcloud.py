"""The Libcloud driver beyond the contract: one create per node, token retries, driver_args, names, secrets.

Libcloud's real OpenStack driver talks HTTP to the in-process OpenStack emulator; nothing is mocked.
"""

from __future__ import annotations

import importlib
import json
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from libcloud.compute.drivers.openstack import OpenStack_2_NodeDriver

from apps.core import audit
from apps.core.models import AuditAction
from apps.providers.drivers import (
    AuthError,
    InvalidRequestError,
    ProviderError,
    QuotaExceededError,
    ThrottledError,
    TransientError,
    get_driver,
)
from apps.providers.drivers.libcloud import TOKEN_KEY, LibcloudDriver
from apps.providers.models import CloudAccount
from emulators import openstack as emulator
from tests.conftest import client_for
from tests.providers.harnesses.libcloud import LibcloudHarness, driver_args

pytestmark = pytest.mark.django_db
CREATES = "POST /servers"


@pytest.fixture(scope="module")
def running() -> Iterator[LibcloudHarness]:
    """One emulator for this module."""
    harness = LibcloudHarness()
    harness.start()
    yield harness
    harness.stop()


@pytest.fixture
def harness(running: LibcloudHarness, db) -> LibcloudHarness:
    """The harness, with the emulator reset for this test."""
    running.reset()
    return running


def tags() -> dict[str, str]:
    """Tags as the engine puts them on a batch, unique to this test."""
    return {"dcp": "1", "dcp-batch": uuid.uuid4().hex[:12]}


def test_libcloud_one_create_call_per_node(harness: LibcloudHarness) -> None:
    """Libcloud has no multi-create: a batch of 3 is three POST /servers, each node in the spec's zone."""
    driver = get_driver(harness.account())
    nodes = driver.create_nodes(harness.spec(harness.zones[1]), 3, client_token=uuid.uuid4().hex, tags=tags())
    assert harness.calls().get(CREATES) == 3
    assert len({node.id for node in nodes}) == 3
    assert all(node.zone == harness.zones[1] for node in nodes)
    assert all(node.instance_type == "m1.small" and node.cpu == 1 for node in nodes)
    assert all(node.memory_gb == Decimal("2.00") for node in nodes)


def test_libcloud_retried_create_with_same_token_creates_nothing_new(harness: LibcloudHarness) -> None:
    """The same token again sends no create at all and returns the same nodes, token kept out of the tags."""
    driver = get_driver(harness.account())
    token, batch = uuid.uuid4().hex, tags()
    first = driver.create_nodes(harness.spec(), 2, client_token=token, tags=batch)
    again = driver.create_nodes(harness.spec(), 2, client_token=token, tags=batch)
    assert sorted(node.id for node in again) == sorted(node.id for node in first)
    assert harness.calls().get(CREATES) == 2
    assert all(node.extra["client_token"] == token and TOKEN_KEY not in node.tags for node in again)
    assert all(node.tags == batch for node in again)


def test_libcloud_retry_completes_a_partial_batch(harness: LibcloudHarness) -> None:
    """A batch cut short by quota is completed by the retry: only the missing nodes are created."""
    driver = get_driver(harness.account())
    token, batch = uuid.uuid4().hex, tags()
    harness.set_faults(instance_quota=1)
    with pytest.raises(QuotaExceededError):
        driver.create_nodes(harness.spec(), 3, client_token=token, tags=batch)
    assert harness.calls().get(CREATES) == 2  # the first succeeded, the second was refused
    harness.set_faults()
    nodes = driver.create_nodes(harness.spec(), 3, client_token=token, tags=batch)
    assert len({node.id for node in nodes}) == 3
    assert harness.calls().get(CREATES) == 4  # two more, not three
    assert len([state for state in harness.inventory().values() if state in ("pending", "running")]) == 3


def test_libcloud_driver_args_reach_the_libcloud_driver(harness: LibcloudHarness) -> None:
    """driver_args, the account region and the endpoint become the Libcloud driver's constructor arguments."""
    driver = LibcloudDriver(harness.account(timeout=7))
    native = driver.driver
    assert isinstance(native, OpenStack_2_NodeDriver)  # api_version "2.0" chose the Glance-backed driver
    assert native._ex_tenant_name == emulator.PROJECT
    assert native._ex_force_auth_version == "3.x_password"
    assert native._ex_force_service_region == emulator.REGION
    assert native._ex_force_auth_url == f"{harness.url}/identity"  # the Keystone v3 URL without its /v3
    assert native.connection.timeout == 7
    assert {image.id for image in driver.list_images()} == set(emulator.IMAGES)


def test_libcloud_service_name_from_driver_args_is_used(harness: LibcloudHarness) -> None:
    """A forced service name the catalog lacks: the compute endpoint is not found, an error to fix."""
    driver = get_driver(harness.account(ex_force_service_name="no-such-nova"))
    with pytest.raises(InvalidRequestError, match="no such service"):
        driver.list_sizes()


def test_libcloud_driver_args_are_used_to_authenticate(harness: LibcloudHarness) -> None:
    """A project name in driver_args the cloud does not know is refused by Keystone: the argument is sent."""
    driver = get_driver(harness.account(ex_tenant_name="no-such-project"))
    with pytest.raises(AuthError):
        driver.check_credentials()


def test_libcloud_unknown_provider_name_is_a_clear_invalid_request(harness: LibcloudHarness) -> None:
    """A provider name Libcloud does not have is an InvalidRequestError naming it, not a bare AttributeError."""
    account = CloudAccount.objects.create(
        name=f"libcloud-unknown-{uuid.uuid4().hex[:8]}",
        kind="libcloud",
        credentials={"driver": "no_such_cloud", "key": "k", "secret": "s3cret-value"},
    )
    with pytest.raises(InvalidRequestError, match="no_such_cloud") as caught:
        get_driver(account).list_sizes()
    assert "Libcloud has no compute driver" in str(caught.value)
    assert caught.value.retryable is False


def test_libcloud_unknown_driver_arg_is_an_invalid_request(harness: LibcloudHarness) -> None:
    """A driver_args key the Libcloud driver does not take fails as a request to fix, not a crash."""
    account = harness.account()
    account.options = {"driver_args": {"api_version": "9.9"}}
    account.save()
    with pytest.raises(InvalidRequestError):
        get_driver(account).list_sizes()


def test_libcloud_zones_sizes_and_images(harness: LibcloudHarness) -> None:
    """Locations are Nova's availability zones (not Libcloud's single placeholder); sizes are in GB."""
    driver = get_driver(harness.account())
    assert [location.id for location in driver.list_locations()] == list(emulator.ZONES)
    small = next(size for size in driver.list_sizes() if size.id == "m1.small")
    assert (small.cpu, small.memory_gb, small.extra["size_id"]) == (1, Decimal("2.00"), "1")
    assert driver.find_image("centos-7").id in emulator.IMAGES


@pytest.mark.parametrize("fault", ["auth", "throttled", "transient", "invalid"])
def test_libcloud_secrets_never_in_errors_or_logs(harness: LibcloudHarness, caplog, fault: str) -> None:
    """Neither the right nor a wrong password shows in any error text or log line, nor in node extras."""
    caplog.set_level(logging.DEBUG)
    account = harness.account(valid=fault != "auth")
    spec = harness.broken_spec("invalid") if fault == "invalid" else harness.spec()
    if fault == "throttled":
        harness.set_faults(throttle_rate=1.0)
    elif fault == "transient":
        harness.set_faults(error_rate=1.0)
    expected = {"auth": AuthError, "throttled": ThrottledError, "transient": TransientError}
    driver = get_driver(account)
    with pytest.raises(ProviderError) as caught:
        driver.create_nodes(spec, 2, client_token=uuid.uuid4().hex, tags=tags())
    assert isinstance(caught.value, expected.get(fault, InvalidRequestError))
    texts = [str(caught.value), caught.value.message, caplog.text]
    if fault != "invalid":
        # The credentials check fails the same way, through a fresh Libcloud driver.
        with pytest.raises(ProviderError) as checked:
            driver.check_credentials()
        texts += [str(checked.value), caplog.text]
    for secret in (emulator.PASSWORD, "not-the-password"):
        assert all(secret not in text for text in texts)


def test_libcloud_generated_root_password_is_not_kept(harness: LibcloudHarness, caplog) -> None:
    """Nova's adminPass, which Libcloud puts in a node's extra, never leaves the driver."""
    caplog.set_level(logging.DEBUG)
    nodes = get_driver(harness.account()).create_nodes(harness.spec(), 1, client_token=uuid.uuid4().hex, tags=tags())
    assert "password" not in nodes[0].extra
    assert emulator.PASSWORD not in caplog.text


def keystone_token(harness: LibcloudHarness) -> str:
    """A token from the emulator's Keystone, as an operator would hand DCP one."""
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": emulator.USERNAME, "domain": {"name": emulator.DOMAIN}, "password": emulator.PASSWORD}
            },
        },
        "scope": {"project": {"name": emulator.PROJECT, "domain": {"name": emulator.DOMAIN}}},
    }
    answer = requests.post(f"{harness.url}/identity/v3/auth/tokens", json={"auth": auth}, timeout=10)
    return answer.headers["X-Subject-Token"]


def test_libcloud_secret_driver_args_are_credentials(harness: LibcloudHarness, sysadmin) -> None:
    """A driver argument that carries a secret is refused in options and taken, encrypted, in credentials.

    From there it reaches Libcloud: with a forced token and compute URL, the driver uses the token alone.
    """
    token = keystone_token(harness)
    body = {
        "name": "libcloud-token",
        "kind": "libcloud",
        "region": emulator.REGION,
        "endpoint_url": f"{harness.url}/identity/v3",
        "credentials": {"driver": "openstack", "key": emulator.USERNAME},
        "options": {"driver_args": {**driver_args(), "ex_force_base_url": f"{harness.url}/compute/v2.1"}},
    }
    client = client_for(sysadmin)
    in_options = {**body, "options": {"driver_args": {**body["options"]["driver_args"], "ex_force_auth_token": token}}}
    refused = client.post("/api/v1/providers/", in_options, format="json")
    assert refused.status_code == 400 and "options.driver_args.ex_force_auth_token" in refused.json()["options"][0]
    assert token not in refused.content.decode()

    in_credentials = {**body, "credentials": {**body["credentials"], "ex_force_auth_token": token}}
    answer = client.post("/api/v1/providers/", in_credentials, format="json")
    assert answer.status_code == 201, answer.content
    assert token not in answer.content.decode()
    account = CloudAccount.objects.get(name="libcloud-token")
    assert account.credentials["ex_force_auth_token"] == token
    assert "ex_force_auth_token" not in account.options["driver_args"]
    assert {size.id for size in get_driver(account).list_sizes()} >= {"m1.small"}

    account.credentials = {**account.credentials, "ex_force_auth_token": "not-the-token-at-all"}
    with pytest.raises(AuthError) as caught:
        get_driver(account).check_credentials()
    assert "not-the-token-at-all" not in str(caught.value)


def test_migration_moves_stored_secrets_into_credentials(harness: LibcloudHarness, sysadmin) -> None:
    """Accounts stored the old way keep working after the data migration, their secrets now encrypted.

    A Libcloud password kept in driver_args moves into credentials; an OpenStack endpoint carrying a password
    becomes the credentials' auth_url; another kind's endpoint loses its password (its driver never sent it);
    the audit entries that copied them are masked.
    """
    from django.apps import apps as django_apps

    migration = importlib.import_module("apps.providers.migrations.0004_secrets_into_credentials")
    legacy = harness.account()
    legacy.credentials = {"driver": "openstack", "key": emulator.USERNAME}
    legacy.options = {"driver_args": {**driver_args(), "secret": emulator.PASSWORD}}
    legacy.save()
    get_driver(legacy).check_credentials()  # it worked that way
    keystone = f"https://dcp:{emulator.PASSWORD}@keystone.example.test/v3"
    openstack = CloudAccount.objects.create(
        name="os-legacy", kind="openstack", endpoint_url=keystone, credentials={"auth_url": "https://other.test/v3"}
    )
    aws = CloudAccount.objects.create(name="aws-legacy", kind="aws", endpoint_url=keystone.replace("/v3", ""))
    entry = audit.record(sysadmin, AuditAction.UPDATE, legacy, None, audit.snapshot(legacy))

    migration.move_secrets(django_apps, None)

    legacy.refresh_from_db()
    assert legacy.credentials["secret"] == emulator.PASSWORD
    assert "secret" not in legacy.options["driver_args"] and legacy.options["driver_args"]["ex_tenant_name"]
    get_driver(legacy).check_credentials()
    openstack.refresh_from_db()
    assert openstack.endpoint_url == "" and openstack.credentials["auth_url"] == keystone
    aws.refresh_from_db()
    assert aws.endpoint_url == "https://keystone.example.test"
    entry.refresh_from_db()
    assert emulator.PASSWORD not in json.dumps(entry.after)
    assert entry.after["options"]["driver_args"]["secret"] == "***"
