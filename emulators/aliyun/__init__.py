"""An Aliyun ECS emulator: the RPC-style API (version 2014-05-26) the real aliyunsdkecs speaks.

Every call is authenticated the way Aliyun does it: the signature v1 over the
canonicalized parameters (query and form body) is recomputed with the secret of
the named AccessKeyId and compared; an unknown key answers
``InvalidAccessKeyId.NotFound`` (404) and a wrong secret ``SignatureDoesNotMatch``
(400) carrying the server's string to sign, as Aliyun does. Errors are JSON
bodies ``{"RequestId", "HostId", "Code", "Message"}`` with ECS's own codes.

Served: RunInstances, DescribeInstances, DeleteInstances, DescribeInstanceTypes,
DescribeZones, DescribeImages, DescribeRegions, and DescribePrice (pay-as-you-go
prices from the emulator's price list, ``/_emulator/prices``; a type missing from
it answers ``PriceNotFound``). Run it alone with
``python -m emulators.aliyun [--port 5001]``.
"""

from emulators.aliyun.protocol import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGIONS, EcsError
from emulators.aliyun.server import AliyunEmulator, Instance

__all__ = ["ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "REGIONS", "AliyunEmulator", "EcsError", "Instance"]
