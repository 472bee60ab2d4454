"""A small SNTP server for a set's hosts: answers NTP client requests with this machine's clock, never sets it."""

from __future__ import annotations

import socket
import struct
import threading
import time

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix)
MODE_CLIENT = 3
MODE_SERVER = 4
STRATUM = 2
PRECISION = -20  # about a microsecond: what time.time() resolves on Linux
# A stratum-2 server names its upstream by IPv4 address; ours is this machine's own clock, so it names
# 127.127.1.0, NTP's conventional address of the local clock.
REFERENCE_ID = socket.inet_aton("127.127.1.0")
ROOT_DELAY = 0.0005  # seconds to the (local) reference: small, so clients accept the server as a good source
ROOT_DISPERSION = 0.001
PACKET = struct.Struct("!BBbbII4sQQQQ")  # 48 bytes: the NTPv4 header without extensions


def to_ntp(seconds: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (32 bits of seconds since 1900, 32 bits of fraction)."""
    whole, fraction = divmod(seconds + NTP_EPOCH_OFFSET, 1.0)
    return (int(whole) & 0xFFFFFFFF) << 32 | int(fraction * 2**32)


def short(seconds: float) -> int:
    """Seconds in NTP's 16.16 short format (root delay and dispersion)."""
    return int(seconds * 2**16)


def reply(request: bytes, received: float, now: float | None = None) -> bytes | None:
    """The server's answer to one datagram, or None when it is not an NTP client request."""
    if len(request) < PACKET.size:
        return None
    first, _, poll, _, _, _, _, _, _, _, client_transmit = PACKET.unpack_from(request)
    version, mode = (first >> 3) & 0x7, first & 0x7
    if mode != MODE_CLIENT or not 1 <= version <= 4:
        return None
    transmit = time.time() if now is None else now
    return PACKET.pack(
        (0 << 6) | (version << 3) | MODE_SERVER,  # leap indicator 0: no warning, the server is synchronised
        STRATUM,
        poll,
        PRECISION,
        short(ROOT_DELAY),
        short(ROOT_DISPERSION),
        REFERENCE_ID,
        to_ntp(int(transmit) - 1),  # the reference clock was last read a moment ago
        client_transmit,  # origin: the client matches the answer to its request by this
        to_ntp(received),
        to_ntp(transmit),
    )


class NtpServer:
    """Answers NTP on one address (a set's gateway), port 123 by default, from a thread of the harness's process."""

    def __init__(self, address: str, port: int = 123):
        self.address = address
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((address, port))
        except OSError as exc:
            self.sock.close()
            raise RuntimeError(
                f"cannot serve NTP on {address}:{port}: {exc} (an NTP daemon of this machine listening on all "
                "addresses, UDP 123, keeps the harness from binding the gateway's address)"
            ) from None
        self.sock.settimeout(0.5)
        self.stopping = threading.Event()
        self.answered = 0
        self.thread = threading.Thread(target=self._serve, name=f"ntp {address}", daemon=True)

    def start(self) -> None:
        """Start answering."""
        self.thread.start()

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self.stopping.set()
        if self.thread.is_alive():
            # Wake the thread from recvfrom at once rather than at its next timeout.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:
                wake.sendto(b"", (self.address, self.port))
            self.thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        """Answer requests until stopped; the socket timeout lets the loop notice stop()."""
        while not self.stopping.is_set():
            try:
                request, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = reply(request, time.time())
            if answer is not None:
                try:
                    self.sock.sendto(answer, client)
                    self.answered += 1
                except OSError:
                    continue
