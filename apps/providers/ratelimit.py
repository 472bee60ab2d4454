"""A rate limiter shared by all workers: token buckets per account, region, API action.

Each provider call first takes tokens from its buckets, so DCP as a whole (any
number of worker processes on any number of machines) stays under the cloud's
own API limits instead of learning them from throttling errors. Buckets live
in Redis when DCP has one (atomic Lua script, Redis's clock), otherwise in
this process. Defaults follow the providers' published limits; an account's
``options["rate_limits"]`` overrides them, e.g.
``{"create": {"request": [5, 2]}}`` (bucket size, tokens per second).

A call waits for tokens only briefly (DCP_RATE_LIMIT_MAX_WAIT); a longer wait
raises ThrottledError, so the task is re-queued with back-off instead of
holding a worker.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from apps.providers.drivers.base import ThrottledError


@dataclass(frozen=True)
class Bucket:
    """A token bucket: at most `size` tokens, refilled at `rate` tokens per second."""

    size: float
    rate: float


# Logical actions: create (one call per batch), describe, destroy, catalog, tag (one call per node).
# "request" buckets cost one token per call, "resource" buckets one per instance.
DEFAULT_LIMITS: dict[str, dict[str, dict[str, Bucket]]] = {
    # EC2's published limits: RunInstances 5 / 2 per second, plus 1000 / 2 per second instances;
    # non-mutating Describe* 100 / 20; TerminateInstances 1000 / 20 instances.
    "aws": {
        "create": {"request": Bucket(5, 2), "resource": Bucket(1000, 2)},
        "describe": {"request": Bucket(100, 20)},
        "destroy": {"request": Bucket(50, 5), "resource": Bucket(1000, 20)},
        "catalog": {"request": Bucket(100, 20)},
        # CreateTags has a bucket of its own: 100, refilled 10 per second.
        "tag": {"request": Bucket(100, 10)},
    },
    # ECS flow control is per API and per account; these stay well inside the documented defaults.
    "aliyun": {
        "create": {"request": Bucket(10, 5)},
        "describe": {"request": Bucket(50, 25)},
        "destroy": {"request": Bucket(10, 5)},
        "catalog": {"request": Bucket(50, 25)},
        "tag": {"request": Bucket(20, 10)},
    },
    # Nova's limits are set by each deployment; a private cloud's API is easily overwhelmed.
    "openstack": {
        "create": {"request": Bucket(10, 5)},
        "describe": {"request": Bucket(20, 10)},
        "destroy": {"request": Bucket(20, 10)},
        "catalog": {"request": Bucket(20, 10)},
        "tag": {"request": Bucket(20, 10)},
    },
    "libcloud": {
        "create": {"request": Bucket(10, 5)},
        "describe": {"request": Bucket(20, 10)},
        "destroy": {"request": Bucket(20, 10)},
        "catalog": {"request": Bucket(20, 10)},
        "tag": {"request": Bucket(20, 10)},
    },
}

#: The logical actions an account's options["rate_limits"] may override.
ACTIONS = ("create", "describe", "destroy", "catalog", "tag")


class Limiter(ABC):
    """Takes tokens from named buckets."""

    @abstractmethod
    def take(self, key: str, bucket: Bucket, cost: float, now: float | None = None) -> float:
        """Take cost tokens if there are enough and return 0; else take none and return seconds to wait."""


class LocalLimiter(Limiter):
    """Buckets in this process (the embedded default, or when no Redis is configured)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, bucket: Bucket, cost: float, now: float | None = None) -> float:
        """Refill by elapsed time, then take or say how long to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._state.get(key, (bucket.size, now))
            tokens = min(bucket.size, tokens + max(0.0, now - stamp) * bucket.rate)
            if tokens >= cost:
                self._state[key] = (tokens - cost, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (cost - tokens) / bucket.rate


# Atomic in Redis: refill from Redis's own clock (or ARGV[4] when a test fixes the time), then take.
TAKE_SCRIPT = """
local size = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil or now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil then
  tokens = size
  stamp = now
end
tokens = math.min(size, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(size / rate) + 60)
return tostring(wait)
"""


class RedisLimiter(Limiter):
    """Buckets in Redis, shared by every worker process that uses the same Redis."""

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script = self._redis.register_script(TAKE_SCRIPT)

    def take(self, key: str, bucket: Bucket, cost: float, now: float | None = None) -> float:
        """Take atomically in Redis."""
        wait = self._script(keys=[key], args=[bucket.size, bucket.rate, cost, -1 if now is None else now])
        return float(wait)


@lru_cache(maxsize=1)
def limiter() -> Limiter:
    """The limiter of this process: Redis when DCP_REDIS_URL (or a Redis broker) is set, else local."""
    url = settings.DCP_REDIS_URL
    return RedisLimiter(url) if url else LocalLimiter()


def limits_for(account, action: str) -> dict[str, Bucket]:
    """The buckets a call to action on this account takes from: defaults, then the account's overrides."""
    buckets = dict(DEFAULT_LIMITS.get(account.kind, {}).get(action, {}))
    overrides = ((account.options or {}).get("rate_limits") or {}).get(action) or {}
    for name, (size, rate) in overrides.items():
        buckets[name] = Bucket(float(size), float(rate))
    return buckets


def _count(account, action: str, waited: float | None) -> None:
    """Count, for /metrics, a wait of ``waited`` seconds or (None) a call deferred to a later retry.

    An unsaved account (being checked before it is saved) is not counted."""
    from apps.monitoring import counters

    if account.pk is None:
        return
    labels = {"provider": account.pk, "action": action}
    if waited is None:
        counters.increment(counters.RATE_LIMIT_DEFERRALS, labels)
    else:
        counters.add(
            [(counters.RATE_LIMIT_WAITS, labels, 1), (counters.RATE_LIMIT_WAIT_US, labels, round(waited * 1e6))]
        )


def pace(account, action: str, resources: int = 1) -> None:
    """Wait (briefly) for this call's tokens, or raise ThrottledError so the task is retried later."""
    deadline = time.monotonic() + settings.DCP_RATE_LIMIT_MAX_WAIT
    for name, bucket in limits_for(account, action).items():
        cost = min(float(resources if name == "resource" else 1), bucket.size)
        key = f"dcp:ratelimit:{account.pk}:{account.region}:{action}:{name}"
        while True:
            wait = limiter().take(key, bucket, cost)
            if wait == 0:
                break
            if time.monotonic() + wait > deadline:
                _count(account, action, None)
                raise ThrottledError(
                    f"{account.name}: holding {action} calls under the provider's API limit "
                    f"({bucket.size:g} at once, {bucket.rate:g}/s); next slot in {wait:.1f}s",
                    code="DCPRateLimit",
                )
            time.sleep(wait)
            _count(account, action, wait)
