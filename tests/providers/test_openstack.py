"""OpenStack behaviour the driver contract does not cover: Keystone tokens, multi-create, boot, paging, secrecy."""

import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal

import pytest

from apps.providers.drivers import (
    AuthError,
    CapacityError,
    InvalidRequestError,
    NodeState,
    TransientError,
    get_driver,
)
from apps.providers.drivers.openstack import OpenStackDriver
from emulators import openstack as emulator
from tests.providers.harnesses.openstack import WRONG_PASSWORD, OpenStackHarness

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def started():
    """One emulator for this module."""
    harness = OpenStackHarness()
    harness.start()
    yield harness
    harness.stop()


@pytest.fixture
def harness(started, db):
    """The module's emulator, reset for this test."""
    started.reset()
    return started


def batch_tags() -> dict[str, str]:
    """Tags as the engine puts them on a batch."""
    return {"dcp": "1", "dcp-pool": "7", "dcp-batch": uuid.uuid4().hex[:12]}


def raw_get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    """GET url, optionally with a Keystone token: status, headers, JSON body."""
    request = urllib.request.Request(url, headers={"X-Auth-Token": token} if token else {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def test_wrong_password_is_auth_error(harness):
    """Keystone answers 401 to a wrong password; the driver raises AuthError for checks and creates alike."""
    driver = get_driver(harness.account(valid=False))
    with pytest.raises(AuthError) as caught:
        driver.check_credentials()
    assert "401" in str(caught.value)
    with pytest.raises(AuthError):
        driver.create_nodes(harness.spec(), 1, client_token=uuid.uuid4().hex, tags=batch_tags())
    assert harness.inventory() == {}


def test_api_calls_need_a_valid_token(harness):
    """Version discovery is open; every other call without a token, or with an unknown one, is refused."""
    assert raw_get(f"{harness.url}/compute/v2.1/")[0] == 200
    status, _, body = raw_get(f"{harness.url}/compute/v2.1/servers/detail")
    assert status == 401 and body["error"]["code"] == 401
    assert raw_get(f"{harness.url}/compute/v2.1/servers/detail", token="forged")[0] == 401
    assert raw_get(f"{harness.url}/image/v2/images", token="forged")[0] == 401
    token = OpenStackDriver(harness.account()).connection.session.get_token()
    assert raw_get(f"{harness.url}/compute/v2.1/servers/detail", token=token)[0] == 200


def test_throttled_answer_carries_retry_after(harness):
    """Rate limiting is Nova's 429 overLimit with Retry-After."""
    harness.set_faults(throttle_rate=1.0)
    status, headers, body = raw_get(f"{harness.url}/compute/v2.1/flavors", token="any")
    assert status == 429 and headers["Retry-After"] == "1" and body["overLimit"]["code"] == 429


def test_multi_create_is_one_post(harness):
    """Five servers come from ONE POST /servers (min_count = max_count = 5), each carrying the batch's tags."""
    driver = get_driver(harness.account())
    tags, token = batch_tags(), uuid.uuid4().hex
    nodes = driver.create_nodes(harness.spec(), 5, client_token=token, tags=tags)
    assert len({n.id for n in nodes}) == 5
    assert harness.control("GET", "calls")["POST /servers"] == 1
    servers = {s["id"]: s for s in harness.control("GET", "instances")}
    assert set(servers) == {n.id for n in nodes}
    assert all(s["tags"] == {**tags, "dcp-client-token": token} for s in servers.values())
    assert len({s["name"] for s in servers.values()}) == 5
    assert all(n.tags == tags and n.extra["client_token"] == token for n in nodes)


def test_build_then_active_after_boot_seconds(harness):
    """Servers are pending (BUILD) until boot_seconds pass, then running (ACTIVE) with an address."""
    harness.set_faults(boot_seconds=0.5)
    driver = get_driver(harness.account())
    started = time.monotonic()
    nodes = driver.create_nodes(harness.spec(), 2, client_token=uuid.uuid4().hex, tags=batch_tags())
    if time.monotonic() - started < 0.5:  # a machine slower than the boot time cannot see BUILD
        assert {n.state for n in nodes} == {NodeState.PENDING}
        assert all(n.private_ip is None for n in nodes)
    time.sleep(0.6)  # counted from after the create: the servers are at least this old
    running = driver.get_nodes([n.id for n in nodes])
    assert {n.state for n in running} == {NodeState.RUNNING}
    node = running[0]
    assert node.private_ip and node.private_ip.startswith("10.0.")
    assert (node.cpu, node.memory_gb, node.zone, node.instance_type) == (1, Decimal("2.00"), "nova-a", "m1.small")


def test_listing_pages_through_servers_links(harness):
    """250 servers over pages of 100: three GET /servers/detail, nothing missed, nothing twice."""
    driver = OpenStackDriver(harness.account())
    tags = batch_tags()
    made = []
    for count in (100, 100, 50):
        made += driver.create_nodes(harness.spec(), count, client_token=uuid.uuid4().hex, tags=tags)
    driver.page_size = 100
    before = harness.control("GET", "calls").get("GET /servers/detail", 0)
    listed = driver.list_nodes(tags)
    assert harness.control("GET", "calls")["GET /servers/detail"] - before == 3
    assert sorted(n.id for n in listed) == sorted(n.id for n in made) and len(listed) == 250
    assert len(driver.get_nodes([n.id for n in made[::50]])) == 5


def test_flavor_looked_up_when_nova_does_not_embed_it(harness):
    """Before microversion 2.47 a server names only its flavor id; cores and memory come from the flavor list."""
    harness.emulator.max_microversion = "2.46"
    try:
        driver = get_driver(harness.account())
        node = driver.create_nodes(harness.spec(), 1, client_token=uuid.uuid4().hex, tags=batch_tags())[0]
    finally:
        harness.emulator.max_microversion = emulator.MAX_MICROVERSION
    assert (node.cpu, node.memory_gb, node.instance_type) == (1, Decimal("2.00"), "m1.small")


def test_no_valid_host_is_an_error_node_and_a_capacity_error(harness):
    """A server Nova could not place reads as ERROR with its fault; a batch that all failed is removed."""
    harness.exhaust(None, "nova-a")
    driver = OpenStackDriver(harness.account())
    spec = harness.spec()
    stray = driver.connection.compute.create_server(
        name="stray", flavor_id="1", image_id=spec.image, networks=[{"uuid": spec.network}], availability_zone="nova-a"
    )
    (node,) = driver.get_nodes([stray.id])
    assert node.state is NodeState.ERROR and "No valid host" in node.extra["fault"]["message"]
    with pytest.raises(CapacityError):
        driver.create_nodes(spec, 3, client_token=uuid.uuid4().hex, tags=batch_tags())
    assert sorted(harness.inventory().values()) == ["error", "terminated", "terminated", "terminated"]


def test_flavor_and_image_by_name(harness):
    """Templates may name the image; an unknown flavor is refused before any server is asked for."""
    driver = get_driver(harness.account())
    spec = harness.spec()
    by_name = type(spec)(**{**spec.__dict__, "image": "ubuntu-22.04"})
    assert len(driver.create_nodes(by_name, 1, client_token=uuid.uuid4().hex, tags=batch_tags())) == 1
    unknown = type(spec)(**{**spec.__dict__, "instance_type": "m9.huge"})
    with pytest.raises(InvalidRequestError):
        driver.create_nodes(unknown, 1, client_token=uuid.uuid4().hex, tags=batch_tags())
    assert harness.control("GET", "calls")["POST /servers"] == 1
    assert {i.name for i in driver.list_images()} == set(emulator.IMAGES.values())
    assert [s.id for s in driver.list_sizes()] == ["m1.small", "m1.medium", "m1.large"]


def test_password_and_token_never_in_errors_or_logs(harness, caplog):
    """Neither the password (right or wrong) nor a Keystone token appears in an error or any log line."""
    caplog.set_level(logging.DEBUG)
    errors = []
    bad = get_driver(harness.account(valid=False))
    for call in (bad.check_credentials, bad.list_sizes):
        with pytest.raises(AuthError) as caught:
            call()
        errors.append(str(caught.value))
    good = get_driver(harness.account())
    nodes = good.create_nodes(harness.spec(), 2, client_token=uuid.uuid4().hex, tags=batch_tags())
    good.destroy_nodes([n.id for n in nodes])
    harness.set_faults(error_rate=1.0)
    with pytest.raises(TransientError) as caught:
        good.list_nodes()
    errors.append(str(caught.value))
    tokens = list(harness.emulator.tokens)
    assert tokens, "the drivers authenticated"
    text = caplog.text + "\n".join(errors) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (emulator.PASSWORD, WRONG_PASSWORD, *tokens):
        assert secret not in text
