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


def get_driver(account) -> Driver:
    """A driver bound to a provider account, paced by the shared rate limiter when it has limits."""
    from apps.providers.drivers.paced import PacedDriver
    from apps.providers.ratelimit import DEFAULT_LIMITS

    driver = get_driver_class(account.kind)(account)
    if account.kind in DEFAULT_LIMITS or (account.options or {}).get("rate_limits"):
        return PacedDriver(driver)
    return driver
