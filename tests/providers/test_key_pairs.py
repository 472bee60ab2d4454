"""DCP's key in each cloud: imported once under a name derived from its fingerprint, named at every create.

Run against every cloud's emulator with the real SDKs (EC2 through boto3 and moto, ECS through
aliyun-python-sdk-ecs, Nova through openstacksdk, and Libcloud's OpenStack driver). The emulators refuse a
create that names a key pair they do not hold, as the clouds do.
"""

import uuid
from dataclasses import replace

import pytest

from apps.configuration import keys
from apps.providers.drivers import InvalidRequestError, NotFoundError, get_driver
from apps.providers.drivers import base as driver_base
from tests.providers.harnesses import all_harnesses

pytestmark = pytest.mark.django_db
CLOUDS = [cls for cls in all_harnesses() if cls.kind != "physical"]


@pytest.fixture(scope="module")
def started():
    """Every cloud's emulator, started once for the module."""
    harnesses = {cls.kind: cls() for cls in CLOUDS}
    for harness in harnesses.values():
        harness.start()
    yield harnesses
    for harness in harnesses.values():
        harness.stop()


@pytest.fixture(params=[cls.kind for cls in CLOUDS])
def harness(request, started, db):
    """One cloud's harness, reset (no instances, no key pairs) for this test."""
    harness = started[request.param]
    harness.reset()
    return harness


def create(driver, spec, count: int = 1):
    """One batch of count nodes, with a fresh token."""
    return driver.create_nodes(spec, count, client_token=uuid.uuid4().hex, tags={"dcp": "1"})


def test_the_key_is_imported_once_per_account_and_named_at_create(harness):
    """Three batches from two driver objects (and a process that forgot it imported the key) leave one key
    pair, named after the key's fingerprint, holding DCP's public key; every instance names it."""
    public = keys.generate()[1]
    spec = replace(harness.spec(), public_key=public)
    account = harness.account()
    first = create(get_driver(account), spec, 2)
    create(get_driver(account), spec)
    driver_base._key_pairs_in_place.clear()  # as a new worker process: it must find the key pair, not add one
    create(get_driver(account), spec)

    pairs = harness.control("GET", "key-pairs")
    assert [(p["name"], p["public_key"].split()[:2]) for p in pairs] == [
        (driver_base.key_pair_name(public), public.split()[:2])
    ]
    if "key_name" in first[0].extra:
        assert {n.extra["key_name"] for n in first} == {driver_base.key_pair_name(public)}
    assert len([state for state in harness.inventory().values() if state in ("pending", "running")]) == 4


def test_a_create_naming_a_missing_key_pair_is_refused(harness):
    """The template names a key pair the cloud lacks: the cloud refuses the create and makes nothing."""
    spec = replace(harness.spec(), key_name="no-such-key")
    with pytest.raises((NotFoundError, InvalidRequestError)):
        create(get_driver(harness.account()), spec)
    assert harness.inventory() == {}


def test_a_key_pair_of_dcp_s_name_holding_another_key_is_not_used(harness):
    """DCP never creates with (nor overwrites) a key pair that holds some other key."""
    public, other = keys.generate()[1], keys.generate()[1]
    driver = get_driver(harness.account())
    driver.import_key_pair(driver_base.key_pair_name(public), other, harness.spec().region)
    with pytest.raises(InvalidRequestError, match="holds another key"):
        create(driver, replace(harness.spec(), public_key=public))
    assert harness.inventory() == {}


def test_a_key_pair_deleted_behind_dcp_s_back_is_imported_again(harness):
    """The cloud lost the key pair this process imported (deleted by hand): the create imports it again."""
    public = keys.generate()[1]
    spec = replace(harness.spec(), public_key=public)
    account = harness.account()
    create(get_driver(account), spec)
    harness.reset()  # the cloud forgets every instance and key pair; this process still thinks it is there
    assert len(create(get_driver(account), spec)) == 1
    assert [p["name"] for p in harness.control("GET", "key-pairs")] == [driver_base.key_pair_name(public)]


def test_a_template_s_own_key_pair_is_used_as_it_is(harness):
    """A template that names its own key pair gets that one; DCP imports nothing."""
    public = keys.generate()[1]
    driver = get_driver(harness.account())
    driver.import_key_pair("ops-key", public, harness.spec().region)
    create(driver, replace(harness.spec(), key_name="ops-key", public_key=""))
    assert [p["name"] for p in harness.control("GET", "key-pairs")] == ["ops-key"]


def test_a_retried_create_finds_the_earlier_instances_and_makes_no_more(harness):
    """The same batch asked for again (its first answer was lost) returns what the first call made, by the
    token's tag or metadata (moto ignores ClientToken; Nova has none): no new instance, no second key pair."""
    spec = replace(harness.spec(), public_key=keys.generate()[1])
    driver = get_driver(harness.account())
    token = uuid.uuid4().hex
    first = driver.create_nodes(spec, 2, client_token=token, tags={"dcp": "1"}, first_attempt=True)
    again = driver.create_nodes(spec, 2, client_token=token, tags={"dcp": "1"})
    assert {n.id for n in again} == {n.id for n in first}
    assert len(harness.inventory()) == 2 and len(harness.control("GET", "key-pairs")) == 1


def test_a_rotated_key_is_imported_under_its_new_name_beside_the_old(harness):
    """After a rotation the account's next create imports the new key under its own name; the old key pair
    stays for the instances launched with it."""
    account = harness.account()
    key = keys.key_of(None, account.pk)  # the account's key, made on first need as the engine does
    old = key.public_key
    create(get_driver(account), replace(harness.spec(), public_key=old))
    new = keys.rotate(key, None).public_key
    create(get_driver(account), replace(harness.spec(), public_key=keys.key_of(None, account.pk).public_key))
    names = sorted(pair["name"] for pair in harness.control("GET", "key-pairs"))
    assert names == sorted([driver_base.key_pair_name(old), driver_base.key_pair_name(new)])
