"""Nova's os-keypairs for the OpenStack emulator: import, list, show and delete the user's key pairs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from emulators.base import Request, Response
from emulators.openstack.catalog import _now_iso

#: Nova's rule for a key pair name: letters, digits, spaces, dashes and underscores, 1 to 255 of them.
KEY_PAIR_NAME = re.compile(r"^[A-Za-z0-9 _-]{1,255}$")


def fingerprint(public_key: str) -> str | None:
    """Nova's fingerprint of an OpenSSH public key line (MD5, colon-separated hex); None if it is not one."""
    parts = public_key.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        return None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class NovaKeypairsMixin:
    """The key pairs of the emulator's one user; a server created naming a missing one is refused (400)."""

    def _keypairs(self, request: Request, path: str) -> Response | None:
        """Answer an os-keypairs call, or None when path is not one."""
        if path == "/os-keypairs" and request.method == "POST":
            return self._import_keypair(request)
        if path == "/os-keypairs" and request.method == "GET":
            with self.lock:
                views = [{"keypair": self._keypair_view(k, listing=True)} for k in self.keypairs.values()]
            return Response.json(200, {"keypairs": views})
        match = re.fullmatch(r"/os-keypairs/([^/]+)", path)
        if match is None:
            return None
        with self.lock:
            found = self.keypairs.get(match.group(1))
            if found is not None and request.method == "DELETE":
                del self.keypairs[found["name"]]
                return Response(202)
        if found is None or request.method != "GET":
            return self._nova_error(404, f"Keypair {match.group(1)} not found for user {self.user_id}")
        return Response.json(200, {"keypair": self._keypair_view(found)})

    def _import_keypair(self, request: Request) -> Response:
        try:
            spec = (request.json() or {})["keypair"]
            name, public_key = str(spec["name"]), spec.get("public_key")
        except (KeyError, TypeError, ValueError, AttributeError):
            return self._nova_error(400, "Invalid input for field/attribute keypair.")
        if not KEY_PAIR_NAME.match(name):
            return self._nova_error(400, "Keypair data is invalid: Keypair name contains unsafe characters")
        if not isinstance(public_key, str):
            return self._nova_error(400, "Keypair data is invalid: DCP's emulator only imports public keys")
        found = fingerprint(public_key)
        if found is None:
            return self._nova_error(400, "Keypair data is invalid: failed to generate fingerprint")
        with self.lock:
            if name in self.keypairs:
                return self._nova_error(409, f"Key pair '{name}' already exists.")
            keypair = {"name": name, "public_key": public_key.strip(), "fingerprint": found, "created": _now_iso()}
            self.keypairs[name] = keypair
        return Response.json(200, {"keypair": self._keypair_view(keypair)})

    def _keypair_view(self, keypair: dict, *, listing: bool = False) -> dict:
        view = {
            "name": keypair["name"],
            "public_key": keypair["public_key"],
            "fingerprint": keypair["fingerprint"],
            "type": "ssh",
        }
        if not listing:
            view.update(user_id=self.user_id, created_at=keypair["created"], deleted=False, id=1)
        return view

    def key_pairs(self) -> list[dict]:
        """Every key pair, for the control API."""
        return [
            {"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"]}
            for k in self.keypairs.values()
        ]
