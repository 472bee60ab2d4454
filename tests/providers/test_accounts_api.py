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
