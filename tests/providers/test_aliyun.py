"""What the contract suite leaves out for Aliyun ECS: signature checks, batch limits, paging, boot, release, secrets."""

import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.composer.rpc_signature_composer import get_signed_url
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest

from apps.providers.drivers import (
    AuthError,
    CapacityError,
    InvalidRequestError,
    NodeState,
    NotFoundError,
    QuotaExceededError,
    ThrottledError,
    TransientError,
)
from apps.providers.drivers.aliyun import AliyunDriver, error_class
from apps.providers.models import CloudAccount
from emulators.aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, AliyunEmulator
from tests.providers.harnesses.aliyun import AliyunHarness

SECRET = "ZmAliyunSecretThatMustNeverLeak0042"


@pytest.fixture(scope="module")
def emulator():
    """An emulator knowing the default key pair and one whose secret is SECRET."""
    emulator = AliyunEmulator(access_keys={ACCESS_KEY_ID: ACCESS_KEY_SECRET, "LTAI5tSecretTest": SECRET})
    emulator.start("127.0.0.1", 0)
    yield emulator
    emulator.stop()


@pytest.fixture
def ecs(emulator):
    """The emulator, emptied for this test."""
    with emulator.lock:
        emulator.reset_state()
        emulator.calls.clear()
        emulator.faults = type(emulator.faults)()
    return emulator


def account(ecs, key_id=ACCESS_KEY_ID, secret=ACCESS_KEY_SECRET, endpoint=None) -> CloudAccount:
    """An unsaved account on the emulator: the driver needs no database row."""
    return CloudAccount(
        name="ecs-test",
        kind="aliyun",
        region="cn-hangzhou",
        endpoint_url=endpoint or ecs.url,
        credentials={"access_key_id": key_id, "access_key_secret": secret},
    )


SPEC = AliyunHarness().spec("cn-hangzhou-h")


def raw_call(ecs, params: dict, secret: str, tamper: dict | None = None) -> tuple[int, dict]:
    """Sign params with the SDK's own signer, optionally change some after signing, and GET them."""
    base = {"Action": "DescribeRegions", "Version": "2014-05-26", "RegionId": "cn-hangzhou", **params}
    url, _ = get_signed_url(base, base.pop("AccessKeyId", ACCESS_KEY_ID), secret, "JSON", "GET", {})
    if tamper:
        url = url + "&" + urlencode(tamper)
    try:
        with urllib.request.urlopen(ecs.url + url, timeout=5) as answer:  # noqa: S310 - the loopback emulator
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_signature_is_verified(ecs):
    """A correct signature passes; a wrong secret, an unknown key, or a changed parameter are refused as ECS does."""
    status, body = raw_call(ecs, {}, ACCESS_KEY_SECRET)
    assert status == 200 and body["Regions"]["Region"]
    status, body = raw_call(ecs, {}, "wrong-secret")
    assert status == 400 and body["Code"] == "SignatureDoesNotMatch"
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}
    status, body = raw_call(ecs, {"AccessKeyId": "LTAI5tNobodyKnowsMe"}, ACCESS_KEY_SECRET)
    assert status == 404 and body["Code"] == "InvalidAccessKeyId.NotFound"
    status, body = raw_call(ecs, {"PageSize": "10"}, ACCESS_KEY_SECRET, tamper={"Extra": "added"})
    assert status == 400 and body["Code"] == "SignatureDoesNotMatch"


def test_sdk_sees_the_same_string_to_sign(ecs):
    """The SDK recognises the emulator's string to sign as its own and reports a wrong secret as such."""
    client = AcsClient(ACCESS_KEY_ID, "wrong-secret", "cn-hangzhou", auto_retry=False, port=ecs.server.server_port)
    request = RunInstancesRequest()
    request.set_endpoint("127.0.0.1")
    request.set_protocol_type("http")
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(request)
    assert caught.value.get_error_code() == "InvalidAccessKeySecret"
    with pytest.raises(AuthError):
        AliyunDriver(account(ecs, key_id="LTAI5tNobodyKnowsMe")).check_credentials()


def test_amount_over_100_is_refused(ecs):
    """ECS refuses Amount 101 with InvalidParameter; the driver refuses such a batch before calling."""
    client = AcsClient(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "cn-hangzhou", auto_retry=False, port=ecs.server.server_port)
    request = RunInstancesRequest()
    request.set_endpoint("127.0.0.1")
    request.set_protocol_type("http")
    request.set_Amount(101)
    request.set_InstanceType("ecs.g6.large")
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(request)
    assert caught.value.get_error_code() == "InvalidParameter" and caught.value.get_http_status() == 400
    with pytest.raises(InvalidRequestError):
        AliyunDriver(account(ecs)).create_nodes(SPEC, 101, client_token=uuid.uuid4().hex, tags={})
    assert ecs.calls["RunInstances"] == 1 and not ecs.instances()


def test_list_nodes_pages_over_250_instances(ecs):
    """Three creates of 100, 100 and 50; list_nodes reads them back in three pages of 100."""
    driver = AliyunDriver(account(ecs))
    batch = {"dcp": "1", "dcp-batch": "paging"}
    made = []
    for count in (100, 100, 50):
        made += driver.create_nodes(SPEC, count, client_token=uuid.uuid4().hex, tags=batch)
    driver.create_nodes(SPEC, 1, client_token=uuid.uuid4().hex, tags={"dcp": "1", "dcp-batch": "other"})
    listed = driver.list_nodes(batch)
    assert sorted(n.id for n in listed) == sorted(n.id for n in made) and len(listed) == 250
    assert ecs.calls["DescribeInstances"] == 3
    assert len(driver.get_nodes([n.id for n in made])) == 250 and ecs.calls["DescribeInstances"] == 6


def test_status_moves_from_pending_to_running(ecs):
    """A new instance is Pending (or Starting) until boot_seconds pass, then Running, with its details."""
    ecs.faults.boot_seconds = 0.5
    driver = AliyunDriver(account(ecs))
    [node] = driver.create_nodes(SPEC, 1, client_token=uuid.uuid4().hex, tags={"dcp": "1"})
    [early] = driver.get_nodes([node.id])
    assert early.state == NodeState.PENDING and early.extra["status"] in ("Pending", "Starting")
    time.sleep(0.6)
    [late] = driver.get_nodes([node.id])
    assert late.state == NodeState.RUNNING
    assert late.cpu == 2 and late.memory_gb == 8 and late.zone == "cn-hangzhou-h"
    assert late.private_ip and late.instance_type == "ecs.g6.large" and late.tags == {"dcp": "1"}


def test_release_with_live_and_gone_ids(ecs):
    """One already released, one never known, two live: the live ones are released, no error."""
    driver = AliyunDriver(account(ecs))
    nodes = driver.create_nodes(SPEC, 3, client_token=uuid.uuid4().hex, tags={"dcp": "1"})
    ids = [n.id for n in nodes]
    driver.destroy_nodes(ids[:1])
    driver.destroy_nodes([*ids, "i-bpneverexisted00000"])
    assert {i["id"]: i["state"] for i in ecs.instances()} == dict.fromkeys(ids, "Deleted")
    assert driver.get_nodes(ids) == []


def test_same_token_with_other_parameters_is_refused(ecs):
    """ECS refuses a ClientToken reused for a different request rather than guessing."""
    driver = AliyunDriver(account(ecs))
    token = uuid.uuid4().hex
    driver.create_nodes(SPEC, 1, client_token=token, tags={})
    with pytest.raises(InvalidRequestError, match="IdempotentParameterMismatch"):
        driver.create_nodes(SPEC, 2, client_token=token, tags={})


def test_unreachable_endpoint_is_transient(ecs):
    """A refused connection is a passing fault (SDK.HttpError), not a failed job."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError):
        AliyunDriver(account(ecs, endpoint=f"http://127.0.0.1:{port}")).check_credentials()


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InvalidAccessKeyId.Inactive", 400, AuthError),
        ("Forbidden.RAM", 403, AuthError),
        ("Throttling", 400, ThrottledError),
        ("Throttling.Api", 400, ThrottledError),
        ("ServiceUnavailable", 503, TransientError),
        ("SomethingNew", 502, TransientError),
        ("SDK.HttpError", None, TransientError),
        ("OperationDenied.NoStock", 403, CapacityError),
        ("Zone.NotOnSale", 403, CapacityError),
        ("QuotaExceed.ElasticQuota", 403, QuotaExceededError),
        ("InvalidSecurityGroupId.NotFound", 404, NotFoundError),
        ("InvalidImageId.NotFound", 404, InvalidRequestError),
        ("InvalidInstanceType.ValueNotSupported", 400, InvalidRequestError),
        ("InvalidParameter.Mismatch", 400, InvalidRequestError),
    ],
)
def test_error_codes_map_to_the_error_tree(code, status, expected):
    """ECS codes (and SDK ones) land in DCP's error tree."""
    assert error_class(code, status) is expected


def test_secret_never_in_errors_or_logs(ecs, caplog):
    """Every failure, the SDK's own log lines included, is told without the access key secret."""
    caplog.set_level(logging.DEBUG)
    good = AliyunDriver(account(ecs, key_id="LTAI5tSecretTest", secret=SECRET))
    wrong = AliyunDriver(account(ecs, key_id="LTAI5tSecretTest", secret=SECRET + "x"))
    bad_image = AliyunHarness().broken_spec("invalid")
    errors = []
    for call in (
        wrong.check_credentials,
        lambda: good.create_nodes(bad_image, 1, client_token=uuid.uuid4().hex, tags={}),
        lambda: good.create_nodes(SPEC, 101, client_token=uuid.uuid4().hex, tags={}),
    ):
        with pytest.raises(Exception) as caught:
            call()
        errors.append(caught.value)
    ecs.faults.throttle_rate = 1.0
    with pytest.raises(ThrottledError) as caught:
        good.list_nodes({"dcp": "1"})
    errors.append(caught.value)
    ecs.faults.throttle_rate = 0.0
    good.create_nodes(SPEC, 1, client_token=uuid.uuid4().hex, tags={"dcp": "1"})
    assert good.list_nodes({"dcp": "1"})
    for error in errors:
        assert SECRET not in str(error) and SECRET not in repr(error) and SECRET not in str(error.__cause__)
    assert caplog.records, "the SDK and the driver did log"
    assert SECRET not in caplog.text
    assert all(SECRET not in record.getMessage() for record in caplog.records)
