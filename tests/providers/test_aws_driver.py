"""What the contract suite leaves out for EC2: batch limit, pagination, boot time, error mapping, secrecy."""

import logging
import time
import uuid

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

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
from apps.providers.drivers.aws import TOKEN_TAG, AwsDriver, map_error
from apps.providers.models import CloudAccount
from emulators.aws import AwsEmulator

UNKNOWN_ID = "i-0000000000000dead"


@pytest.fixture
def aws(aws_emulator, db):
    """The harness, reset for this test."""
    aws_emulator.reset()
    return aws_emulator


def batch_tags() -> dict[str, str]:
    """Tags unique to one batch."""
    return {"dcp": "1", "dcp-batch": uuid.uuid4().hex[:12]}


def client_error(code: str, status: int = 400) -> ClientError:
    """A ClientError as botocore builds it from an EC2 error answer."""
    return ClientError(
        {"Error": {"Code": code, "Message": "it went wrong"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "RunInstances",
    )


# --- batches -------------------------------------------------------------------------------
def test_more_than_a_batch_is_refused_before_any_call(aws):
    """250 at once is refused before any call (the engine splits batches); a batch is one RunInstances call."""
    driver = AwsDriver(aws.account())
    assert driver.max_batch == 100
    for count in (250, 101):
        with pytest.raises(InvalidRequestError, match="at most 100"):
            driver.create_nodes(aws.spec(), count, client_token=uuid.uuid4().hex, tags=batch_tags())
    assert aws.calls() == {}
    nodes = driver.create_nodes(aws.spec(), 5, client_token=uuid.uuid4().hex, tags=batch_tags())
    assert len({n.id for n in nodes}) == 5
    assert aws.calls()["RunInstances"] == 1


def test_created_nodes_carry_size_zone_tags_and_token(aws):
    """A node knows its cores and memory (from its type), its zone, its tags and the batch's token."""
    token, tags = uuid.uuid4().hex, batch_tags()
    [node] = get_driver(aws.account()).create_nodes(aws.spec(aws.zones[1]), 1, client_token=token, tags=tags)
    assert node.instance_type == "t3.micro" and node.cpu == 2 and node.memory_gb == 1
    assert node.zone == aws.zones[1] and node.private_ip
    assert node.tags == {**tags, TOKEN_TAG: token}
    assert node.extra["image"] == aws.spec().image and node.name == node.id


# --- pagination and unknown ids ---------------------------------------------------------------
def test_list_and_get_follow_pages_and_chunks(aws):
    """Small pages and id chunks still return every node; unknown ids are left out, not an error."""
    driver = AwsDriver(aws.account())
    driver.page_size, driver.id_chunk, driver.filter_chunk = 5, 3, 2
    tags = batch_tags()
    ids = [n.id for _ in range(6) for n in driver.create_nodes(aws.spec(), 1, client_token=uuid.uuid4().hex, tags=tags)]
    before = aws.calls().get("DescribeInstances", 0)
    assert sorted(n.id for n in driver.list_nodes(tags)) == sorted(ids)
    assert aws.calls()["DescribeInstances"] - before == 2, "6 reservations in pages of 5"
    got = driver.get_nodes([*ids, UNKNOWN_ID, "not-an-id", ids[0]])
    assert sorted(n.id for n in got) == sorted(ids)


def test_destroy_with_unknown_ids_terminates_the_known_ones(aws):
    """An unknown id in a TerminateInstances chunk does not stop the others from being terminated."""
    driver = get_driver(aws.account())
    nodes = driver.create_nodes(aws.spec(), 2, client_token=uuid.uuid4().hex, tags=batch_tags())
    driver.destroy_nodes([UNKNOWN_ID, *(n.id for n in nodes)])
    assert {n.state for n in driver.get_nodes([n.id for n in nodes])} == {NodeState.TERMINATED}
    inventory = aws.inventory()
    assert all(inventory[n.id] == "terminated" for n in nodes)


def test_quota_counts_live_instances(aws):
    """The emulator's quota counts live instances: terminated ones free their place."""
    driver = get_driver(aws.account())
    aws.set_faults(instance_quota=2)
    first = driver.create_nodes(aws.spec(), 2, client_token=uuid.uuid4().hex, tags=batch_tags())
    with pytest.raises(QuotaExceededError):
        driver.create_nodes(aws.spec(), 1, client_token=uuid.uuid4().hex, tags=batch_tags())
    driver.destroy_nodes([n.id for n in first])
    assert len(driver.create_nodes(aws.spec(), 2, client_token=uuid.uuid4().hex, tags=batch_tags())) == 2


def test_boot_time_keeps_new_instances_pending(aws):
    """With boot_seconds set, new instances are pending until that time has passed, then running."""
    driver = get_driver(aws.account())
    boot = 3.0  # well above a create and a describe on a busy machine (0.4 s was not, once, in CI)
    aws.set_faults(boot_seconds=boot)
    started = time.monotonic()
    nodes = driver.create_nodes(aws.spec(), 2, client_token=uuid.uuid4().hex, tags=batch_tags())
    created = time.monotonic()  # the instances were launched between started and now
    ids = [n.id for n in nodes]
    states = {n.state for n in driver.get_nodes(ids)}
    if time.monotonic() - started < boot:  # a machine slower than the boot time cannot see them pending
        assert states == {NodeState.PENDING}
    time.sleep(max(0.0, created + boot + 0.1 - time.monotonic()))
    assert {n.state for n in driver.get_nodes(ids)} == {NodeState.RUNNING}


def test_throttling_surfaces_after_one_attempt(aws):
    """botocore does not retry on its own: one throttled answer is one ThrottledError, one call made."""
    driver = AwsDriver(aws.account())
    aws.set_faults(throttle_rate=1.0)
    with pytest.raises(ThrottledError):
        driver.list_nodes({"dcp": "1"})
    aws.set_faults(error_rate=1.0)
    with pytest.raises(TransientError):
        driver.get_nodes([UNKNOWN_ID])
    assert aws.calls()["DescribeInstances"] == 2


def test_images_are_the_accounts_own_and_public_ones_are_found_by_id(aws):
    """list_images stays bounded (the account's own AMIs); a public AMI is found by id, a missing one is None."""
    account = aws.account()
    driver = AwsDriver(account)
    assert aws.spec().image not in [image.id for image in driver.list_images()]
    assert driver.find_image(aws.spec().image).id == aws.spec().image
    assert driver.find_image("ami-00000000deadbeef") is None


# --- credentials --------------------------------------------------------------------------------
def test_unknown_key_and_wrong_session_token_are_refused(aws):
    """The emulator accepts only its own key pair, signed correctly, as EC2 does."""
    account = aws.account()
    good = dict(account.credentials)
    for credentials in (
        {**good, "access_key_id": "AKIAUNKNOWN000000000"},
        {**good, "session_token": "a-token-nobody-issued"},
        {"access_key_id": good["access_key_id"]},
    ):
        account.credentials = credentials
        with pytest.raises(AuthError):
            AwsDriver(account).check_credentials()
    account.credentials = good
    AwsDriver(account).check_credentials()


def test_credentials_never_appear_in_errors_or_logs(aws, caplog):
    """When auth fails or the endpoint is down, neither the message nor DCP's logs carry a secret."""
    caplog.set_level(logging.DEBUG, logger="apps")
    caplog.set_level(logging.INFO)
    secret, session_token = "s3cr3t-" + uuid.uuid4().hex, "t0ken-" + uuid.uuid4().hex
    account = aws.account()
    account.credentials = {**account.credentials, "secret_access_key": secret, "session_token": session_token}
    down = CloudAccount(
        name="aws-down",
        kind="aws",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        credentials=account.credentials,
    )
    errors = []
    for target, error in ((account, AuthError), (down, TransientError)):
        driver = AwsDriver(target)
        with pytest.raises(error) as caught:
            driver.create_nodes(aws.spec(), 1, client_token=uuid.uuid4().hex, tags=batch_tags())
        errors.append(caught.value)
    for exc in errors:
        for text in (str(exc), exc.message, repr(exc.args)):
            assert secret not in text and session_token not in text
    assert secret not in caplog.text and session_token not in caplog.text


# --- error mapping ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AuthFailure", 401, AuthError),
        ("UnauthorizedOperation", 403, AuthError),
        ("InvalidClientTokenId", 403, AuthError),
        ("SignatureDoesNotMatch", 403, AuthError),
        ("RequestLimitExceeded", 503, ThrottledError),
        ("Throttling", 400, ThrottledError),
        ("ThrottlingException", 400, ThrottledError),
        ("InsufficientInstanceCapacity", 500, CapacityError),
        ("InsufficientCapacity", 500, CapacityError),
        ("Unsupported", 400, CapacityError),
        ("InstanceLimitExceeded", 400, QuotaExceededError),
        ("VcpuLimitExceeded", 400, QuotaExceededError),
        ("MaxSpotInstanceCountExceeded", 400, QuotaExceededError),
        ("InvalidSubnetID.NotFound", 400, NotFoundError),
        ("InvalidGroup.NotFound", 400, NotFoundError),
        ("InvalidKeyPair.NotFound", 400, NotFoundError),
        ("InvalidAMIID.NotFound", 400, InvalidRequestError),
        ("InvalidAMIID.Malformed", 400, InvalidRequestError),
        ("InvalidParameterValue", 400, InvalidRequestError),
        ("InvalidParameterCombination", 400, InvalidRequestError),
        ("MissingParameter", 400, InvalidRequestError),
        ("InternalError", 500, TransientError),
        ("ServiceUnavailable", 503, TransientError),
        ("Unavailable", 503, TransientError),
        ("SomethingNew", 502, TransientError),
        ("SomethingForbidden", 403, AuthError),
    ],
)
def test_error_codes_map_to_typed_errors(code, status, expected):
    """Each EC2 error code gives its DCP error class, the code kept, the retryable flag of the class."""
    error = map_error(client_error(code, status), operation="RunInstances")
    assert type(error) is expected
    assert error.code == code and code in str(error)
    assert error.retryable is (expected in (ThrottledError, TransientError))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), TransientError),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), TransientError),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), TransientError),
        (NoCredentialsError(), AuthError),
        (ParamValidationError(report="MinCount must be an integer"), InvalidRequestError),
    ],
)
def test_connection_and_client_side_errors_map(exc, expected):
    """Timeouts and refused connections are transient; missing credentials and bad parameters are not."""
    assert type(map_error(exc)) is expected


def test_mapping_redacts_secrets():
    """A secret that somehow reaches a message is replaced before the error is raised."""
    error = map_error(client_error("AuthFailure", 401), secrets=["went"])
    assert "went" not in str(error) and "***" in str(error)


def test_emulator_refuses_unsigned_calls():
    """Without a signature nothing reaches moto: the front answers AuthFailure itself."""
    from emulators.base import Request

    emulator = AwsEmulator()
    request = Request("POST", "/", {}, {"content-type": "application/x-www-form-urlencoded"}, b"Action=DescribeRegions")
    response = emulator.dispatch(request)
    assert response.status == 401 and b"AuthFailure" in response.body


def test_emulator_finds_an_instances_image_by_id_as_moto_does(aws):
    """The emulator's by-id image look-up answers as moto's filter scan does: the same AMI, or none."""
    from moto.backends import get_backend
    from moto.ec2.models.amis import AmiBackend

    from tests.providers.harnesses.aws import IMAGE, REGION

    backend = get_backend("ec2")["123456789012"][REGION]
    assert getattr(AmiBackend.describe_images, "by_id", False)
    scan = AmiBackend.describe_images.__wrapped__
    for wanted in (IMAGE, "ami-00000000deadbeef"):
        by_id = backend.describe_images(filters={"image-id": wanted})
        assert [a.id for a in by_id] == [a.id for a in scan(backend, filters={"image-id": wanted})]
    assert [a.id for a in backend.describe_images(filters={"image-id": IMAGE})] == [IMAGE]
    # A pattern, or any other filter, is moto's own scan.
    assert IMAGE in [a.id for a in backend.describe_images(filters={"image-id": IMAGE[:-1] + "*"})]
    # Instances still take their image's architecture.
    driver = get_driver(aws.account())
    (node,) = driver.create_nodes(aws.spec(), 1, client_token=uuid.uuid4().hex, tags=batch_tags(), first_attempt=True)
    (instance,) = [i for i in backend.all_instances() if i.id == node.id]
    assert instance.architecture == backend.amis[IMAGE].architecture


def test_a_first_create_skips_the_look_up_a_retry_makes(aws):
    """first_attempt: no DescribeInstances before RunInstances; the retry with the same token finds the batch."""
    driver = get_driver(aws.account())
    token = uuid.uuid4().hex
    made = driver.create_nodes(aws.spec(), 2, client_token=token, tags=batch_tags(), first_attempt=True)
    assert aws.calls().get("DescribeInstances", 0) == 0 and aws.calls()["RunInstances"] == 1
    again = driver.create_nodes(aws.spec(), 2, client_token=token, tags=batch_tags())
    assert {n.id for n in again} == {n.id for n in made}
    assert aws.calls()["RunInstances"] == 1 and aws.calls()["DescribeInstances"] == 1
