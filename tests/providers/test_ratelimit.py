"""The shared rate limiter: token buckets that hold across worker processes.

Clocks are fixed by the tests (both limiters accept `now`), so what is checked
is the arithmetic of the buckets, not how fast this machine is.
"""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from apps.providers.drivers import NodeSpec, ThrottledError, get_driver
from apps.providers.drivers.paced import PacedDriver
from apps.providers.ratelimit import Bucket, LocalLimiter, RedisLimiter, limits_for
from tests.factories import MachineFactory, PhysicalProviderFactory

ROOT = Path(__file__).resolve().parents[2]


def redis_limiter() -> RedisLimiter:
    """The Redis limiter on the test broker's Redis."""
    assert settings.DCP_REDIS_URL, "the tests run with a Redis broker (see README)"
    return RedisLimiter(settings.DCP_REDIS_URL)


@pytest.mark.parametrize("make", [LocalLimiter, redis_limiter], ids=["local", "redis"])
def test_bucket_arithmetic(make):
    """A bucket of 5 refilled at 2/s: 5 at once, then one every half second, never above 5."""
    limiter, key, bucket = make(), f"test:{uuid.uuid4().hex}", Bucket(5, 2)
    assert [limiter.take(key, bucket, 1, now=100.0) for _ in range(5)] == [0.0] * 5
    assert limiter.take(key, bucket, 1, now=100.0) == pytest.approx(0.5)
    assert limiter.take(key, bucket, 1, now=100.5) == 0.0
    assert limiter.take(key, bucket, 1, now=100.5) == pytest.approx(0.5)
    # A long pause refills to the size, not beyond it.
    assert [limiter.take(key, bucket, 1, now=1000.0) for _ in range(6)].count(0.0) == 5


@pytest.mark.parametrize("make", [LocalLimiter, redis_limiter], ids=["local", "redis"])
def test_resource_cost(make):
    """A batch costs one token per instance: 1000 at once, then 2 a second (EC2's RunInstances)."""
    limiter, key, bucket = make(), f"test:{uuid.uuid4().hex}", Bucket(1000, 2)
    assert limiter.take(key, bucket, 600, now=0.0) == 0.0
    assert limiter.take(key, bucket, 400, now=0.0) == 0.0
    assert limiter.take(key, bucket, 100, now=0.0) == pytest.approx(50.0)
    assert limiter.take(key, bucket, 100, now=50.0) == 0.0


def test_processes_share_the_redis_buckets():
    """Two separate processes drawing from one Redis bucket of 5 (no refill to speak of) get 5 in all."""
    key = f"test:{uuid.uuid4().hex}"
    code = (
        "import sys; from apps.providers.ratelimit import Bucket, RedisLimiter;"
        "l = RedisLimiter(sys.argv[1]);"
        "print(sum(l.take(sys.argv[2], Bucket(5, 0.0001), 1, now=10.0) == 0.0 for _ in range(5)))"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, settings.DCP_REDIS_URL, key], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    granted = [int(run.communicate(timeout=30)[0]) for run in runs]
    assert sum(granted) == 5


@pytest.mark.django_db
def test_account_overrides_and_paced_driver(settings):
    """An account's own limits apply to its driver's calls; past them, ThrottledError (retryable)."""
    settings.DCP_RATE_LIMIT_MAX_WAIT = 0
    provider = PhysicalProviderFactory(options={"rate_limits": {"create": {"request": [2, 0.001]}}})
    MachineFactory.create_batch(4, provider=provider)
    assert limits_for(provider, "create") == {"request": Bucket(2, 0.001)}
    driver = get_driver(provider)
    assert isinstance(driver, PacedDriver)
    for _ in range(2):
        driver.create_nodes(NodeSpec(instance_type="c32"), 1, client_token=uuid.uuid4().hex, tags={})
    with pytest.raises(ThrottledError) as caught:
        driver.create_nodes(NodeSpec(instance_type="c32"), 1, client_token=uuid.uuid4().hex, tags={})
    assert caught.value.retryable
    assert "API limit" in str(caught.value)


def test_defaults_follow_published_limits():
    """EC2's RunInstances: request bucket 5 refilled 2/s, resource bucket 1000 refilled 2/s."""

    class Account:
        kind, options, pk, region, name = "aws", {}, 1, "us-east-1", "aws"

    assert limits_for(Account, "create") == {"request": Bucket(5, 2), "resource": Bucket(1000, 2)}
    assert limits_for(Account, "describe") == {"request": Bucket(100, 20)}
