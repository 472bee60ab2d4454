"""The driver contract, run unchanged against every provider kind (through its emulator; physical through the DB).

The real SDKs talk HTTP to the emulators: nothing of the SDKs is mocked.
Each harness in tests/providers/harnesses/ says how to reach its provider.
"""

import uuid
from decimal import Decimal

import pytest

from apps.providers.drivers import (
    AuthError,
    CapacityError,
    InvalidRequestError,
    NodeState,
    NotFoundError,
    QuotaExceededError,
    ThrottledError,
    TransientError,
    get_driver,
)
from tests.providers.harnesses import all_harnesses

pytestmark = pytest.mark.django_db
HARNESSES = all_harnesses()
LIVE = {NodeState.PENDING, NodeState.RUNNING}


@pytest.fixture(scope="session")
def started():
    """Every harness, started once for the session."""
    harnesses = {cls.kind: cls() for cls in HARNESSES}
    for harness in harnesses.values():
        harness.start()
    yield harnesses
    for harness in harnesses.values():
        harness.stop()


@pytest.fixture(params=[cls.kind for cls in HARNESSES])
def harness(request, started, db):
    """One provider kind's harness, reset for this test."""
    harness = started[request.param]
    harness.reset()
    return harness


def tags(**extra) -> dict[str, str]:
    """Tags as the engine puts them on a batch, unique to this test."""
    return {"dcp": "1", "dcp-pool": "7", "dcp-batch": uuid.uuid4().hex[:12], **extra}


def test_batch_create_returns_at_once_with_every_node(harness):
    """One call creates the whole batch; the provider holds exactly those nodes."""
    driver = get_driver(harness.account())
    nodes = driver.create_nodes(harness.spec(), 3, client_token=uuid.uuid4().hex, tags=tags())
    assert len(nodes) == 3 and len({n.id for n in nodes}) == 3
    assert all(n.state in LIVE for n in nodes)
    inventory = harness.inventory()
    assert {n.id for n in nodes} <= set(inventory)
    assert all(inventory[n.id] in ("pending", "running") for n in nodes)


def test_a_running_node_carries_what_the_provider_reports_of_it(harness):
    """get_nodes of running nodes gives each one's address, cores and memory, as the provider's own listing has them.

    A create's answer may lack them (ECS's gives ids only, Nova hides addresses while a server builds): the
    engine takes them from whichever answer has them, so a later look must carry them.
    """
    driver = get_driver(harness.account())
    made = driver.create_nodes(harness.spec(), 2, client_token=uuid.uuid4().hex, tags=tags())
    nodes = driver.get_nodes([n.id for n in made])
    reported = harness.reported()
    assert {n.state for n in nodes} == {NodeState.RUNNING} and len(nodes) == 2
    for node in nodes:
        facts = reported[node.id]
        assert node.private_ip and node.private_ip == facts["private_ip"], (node, facts)
        assert (node.public_ip, node.cpu) == (facts["public_ip"], facts["cpu"]), (node, facts)
        assert node.memory_gb == Decimal(str(facts["memory_gb"])), (node, facts)


def test_same_client_token_twice_creates_nothing_new(harness):
    """A retried create (same token) returns the same nodes and makes no new ones."""
    driver = get_driver(harness.account())
    token, batch_tags = uuid.uuid4().hex, tags()
    first = driver.create_nodes(harness.spec(), 2, client_token=token, tags=batch_tags)
    before = set(harness.inventory())
    again = driver.create_nodes(harness.spec(), 2, client_token=token, tags=batch_tags)
    assert sorted(n.id for n in again) == sorted(n.id for n in first)
    assert set(harness.inventory()) == before


def test_bulk_get_and_list_by_tags(harness):
    """get_nodes takes many ids (unknown ones are left out); list_nodes finds nodes by their tags."""
    driver = get_driver(harness.account())
    mine, other = tags(), tags()
    ours = driver.create_nodes(harness.spec(), 2, client_token=uuid.uuid4().hex, tags=mine)
    theirs = driver.create_nodes(harness.spec(), 1, client_token=uuid.uuid4().hex, tags=other)
    got = driver.get_nodes([n.id for n in ours + theirs])
    assert sorted(n.id for n in got) == sorted(n.id for n in ours + theirs)
    assert driver.get_nodes([]) == []
    listed = driver.list_nodes(mine)
    assert sorted(n.id for n in listed) == sorted(n.id for n in ours)
    assert all(n.tags.get("dcp-batch") == mine["dcp-batch"] for n in listed)


def test_each_node_gets_its_own_tags_and_keeps_the_batch_ones(harness):
    """tag_nodes names each node's host; the batch's tags stay; a node already gone is skipped, not an error."""
    driver = get_driver(harness.account())
    batch = tags()
    first, second, gone = driver.create_nodes(harness.spec(), 3, client_token=uuid.uuid4().hex, tags=batch)
    driver.destroy_nodes([gone.id])
    driver.tag_nodes({first.id: {"dcp-host": "11"}, second.id: {"dcp-host": "12"}, gone.id: {"dcp-host": "13"}})
    assert [n.id for n in driver.list_nodes({"dcp-host": "11"})] == [first.id]
    assert [n.id for n in driver.list_nodes({**batch, "dcp-host": "12"})] == [second.id]
    assert driver.list_nodes({"dcp-host": "13"}) == []
    driver.tag_nodes({first.id: {"dcp-host": "21"}})
    assert [n.id for n in driver.list_nodes({**batch, "dcp-host": "21"})] == [first.id]


def test_destroy_twice_is_fine(harness):
    """Destroying nodes, then the same nodes again: no error, and they are gone from the provider."""
    driver = get_driver(harness.account())
    batch = tags()
    nodes = driver.create_nodes(harness.spec(), 2, client_token=uuid.uuid4().hex, tags=batch)
    ids = [n.id for n in nodes]
    driver.destroy_nodes(ids)
    driver.destroy_nodes(ids)
    assert not [n for n in driver.get_nodes(ids) if n.state in LIVE]
    assert driver.list_nodes(batch) == []
    inventory = harness.inventory()
    assert all(inventory.get(i) not in ("pending", "running") for i in ids)


def test_catalog_and_credentials(harness):
    """Sizes include the spec's type, locations include the zones, and the credentials check passes."""
    driver = get_driver(harness.account())
    driver.check_credentials()
    spec = harness.spec()
    sizes = {size.id: size for size in driver.list_sizes()}
    assert spec.instance_type in sizes
    assert sizes[spec.instance_type].cpu > 0 and sizes[spec.instance_type].memory_gb > 0
    assert set(harness.zones) <= {location.id for location in driver.list_locations()}


#: Provider kinds that publish prices (OpenStack has none; own machines are priced by their monthly_cost).
PUBLISH_PRICES = {"aws", "aliyun", "libcloud"}


def test_prices_are_quoted_or_unknown_never_free(harness):
    """A provider that publishes prices answers the spec's type: a price above 0 in a currency, or unknown
    with a note saying why; a billing rule the catalog knows. The others quote nothing."""
    account = harness.account()
    spec = harness.spec()
    wanted = (spec.region or account.region, spec.instance_type)
    quotes = get_driver(account).quote_prices([wanted])
    for quote in quotes:
        assert (quote.hourly_price is not None and quote.hourly_price > 0 and quote.currency) or quote.note, quote
        assert quote.billing in ("per_second", "per_hour") and quote.minimum_seconds >= 0
        assert quote.billing == "per_second" or quote.minimum_seconds == 0
    if harness.kind in PUBLISH_PRICES:
        assert wanted in {(quote.region, quote.instance_type) for quote in quotes}
    else:
        assert quotes == []


FAILURE_CASES = [
    pytest.param(cls.kind, failure, id=f"{cls.kind}-{failure}") for cls in HARNESSES for failure in cls.failures
]
ERRORS = {
    "auth": AuthError,
    "invalid": InvalidRequestError,
    "not_found": NotFoundError,
    "quota": QuotaExceededError,
    "capacity": CapacityError,
    "throttled": ThrottledError,
    "transient": TransientError,
}


@pytest.mark.parametrize(("kind", "failure"), FAILURE_CASES)
def test_each_failure_raises_its_typed_error(kind, failure, started, db):
    """Every cause gives its own error class, with the right retryable flag, and creates nothing."""
    harness = started[kind]
    harness.reset()
    account = harness.account(valid=failure != "auth")
    driver = get_driver(account)
    spec = harness.spec()
    if failure in ("invalid", "not_found"):
        spec = harness.broken_spec(failure)
    elif failure == "quota":
        harness.fill_quota(account)
    elif failure == "capacity":
        harness.exhaust(account, harness.zones[0])
    elif failure == "throttled":
        harness.set_faults(throttle_rate=1.0)
    elif failure == "transient":
        harness.set_faults(error_rate=1.0)
    before = {i for i, state in harness.inventory().items() if state in ("pending", "running")}
    with pytest.raises(ERRORS[failure]) as caught:
        driver.create_nodes(spec, 2, client_token=uuid.uuid4().hex, tags=tags())
    assert caught.value.retryable is (failure in ("throttled", "transient"))
    assert str(caught.value), "the error says what went wrong"
    if failure == "auth":
        with pytest.raises(AuthError):
            driver.check_credentials()
    if failure in ("throttled", "transient"):
        harness.set_faults()
    after = {i for i, state in harness.inventory().items() if state in ("pending", "running")}
    assert after == before, "a failed create leaves nothing running"
    if failure == "capacity":
        other = driver.create_nodes(harness.spec(harness.zones[1]), 1, client_token=uuid.uuid4().hex, tags=tags())
        assert len(other) == 1, "another zone still has capacity"


def test_a_created_node_reports_when_it_launched(harness):
    """Nodes as the provider lists them carry its launch time: a host's cost runs from it (apps.costs)."""
    from datetime import timedelta

    from django.utils import timezone

    driver = get_driver(harness.account())
    before = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    made = driver.create_nodes(harness.spec(), 1, client_token=uuid.uuid4().hex, tags=tags())
    (node,) = driver.get_nodes([n.id for n in made])
    assert node.launched_at is not None, f"{harness.kind} reports no launch time"
    # ECS reports CreationTime to the minute (2026-01-02T03:04Z), as the real API does.
    assert before - timedelta(seconds=60) <= node.launched_at <= timezone.now() + timedelta(seconds=5)
