"""A lazy registry of drivers keyed by provider kind: a driver's SDK is imported only when used."""

from importlib import import_module

from apps.providers.drivers.base import Driver, InvalidRequestError

DRIVERS: dict[str, str] = {
    "physical": "apps.providers.drivers.physical.PhysicalDriver",
    "aws": "apps.providers.drivers.aws.AwsDriver",
    "aliyun": "apps.providers.drivers.aliyun.AliyunDriver",
    "openstack": "apps.providers.drivers.openstack.OpenStackDriver",
    "libcloud": "apps.providers.drivers.libcloud.LibcloudDriver",
}


def available_kinds() -> list[str]:
    """Provider kinds with a driver in this version."""
    return sorted(DRIVERS)


def get_driver_class(kind: str) -> type[Driver]:
    """The driver class for a provider kind."""
    try:
        dotted = DRIVERS[kind]
    except KeyError:
        raise InvalidRequestError(f"no driver for provider kind {kind!r}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)


def preload() -> None:
    """Import every driver's module now (a worker before it forks), not inside the first task that needs it.

    A driver module may also have a ``warm_up()`` for what its SDK builds once per process.
    """
    for kind in DRIVERS:
        warm_up = getattr(import_module(get_driver_class(kind).__module__), "warm_up", None)
        if warm_up is not None:
            warm_up()


#: Drivers the engine reuses in this process, by account and the account's last change.
_ENGINE_DRIVERS: dict[tuple[int, object], Driver] = {}


def engine_driver(account) -> Driver:
    """get_driver(account), reused by this process's engine steps while the account is unchanged.

    A driver keeps what it learns of its account: the Keystone token and compute version
    (OpenStack), flavors, instance types (EC2). Made anew for every task, it asks for them
    again each time: most of the calls of a poll or a tag step.
    """
    if account.pk is None:
        return get_driver(account)
    key = (account.pk, account.updated_at)
    driver = _ENGINE_DRIVERS.get(key)
    if driver is None:
        if len(_ENGINE_DRIVERS) >= 256:
            _ENGINE_DRIVERS.clear()
        driver = _ENGINE_DRIVERS[key] = get_driver(account)
    return driver


def get_driver(account) -> Driver:
    """A driver bound to a provider account, paced by the shared rate limiter when it has limits, its failed
    calls counted for /metrics when the account is saved (an unsaved one is only being checked)."""
    from apps.providers.drivers.counted import CountedDriver
    from apps.providers.drivers.paced import PacedDriver
    from apps.providers.ratelimit import DEFAULT_LIMITS

    driver = get_driver_class(account.kind)(account)
    if account.pk is not None:
        # Inside the pacing: what is counted is what the provider answered, not a call DCP held back.
        driver = CountedDriver(driver)
    if account.kind in DEFAULT_LIMITS or (account.options or {}).get("rate_limits"):
        return PacedDriver(driver)
    return driver
