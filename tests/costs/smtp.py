"""A real SMTP server (aiosmtpd) on loopback for the tests, and reading what it received."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An SMTP server that keeps every message it accepts; with refuse set it answers DATA with 554."""

    def __init__(self):
        self.port = free_port()
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse = False
        self.refused = 0
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        """Keep the message, or refuse it."""
        with self.lock:
            if self.refuse:
                self.refused += 1
                return "554 5.7.1 Message refused by the test server"
            self.received.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"

    def start(self) -> Inbox:
        """Listen."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()

    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed."""
        with self.lock:
            return [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in self.received]

    def clear(self) -> None:
        """Forget what was received, accept again."""
        with self.lock:
            self.received.clear()
            self.refuse, self.refused = False, 0


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """filename -> (content type, bytes) of a parsed message's attachments."""
    return {part.get_filename(): (part.get_content_type(), part.get_content()) for part in message.iter_attachments()}
