"""Real servers the budget alert tests start on loopback: an SMTP server (aiosmtpd) and a webhook receiver.

Both keep what they received, parsed, and can refuse on purpose: the SMTP
server with a 451 for its next few messages, the webhook with an HTTP 500 (or a
robot's non-zero errcode) for its next few requests.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping each message it accepts, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        """Accept (and keep) the message, or refuse it while refusals are owed."""
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SMTPServer:
    """aiosmtpd on a free loopback port."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class Hooks:
    """A webhook receiver: each path can be told to fail its next n requests, or always."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("?")[0]
                with hooks.lock:
                    owed = hooks.failures.get(path, 0)
                    if owed:
                        hooks.failures[path] = owed - 1 if owed > 0 else owed
                    else:
                        hooks.received.append((self.path, json.loads(body)))
                if owed and path.startswith("/robot"):
                    self._answer(200, {"errcode": 310000, "errmsg": "keywords not in content"})
                elif owed:
                    self._answer(500, {"error": "failing on purpose"})
                else:
                    self._answer(200, {"errcode": 0, "errmsg": "ok"})

            def _answer(self, status: int, data: dict) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail(self, path: str, times: int) -> None:
        """The next times requests to path fail (-1: every one)."""
        with self.lock:
            self.failures[path] = times

    def bodies(self, path: str) -> list[dict]:
        """The bodies received at path (query ignored)."""
        with self.lock:
            return [body for where, body in self.received if where.split("?")[0] == path]

    def __enter__(self) -> Hooks:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
