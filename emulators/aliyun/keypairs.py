"""ECS key pairs for the ECS emulator: ImportKeyPair and DescribeKeyPairs, per region."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulators.aliyun.protocol import EcsError, missing, page_args

#: ECS's rule for a key pair name: 2 to 128 characters, starting with a letter.
KEY_PAIR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._:-]{1,127}$")


@dataclass
class KeyPair:
    """One imported key pair: its public key line, the MD5 fingerprint ECS shows, and when it was made."""

    name: str
    public_key: str
    fingerprint: str
    creation_time: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"))


class EcsKeyPairsMixin:
    """The account's key pairs, held in ``self.keypairs`` ((region, name) → KeyPair)."""

    def key_pairs(self) -> list[dict]:
        """Every imported key pair, with its region."""
        return [
            {"name": k.name, "region": region, "public_key": k.public_key, "fingerprint": k.fingerprint}
            for (region, _), k in sorted(self.keypairs.items())
        ]

    def do_ImportKeyPair(self, params: dict[str, str]) -> dict:
        """Import a public key (OpenSSH line) under a name new in the region."""
        name, body = params.get("KeyPairName", ""), params.get("PublicKeyBody", "")
        if not name:
            raise missing("KeyPairName")
        if not body:
            raise missing("PublicKeyBody")
        if not KEY_PAIR_NAME.match(name):
            raise EcsError("InvalidKeyPairName.Malformed")
        parts = body.split()
        try:
            blob = base64.b64decode(parts[1], validate=True) if len(parts) >= 2 else b""
        except binascii.Error:
            blob = b""
        if not blob or not parts[0].startswith(("ssh-", "ecdsa-")):
            raise EcsError("InvalidPublicKeyBody.Malformed")
        if (params["RegionId"], name) in self.keypairs:
            raise EcsError("KeyPair.AlreadyExist")
        key = KeyPair(name, body.strip(), hashlib.md5(blob, usedforsecurity=False).hexdigest())
        self.keypairs[(params["RegionId"], name)] = key
        return {"KeyPairName": name, "KeyPairFingerPrint": key.fingerprint}

    def do_DescribeKeyPairs(self, params: dict[str, str]) -> dict:
        """The region's key pairs, by exact KeyPairName when given, one page at a time."""
        number, size = page_args(params)
        found = [k for (region, _), k in sorted(self.keypairs.items()) if region == params["RegionId"]]
        if params.get("KeyPairName"):
            found = [k for k in found if k.name == params["KeyPairName"]]
        page = found[(number - 1) * size : number * size]
        return {
            "KeyPairs": {
                "KeyPair": [
                    {"KeyPairName": k.name, "KeyPairFingerPrint": k.fingerprint, "CreationTime": k.creation_time}
                    for k in page
                ]
            },
            "TotalCount": len(found),
            "PageNumber": number,
            "PageSize": size,
        }
