"""The AWS EC2 emulator: moto's EC2 behind a thin front that checks signatures and injects faults.

EC2 itself is moto (run as a server in this process, on its own loopback
port); this module adds what moto does not do and what DCP must be tested
against:

- credentials: every call must carry a valid AWS Signature Version 4 made with
  the emulator's one key pair; anything else is refused with ``AuthFailure``,
  as EC2 does (moto alone accepts any key);
- key pairs: a RunInstances naming a key pair the region lacks is refused
  (``InvalidKeyPair.NotFound``), as EC2 does (moto's own check, switched on);
  an instance given a pooled address (a real machine's) gets its key pair's
  public key there at boot (see emulators.base);
- faults: throttling (``RequestLimitExceeded``, 503), server errors
  (``InternalError``, 500), zones out of capacity (``InsufficientInstanceCapacity``),
  an instance quota (``InstanceLimitExceeded``), latency, and a boot time
  during which new instances stay ``pending``;
- the Pricing API (``GetProducts``, see emulators.aws_pricing), answered from the
  emulator's price list, since moto has none;
- the ``/_emulator/`` control API of the base class.

Moto's state is process-wide, so one process runs one AWS emulator.
Run it alone with ``python -m emulators.aws [--port 5000]``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from xml.sax.saxutils import escape

from emulators import aws_pricing
from emulators.base import Emulator, Faults, Request, Response, main

# Headers that belong to one hop, not to the request being passed on.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade", "date", "server"}
)
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<scope>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)$"
)
INSTANCE_ID = re.compile(r"<instanceId>(i-[0-9a-zA-Z]+)</instanceId>")
LIVE_STATES = ("pending", "running")


def error_xml(code: str, message: str) -> bytes:
    """EC2's error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()


def ec2_error(status: int, code: str, message: str) -> Response:
    """An EC2 error answer."""
    return Response(status, error_xml(code, message), {"Content-Type": "text/xml;charset=UTF-8"})


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_signature(request: Request, secret: str, amz_date: str, scope: str, signed: list[str]) -> str:
    """The Signature Version 4 a client holding secret would have sent for this request."""
    query = "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}" for key, value in sorted(request.query.items())
    )
    headers = "".join(f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed)
    payload = request.headers.get("x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    canonical = "\n".join(
        [request.method, quote(request.path or "/", safe="/~"), query, headers, ";".join(signed), payload]
    )
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, terminator = scope.split("/")
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, terminator):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def look_up_images_by_id() -> None:
    """Answer moto's own per-instance image look-up from its AMI table instead of a scan of all of it.

    Moto finds each new instance's AMI with ``describe_images(filters={"image-id": ...})``, which
    matches the filter against every one of its ~1,300 AMIs: 0.55 s of a RunInstances call of 100
    (measured with cProfile), CPU that real EC2 does not spend on DCP's machine and that the
    benchmarks would count against DCP. A filter on one exact id is a look-up in the same table, with
    the same answer. Every other call goes to moto's own method. Idempotent.
    """
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.describe_images
    if getattr(original, "by_id", False):
        return

    def describe_images(self, ami_ids=None, filters=None, exec_users=None, owners=None):
        wanted = (filters or {}).get("image-id")
        exact = isinstance(wanted, str) and not any(char in wanted for char in "*?[")
        if exact and set(filters) == {"image-id"} and not (ami_ids or exec_users or owners):
            return [self.amis[wanted]] if wanted in self.amis else []
        return original(self, ami_ids=ami_ids, filters=filters, exec_users=exec_users, owners=owners)

    describe_images.by_id = True
    describe_images.__wrapped__ = original
    AmiBackend.describe_images = describe_images


class AwsEmulator(Emulator):
    """EC2 for one account: moto's EC2 behind signature checks and injected faults.

    The account's key pair is ``ACCESS_KEY_ID`` / ``SECRET_ACCESS_KEY`` unless
    others are given; calls signed with anything else are refused.
    """

    name = "aws"
    DEFAULT_PRICES = aws_pricing.DEFAULT_PRICES
    ACCESS_KEY_ID = "AKIADCPEMULATOR00001"
    SECRET_ACCESS_KEY = "dcp-emulator-secret-access-key"  # noqa: S105 - the emulator's own well-known demo key

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
    ):
        super().__init__(faults)
        self.access_key_id = access_key_id or self.ACCESS_KEY_ID
        self.secret_access_key = secret_access_key or self.SECRET_ACCESS_KEY
        self.session_token = session_token
        self.moto: Any = None
        self.moto_address: tuple[str, int] | None = None
        # Creates are serialised so two batches cannot both pass the quota check.
        self.create_lock = threading.Lock()
        # Instance id → when it was created, for those still booting.
        self.booting: dict[str, float] = {}

    # --- moto ------------------------------------------------------------------------
    def start_moto(self, host: str = "127.0.0.1") -> None:
        """Start moto's server on a free loopback port, with AMI and instance-type checks on."""
        if self.moto is not None:
            return
        from moto import settings
        from moto.server import ThreadedMotoServer

        # The same switches as MOTO_ENABLE_AMI_VALIDATION and MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION;
        # set on the settings module because moto reads the variables once, when first imported.
        # Without them moto runs an instance of any image or type, and an unknown AMI is no error.
        settings.ENABLE_AMI_VALIDATION = True
        settings.EC2_ENABLE_INSTANCE_TYPE_VALIDATION = True
        settings.ENABLE_KEYPAIR_VALIDATION = True
        look_up_images_by_id()
        # Moto's server logs every request; the call counts already say what was asked.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.moto = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
        self.moto.start()
        self.moto_address = self.moto.get_host_and_port()

    def stop_moto(self) -> None:
        """Stop moto's server."""
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start moto, then serve the front in a background thread; returns the front's URL."""
        self.start_moto(host)
        return super().start(host, port)

    def stop(self) -> None:
        """Stop the front and moto."""
        super().stop()
        self.stop_moto()

    def serve_forever(self, host: str, port: int) -> None:
        """Serve in the foreground, moto alongside."""
        self.start_moto(host)
        print(f"aws emulator: access key id {self.access_key_id}, moto on port {self.moto_address[1]}", flush=True)
        try:
            super().serve_forever(host, port)
        finally:
            self.stop_moto()

    def backends(self) -> list[Any]:
        """Moto's EC2 backends that hold anything (one per account and region used)."""
        from moto.backends import get_backend

        return [backend for regions in get_backend("ec2").values() for backend in regions.values()]

    def region_instances(self, region: str) -> list[Any]:
        """Moto's instances in one region."""
        return [i for backend in self.backends() if backend.region_name == region for i in backend.all_instances()]

    # --- the API ---------------------------------------------------------------------
    def params(self, request: Request) -> dict[str, str]:
        """The Query API parameters (form body and URL query)."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        return {**request.query, **form}

    def action_of(self, request: Request) -> str:
        """The EC2 action (RunInstances, DescribeInstances...) or Pricing operation (GetProducts)."""
        pricing = aws_pricing.target_of(request.headers)
        return pricing or self.params(request).get("Action") or f"{request.method} {request.path}"

    def throttled(self, request: Request) -> Response:
        """EC2's (or the Pricing API's) rate limit answer."""
        if aws_pricing.target_of(request.headers):
            return Response(*aws_pricing.error(400, "ThrottlingException", "Rate exceeded"))
        return ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")

    def server_error(self, request: Request) -> Response:
        """EC2's (or the Pricing API's) internal error answer."""
        if aws_pricing.target_of(request.headers):
            return Response(*aws_pricing.error(500, "InternalErrorException", "An internal error has occurred."))
        return ec2_error(500, "InternalError", "An internal error has occurred.")

    def pricing(self, request: Request) -> Response:
        """A Pricing API call: GetProducts from the price list; other operations are not emulated."""
        operation = aws_pricing.target_of(request.headers)
        if operation != "GetProducts":
            return Response(*aws_pricing.error(400, "UnknownOperationException", f"{operation} is not emulated."))
        try:
            body = request.json() or {}
        except ValueError:
            return Response(*aws_pricing.error(400, "SerializationException", "The body is not JSON."))
        with self.lock:
            return Response(*aws_pricing.get_products(body, self.prices))

    def handle(self, request: Request) -> Response:
        """Check the signature, apply capacity and quota faults, and pass the call to moto."""
        scope = self.authenticate(request)
        if scope is None and aws_pricing.target_of(request.headers):
            return Response(
                *aws_pricing.error(403, "UnrecognizedClientException", "The security token included is invalid.")
            )
        if scope is None:
            return ec2_error(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
        if aws_pricing.target_of(request.headers):
            return self.pricing(request)
        region = scope.split("/")[1]
        self.finish_booting()
        params = self.params(request)
        if params.get("Action") != "RunInstances":
            return self.forward(request)
        with self.create_lock:
            refusal = self.refuse_run(params, region)
            if refusal is not None:
                return refusal
            response = self.forward(request)
            if response.status == 200:
                ids = INSTANCE_ID.findall(response.body.decode("utf-8", "replace"))
                response = self.give_pooled_addresses(response, ids, region)
                if self.faults.boot_seconds > 0:
                    self.start_booting(ids, region)
            return response

    def authenticate(self, request: Request) -> str | None:
        """The credential scope of a request correctly signed with the emulator's key, else None."""
        match = AUTHORIZATION.match(request.headers.get("authorization", "").strip())
        amz_date = request.headers.get("x-amz-date", "")
        if match is None or not amz_date or match["key"] != self.access_key_id:
            return None
        if request.headers.get("x-amz-security-token") != self.session_token:
            return None
        scope, signed = match["scope"], match["signed"].split(";")
        if scope.count("/") != 3 or "host" not in signed:
            return None
        expected = sigv4_signature(request, self.secret_access_key, amz_date, scope, signed)
        return scope if hmac.compare_digest(expected, match["signature"]) else None

    def refuse_run(self, params: dict[str, str], region: str) -> Response | None:
        """The capacity or quota answer for a RunInstances call, or None to let it through."""
        zone = self.zone_of(params, region)
        if zone and self.zone_exhausted(zone):
            return ec2_error(
                500,
                "InsufficientInstanceCapacity",
                f"We currently do not have sufficient {params.get('InstanceType', '')} capacity in the "
                f"Availability Zone you requested ({zone}).",
            )
        count = int(params.get("MinCount") or 1)
        live = sum(1 for i in self.region_instances(region) if i.state in LIVE_STATES)
        if self.over_quota(live, count):
            return ec2_error(
                400,
                "InstanceLimitExceeded",
                f"You have requested more instances ({live + count}) than your current instance limit of "
                f"{self.faults.instance_quota} allows.",
            )
        return None

    def zone_of(self, params: dict[str, str], region: str) -> str:
        """The zone a RunInstances call would land in: its placement, its subnet's zone, or moto's default."""
        if params.get("Placement.AvailabilityZone"):
            return params["Placement.AvailabilityZone"]
        subnet_id = params.get("SubnetId")
        if subnet_id:
            for backend in self.backends():
                if backend.region_name == region:
                    try:
                        return backend.get_subnet(subnet_id).availability_zone
                    except Exception:  # noqa: BLE001 - an unknown subnet is moto's to refuse, not ours
                        return ""
            return ""
        return f"{region}a"

    def forward(self, request: Request) -> Response:
        """Pass the call to moto and return its answer unchanged."""
        host, port = self.moto_address
        connection = http.client.HTTPConnection(host, port, timeout=60)
        path = request.path + (f"?{urlencode(request.query)}" if request.query else "")
        headers = {k: v for k, v in request.headers.items() if k not in HOP_HEADERS}
        try:
            connection.request(request.method, path, body=request.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            passed = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_HEADERS}
            return Response(answer.status, body, passed)
        finally:
            connection.close()

    def give_pooled_addresses(self, response: Response, ids: list[str], region: str) -> Response:
        """Give new instances the pooled addresses (real machines', with their key pair's public key put on
        them); the create's answer then carries those addresses, as every later one does."""
        if not self.address_pool:
            return response
        body = response.body.decode("utf-8")
        by_id = {
            i.id: (backend, i)
            for backend in self.backends()
            if backend.region_name == region
            for i in backend.all_instances()
        }
        for instance_id in ids:
            backend, instance = by_id.get(instance_id, (None, None))
            if instance is None or not instance.nics:
                continue
            key = backend.key_pairs.get(instance.key_name) if instance.key_name else None
            made_up = instance.private_ip
            with self.lock:
                address = self.next_address(made_up, key.public_key if key is not None else "")
            nic = instance.nics[0]
            nic.private_ip_address = address
            for entry in getattr(nic, "private_ip_addresses", None) or []:
                if entry.get("PrivateIpAddress") == made_up:
                    entry["PrivateIpAddress"] = address
            body = body.replace(f">{made_up}<", f">{address}<")
        return Response(response.status, body.encode(), response.headers)

    def key_pairs(self) -> list[dict]:
        """Moto's key pairs in every region, each with its public key and EC2's fingerprint."""
        return [
            {
                "name": k.key_name,
                "region": backend.region_name,
                "public_key": k.public_key,
                "fingerprint": k.key_fingerprint,
            }
            for backend in self.backends()
            for k in backend.key_pairs.values()
        ]

    # --- boot time ---------------------------------------------------------------------
    def start_booting(self, ids: list[str], region: str) -> None:
        """Hold these new instances in pending until boot_seconds have passed."""
        now = time.monotonic()
        by_id = {i.id: i for i in self.region_instances(region)}
        with self.lock:
            for instance_id in ids:
                instance = by_id.get(instance_id)
                if instance is not None and instance.state == "running":
                    # Moto runs instances at once; EC2 shows them pending while they boot.
                    instance._state.name, instance._state.code = "pending", 0
                    self.booting[instance_id] = now

    def finish_booting(self) -> None:
        """Move instances whose boot time has passed from pending to running."""
        with self.lock:
            due = {i for i, created in self.booting.items() if self.booted(created)}
            if not due:
                return
            for backend in self.backends():
                for instance in backend.all_instances():
                    if instance.id in due and instance.state == "pending":
                        instance._state.name, instance._state.code = "running", 16
            for instance_id in due:
                self.booting.pop(instance_id, None)

    # --- control API -------------------------------------------------------------------
    def instances(self) -> list[dict]:
        """Moto's inventory, terminated instances included, with addresses, vCPUs and memory (GiB)."""
        from moto.ec2.models.instance_types import INSTANCE_TYPES

        self.finish_booting()
        return [
            {
                "id": instance.id,
                "state": instance.state,
                "zone": instance.placement.zone,
                "region": backend.region_name,
                "instance_type": instance.instance_type,
                # Moto's tag store directly: describing tags per instance is quadratic in the inventory.
                "tags": dict(backend.tags.get(instance.id, {})),
                "private_ip": instance.private_ip,
                "public_ip": instance.public_ip,
                "cpu": INSTANCE_TYPES[instance.instance_type]["VCpuInfo"]["DefaultVCpus"],
                "memory_gb": INSTANCE_TYPES[instance.instance_type]["MemoryInfo"]["SizeInMiB"] / 1024,
            }
            for backend in self.backends()
            for instance in backend.all_instances()
        ]

    def reset_state(self) -> None:
        """Reset moto (every service, every account) and forget boot times."""
        self.booting.clear()
        if self.moto_address is None:
            return
        host, port = self.moto_address
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request("POST", "/moto-api/reset")
            connection.getresponse().read()
        finally:
            connection.close()


if __name__ == "__main__":
    main(AwsEmulator, default_port=5000)
