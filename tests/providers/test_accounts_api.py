"""Creating a cloud provider account checks its credentials with the cloud and says plainly when they are wrong."""

import pytest

from apps.providers.models import CloudAccount
from tests.conftest import client_for
from tests.providers.harnesses import all_harnesses

pytestmark = pytest.mark.django_db
CLOUDS = [cls for cls in all_harnesses() if cls.kind != "physical"]


@pytest.fixture(scope="module", params=[cls.kind for cls in CLOUDS])
def cloud(request):
    """One cloud's emulator."""
    harness = next(cls for cls in CLOUDS if cls.kind == request.param)()
    harness.start()
    yield harness
    harness.stop()


def body_of(account: CloudAccount) -> dict:
    """The API body that would create this account."""
    return {
        "name": f"{account.name}-api",
        "kind": account.kind,
        "region": account.region,
        "endpoint_url": account.endpoint_url,
        "credentials": dict(account.credentials),
        "options": account.options,
    }


def test_right_credentials_are_accepted(cloud, sysadmin):
    """201, and the credentials are stored (encrypted) but not shown."""
    answer = client_for(sysadmin).post("/api/v1/providers/", body_of(cloud.account()), format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["has_credentials"] is True and "credentials" not in answer.json()


def test_wrong_credentials_are_refused_plainly(cloud, sysadmin):
    """400 on credentials, saying the provider refused them, and nothing saved; the secret is not echoed."""
    wrong = cloud.account(valid=False)
    before = CloudAccount.objects.count()
    answer = client_for(sysadmin).post("/api/v1/providers/", body_of(wrong), format="json")
    assert answer.status_code == 400, answer.content
    assert "refused" in answer.json()["credentials"][0]
    assert CloudAccount.objects.count() == before
    secret = next(
        v for k, v in wrong.credentials.items() if k in ("secret_access_key", "access_key_secret", "password", "secret")
    )
    assert secret not in answer.content.decode()


def test_template_checked_against_the_cloud_catalog(cloud, sysadmin):
    """A template naming an instance type, image or zone the cloud lacks is refused with a 400 naming it."""
    account = cloud.account()
    spec = cloud.spec()
    client = client_for(sysadmin)
    good = {
        "name": f"{cloud.kind}-good",
        "provider": account.pk,
        "instance_type": spec.instance_type,
        "image": spec.image,
        "zone": spec.zone,
    }
    assert client.post("/api/v1/templates/", good, format="json").status_code == 201
    for field, value in (("instance_type", "no.such.type"), ("image", "no-such-image"), ("zone", "no-such-zone")):
        answer = client.post(
            "/api/v1/templates/", {**good, "name": f"{cloud.kind}-{field}", field: value}, format="json"
        )
        assert answer.status_code == 400, (field, answer.content)
        assert value in answer.json()[field][0]


def test_template_zones_are_checked_against_the_cloud_catalog(cloud, sysadmin):
    """zones: names or {"zone", "subnet"}, each known to the cloud; an unknown or repeated one is a 400."""
    account = cloud.account()
    spec = cloud.spec()
    client = client_for(sysadmin)
    body = {"provider": account.pk, "instance_type": spec.instance_type, "image": spec.image}
    zones = [{"zone": zone, "subnet": cloud.spec(zone).subnet} for zone in cloud.zones[:2]]
    answer = client.post("/api/v1/templates/", {**body, "name": f"{cloud.kind}-zones", "zones": zones}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["zones"] == zones
    for name, value, words in (
        ("unknown", [cloud.zones[0], "no-such-zone"], "no-such-zone"),
        ("repeated", [cloud.zones[0], {"zone": cloud.zones[0]}], "only once"),
        ("shape", [{"zone": cloud.zones[0], "vswitch": "x"}], "each a name or"),
        ("string", cloud.zones[0], "list of zones"),
    ):
        answer = client.post(
            "/api/v1/templates/", {**body, "name": f"{cloud.kind}-{name}", "zones": value}, format="json"
        )
        assert answer.status_code == 400, (name, answer.content)
        assert words in answer.json()["zones"][0], (name, answer.json())


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"terminate_orphans": "yes"}, "true or false"),
        ({"rate_limits": {"create": {"request": [5]}}}, "burst, per_second"),
        ({"rate_limits": {"launch": {"request": [5, 2]}}}, "burst, per_second"),
        ({"rate_limits": {"create": {"request": [5, 0]}}}, "both numbers positive"),
        ({"rate_limits": {"create": {"requests": [5, 2]}}}, "buckets request or resource"),
        ({"pricing_endpoint_url": "ftp://pricing.example"}, "http(s) URL"),
        ({"pricing_endpoint_url": 7}, "http(s) URL"),
        ({"pricing_endpoint_url": "https://me:pw@pricing.example"}, "user name or password"),
        ({"pricing_region": ""}, "region name"),
    ],
)
def test_account_options_dcp_reads_are_checked(sysadmin, options, words):
    """The options DCP acts on (orphan policy, rate limits) must have their shape: a 400 says which."""
    body = {"name": "idc-options", "kind": "physical", "options": options}
    answer = client_for(sysadmin).post("/api/v1/providers/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert words in answer.json()["options"][0]
    good = {"terminate_orphans": True, "rate_limits": {"create": {"request": [5, 2], "resource": [100, 2.5]}}}
    good |= {"pricing_endpoint_url": "https://api.pricing.us-east-1.amazonaws.com", "pricing_region": "us-east-1"}
    answer = client_for(sysadmin).post("/api/v1/providers/", {**body, "options": good}, format="json")
    assert answer.status_code == 201, answer.content


def test_account_quota_is_a_field(sysadmin):
    """max_hosts on an account: a non-negative number, shown back."""
    client = client_for(sysadmin)
    answer = client.post(
        "/api/v1/providers/", {"name": "idc-quota", "kind": "physical", "max_hosts": 30}, format="json"
    )
    assert answer.status_code == 201 and answer.json()["max_hosts"] == 30
    answer = client.post("/api/v1/providers/", {"name": "idc-bad", "kind": "physical", "max_hosts": -1}, format="json")
    assert answer.status_code == 400 and "max_hosts" in answer.json()
