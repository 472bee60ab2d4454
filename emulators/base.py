"""What every emulator shares: an HTTP server, injected faults, and a control API.

Each emulator serves its provider's API on one port and, under ``/_emulator/``,
a control API the tests and benchmarks use:

- ``GET/PUT /_emulator/faults``: latency per call, boot time per instance, the
  share of calls answered throttled or with a 5xx, zones out of capacity;
- ``GET /_emulator/instances``: the emulator's own inventory (the ground truth
  a test compares DCP's database with);
- ``GET /_emulator/calls``: calls received, by action;
- ``GET/PUT /_emulator/prices``: the price list the provider's pricing API answers from, region →
  instance type → hourly price (a decimal string); a PUT merges, ``null`` removes an entry (the
  pricing API then has no price for it) and ``"0"`` makes it answer a price of 0;
- ``GET /_emulator/key-pairs``: the key pairs the cloud holds (name, public key, fingerprint);
- ``POST /_emulator/reset``: forget every instance, key pair, call count and fault, and restore the default prices.

An instance created with a key pair and given a pooled address (a real machine's, see ``hand_out`` in the
tests) gets the key pair's public key in root's ``authorized_keys`` at boot, as a cloud's guest agent
(cloud-init) would: through ``key_injector``, which whoever pools the addresses sets.

Faults are decided per call with a seeded random generator, so a run can be repeated.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

CONTROL = "/_emulator/"


@dataclass
class Faults:
    """What an emulator does wrong, on purpose."""

    latency: float = 0.0  # seconds added to every API call
    boot_seconds: float = 0.0  # from create until the instance runs
    throttle_rate: float = 0.0  # share of API calls answered "throttled"
    error_rate: float = 0.0  # share of API calls answered with a 5xx
    exhausted_zones: list[str] = field(default_factory=list)  # zones with no capacity left
    instance_quota: int | None = None  # live instances the account may have; past it, a quota error
    seed: int | None = None

    @classmethod
    def from_json(cls, data: dict) -> Faults:
        """Build from a JSON object, refusing unknown keys and bad values."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        faults = cls(**data)
        for name in ("latency", "boot_seconds"):
            if not isinstance(getattr(faults, name), (int, float)) or getattr(faults, name) < 0:
                raise ValueError(f"{name} must be a number of seconds, 0 or more")
        if faults.instance_quota is not None and (
            not isinstance(faults.instance_quota, int) or faults.instance_quota < 0
        ):
            raise ValueError("instance_quota must be a whole number, 0 or more")
        for name in ("throttle_rate", "error_rate"):
            value = getattr(faults, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        return faults


@dataclass
class Request:
    """One API request, as the emulator sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    """What the emulator answers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        """A JSON answer."""
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


class Emulator(ABC):
    """A provider emulator: subclasses implement handle() and the two fault answers.

    State is held in memory under ``self.lock``; ``instances()`` returns the
    inventory as plain dicts for ``GET /_emulator/instances``.
    """

    name = "emulator"
    #: The price list a new (or reset) emulator answers from: region → instance type → price per hour.
    DEFAULT_PRICES: dict[str, dict[str, str]] = {}

    def __init__(self, faults: Faults | None = None):
        self.prices: dict[str, dict[str, str]] = copy.deepcopy(self.DEFAULT_PRICES)
        self.lock = threading.RLock()
        self.faults = faults or Faults()
        self.random = random.Random(self.faults.seed)
        self.calls: Counter[str] = Counter()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        # Addresses handed to new instances before the emulator's own: real test hosts' IPs, so an
        # instance "created" here is a machine DCP can reach over SSH.
        self.address_pool: deque[str] = deque()
        #: Puts a public key into root's authorized_keys on the machine at an address (pooled addresses only).
        self.key_injector: Callable[[str, str], None] | None = None

    def next_address(self, made_up: str, public_key: str = "") -> str:
        """The next pooled address for a new instance, else the one the emulator made up.

        A pooled address is a real machine: the instance's key pair (public_key) is put on it, as the
        cloud's guest agent would at first boot, so DCP can log in with the key it imported.
        """
        if not self.address_pool:
            return made_up
        address = self.address_pool.popleft()
        if public_key and self.key_injector is not None:
            self.key_injector(address, public_key)
        return address

    def key_pairs(self) -> list[dict]:
        """The cloud's key pairs: name, public key and fingerprint each (none where it has no key pairs)."""
        return []

    # --- what subclasses implement -------------------------------------------------
    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer one API call."""

    def action_of(self, request: Request) -> str:
        """A short name for the call, for the call counts (e.g. RunInstances)."""
        return f"{request.method} {request.path}"

    @abstractmethod
    def throttled(self, request: Request) -> Response:
        """The provider's own "slow down" answer."""

    @abstractmethod
    def server_error(self, request: Request) -> Response:
        """The provider's own 5xx answer."""

    @abstractmethod
    def instances(self) -> list[dict]:
        """Every instance the emulator holds (terminated ones included, with their state)."""

    @abstractmethod
    def reset_state(self) -> None:
        """Forget every instance."""

    # --- shared behaviour ----------------------------------------------------------
    def booted(self, created_at: float) -> bool:
        """Whether an instance created at created_at has finished booting."""
        return time.monotonic() - created_at >= self.faults.boot_seconds

    def zone_exhausted(self, zone: str) -> bool:
        """Whether a zone is out of capacity."""
        return zone in self.faults.exhausted_zones

    def over_quota(self, live: int, more: int) -> bool:
        """Whether adding more instances to live ones would pass the account's quota."""
        return self.faults.instance_quota is not None and live + more > self.faults.instance_quota

    def price_of(self, region: str, instance_type: str) -> Decimal | None:
        """The listed price of a type in a region, or None when the list has none."""
        with self.lock:
            listed = self.prices.get(region, {}).get(instance_type)
        return Decimal(listed) if listed is not None else None

    def set_prices(self, changes: object) -> dict[str, dict[str, str]]:
        """Merge changes (region → type → price string, or None to remove) into the price list; all or nothing."""
        if not isinstance(changes, dict) or not all(isinstance(types, dict) for types in changes.values()):
            raise ValueError('give {"<region>": {"<instance type>": "0.0104" or null}}')
        for types in changes.values():
            for price in types.values():
                if price is None:
                    continue
                try:
                    valid = isinstance(price, str) and Decimal(price) >= 0
                except InvalidOperation:
                    valid = False
                if not valid:
                    raise ValueError(f"{price!r} is not a price: give a decimal string, 0 or more, or null")
        with self.lock:
            for region, types in changes.items():
                listed = self.prices.setdefault(region, {})
                for instance_type, price in types.items():
                    if price is None:
                        listed.pop(instance_type, None)
                    else:
                        listed[instance_type] = price
            return copy.deepcopy(self.prices)

    def dispatch(self, request: Request) -> Response:
        """Control API, or an API call with faults applied."""
        if request.path.startswith(CONTROL):
            return self.control(request)
        action = self.action_of(request)
        with self.lock:
            self.calls[action] += 1
            roll = self.random.random()
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if roll < self.faults.throttle_rate:
            return self.throttled(request)
        if roll < self.faults.throttle_rate + self.faults.error_rate:
            return self.server_error(request)
        return self.handle(request)

    def control(self, request: Request) -> Response:
        """The /_emulator/ control API."""
        what = request.path[len(CONTROL) :].strip("/")
        if what == "faults" and request.method == "GET":
            return Response.json(200, asdict(self.faults))
        if what == "faults" and request.method in ("PUT", "POST"):
            try:
                faults = Faults.from_json(request.json() or {})
            except (ValueError, TypeError) as exc:
                return Response.json(400, {"error": str(exc)})
            with self.lock:
                self.faults = faults
                self.random = random.Random(faults.seed)
            return Response.json(200, asdict(faults))
        if what == "instances" and request.method == "GET":
            with self.lock:
                return Response.json(200, self.instances())
        if what == "key-pairs" and request.method == "GET":
            with self.lock:
                return Response.json(200, self.key_pairs())
        if what == "addresses" and request.method in ("PUT", "POST"):
            addresses = (request.json() or {}).get("addresses")
            if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
                return Response.json(400, {"error": 'give {"addresses": ["10.0.0.5", ...]}'})
            with self.lock:
                self.address_pool = deque(addresses)
            return Response.json(200, {"addresses": addresses})
        if what == "prices" and request.method == "GET":
            with self.lock:
                return Response.json(200, self.prices)
        if what == "prices" and request.method in ("PUT", "POST"):
            try:
                return Response.json(200, self.set_prices(request.json()))
            except ValueError as exc:
                return Response.json(400, {"error": str(exc)})
        if what == "calls" and request.method == "GET":
            with self.lock:
                return Response.json(200, dict(self.calls))
        if what == "reset" and request.method == "POST":
            with self.lock:
                self.reset_state()
                self.prices = copy.deepcopy(self.DEFAULT_PRICES)
                self.calls.clear()
                self.address_pool.clear()
                self.faults = Faults()
                self.random = random.Random()
            return Response.json(200, {"reset": True})
        return Response.json(404, {"error": f"no control endpoint {request.method} {request.path}"})

    # --- serving -------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL (http://host:port)."""
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"{self.name}-emulator", daemon=True)
        self.thread.start()
        return self.url

    @property
    def url(self) -> str:
        """The base URL the emulator serves on."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def serve_forever(self, host: str, port: int) -> None:
        """Serve in the foreground (for ``python -m emulators.<name>``)."""
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        print(f"{self.name} emulator on {self.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            self.server.serve_forever()


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
            )
            try:
                response = emulator.dispatch(request)
            except Exception as exc:  # noqa: BLE001 - an emulator bug must answer, not hang the client
                response = Response.json(500, {"error": f"emulator error: {type(exc).__name__}: {exc}"})
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            """Quiet: the call counts say what was asked."""

    return Handler


def main(emulator_class: type[Emulator], default_port: int) -> None:
    """Command-line entry: ``python -m emulators.<name> [--host H] [--port P]``."""
    import argparse

    parser = argparse.ArgumentParser(description=f"Run the {emulator_class.name} emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args()
    emulator_class().serve_forever(args.host, args.port)
