"""``python -m emulators.aliyun [--port 5001]``: the ECS emulator alone."""

from emulators.aliyun.server import AliyunEmulator
from emulators.base import main

main(AliyunEmulator, 5001)
