"""manage.py serve: the web server, a Celery worker with beat, and the emulated clouds, for the embedded default.

serve checks first that every port it needs is free, and refuses to start, naming the port, when one
is taken. It starts everything, says when DCP is ready (the web server answers and the worker
consumes its queues), and on SIGTERM, SIGINT (Ctrl-C) or SIGHUP stops all of it within a few seconds:
a worker still busy after STOP_GRACE_SECONDS is killed (its tasks are idempotent and re-run).
"""

import os
import re
import signal
import socket
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re
from django.db import connection

from apps.core import workers
from apps.core.processes import Children, adopt_orphans, listening, taken_port

#: Seconds the children get to stop by themselves before they are killed.
STOP_GRACE_SECONDS = 2.5
#: Seconds after which serve says that DCP is still not ready, and where to look.
SLOW_START_SECONDS = 60


def parse_addr(addr: str) -> tuple[str, int]:
    """HOST:PORT (or PORT) as runserver reads it; the host defaults to 127.0.0.1."""
    match = re.match(naiveip_re, addr)
    if not match or not 0 < int(match["port"]) < 65536:
        raise CommandError(f"--addr {addr!r} is not an address and port, e.g. 127.0.0.1:8000 or 0.0.0.0:8000.")
    host = match["addr"] or "127.0.0.1"
    return host.strip("[]"), int(match["port"])


def load_clouds(no_emulators: bool) -> tuple:
    """The emulated clouds to run (none with --no-emulators)."""
    if no_emulators:
        return ()
    from emulators.demo import demo_clouds

    try:
        return demo_clouds()
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def check_ports(host: str, port: int, clouds: tuple) -> None:
    """Refuse to start, naming the port, when one that serve needs is held by another process."""
    needed = [(host, port, "DCP's web server")] + [("127.0.0.1", c.port, f"the {c.kind} emulator") for c in clouds]
    taken = taken_port(needed)
    if taken is None:
        return
    taken_host, taken_number, user = taken
    if user == needed[0][2]:
        hint = "Choose another address with --addr HOST:PORT (with make run: DCP_ADDR=127.0.0.1:8001 make run)."
    else:
        hint = (
            "Move the emulated clouds with DCP_EMULATOR_PORT=N (they use N, N+1 and N+2; make run, or "
            "manage.py demo, points the demo accounts at them), or run serve with --no-emulators."
        )
    raise CommandError(f"Port {taken_number} on {taken_host} is in use, and {user} needs it. {hint}")


class Command(BaseCommand):
    """Run web server, worker and the emulated clouds together; stopping serve stops them all."""

    help = "Run the web server, a Celery worker with beat, and the emulated clouds together (embedded default)."

    def add_arguments(self, parser):
        """--addr, --concurrency, --no-emulators."""
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address and port to serve on.")
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes.")
        parser.add_argument(
            "--no-emulators", action="store_true", help="Do not start the emulated clouds (AWS, Aliyun, OpenStack)."
        )

    def handle(self, addr, concurrency, no_emulators, **options):
        """Check the ports, start everything, say when it is ready, and stop it all on a signal."""
        host, port = parse_addr(addr)
        clouds = load_clouds(no_emulators)
        check_ports(host, port, clouds)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: stopping.set())
        adopt_orphans()
        children = Children()
        # The worker's node name names this serve, so readiness is read from this worker's heartbeat only.
        self.nodename = f"serve-{os.getpid()}@{socket.gethostname()}"
        self.addr = addr
        self.url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        try:
            self.start(children, concurrency, clouds)
            self.supervise(children, stopping, (host, port), clouds)
        finally:
            children.stop(STOP_GRACE_SECONDS)
            connection.close()

    def start(self, children: Children, concurrency: int, clouds: tuple) -> None:
        """Start the emulators, the worker (with beat) and the web server, all at once."""
        for cloud in clouds:
            children.start(f"the {cloud.kind} emulator", cloud.command(), cwd=settings.BASE_DIR)
        worker = children.start(
            "the Celery worker",
            [sys.executable, "-m", "celery", "-A", "dcp", "worker", "--beat", "--loglevel", "INFO"]
            + ["--concurrency", str(concurrency), "--hostname", self.nodename],
            cwd=settings.BASE_DIR,
        )
        children.start(
            "the web server",
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "runserver", self.addr, "--noreload"],
            cwd=settings.BASE_DIR,
        )
        self.stdout.write(
            f"Starting DCP on {self.url}: the web server, a Celery worker with beat (pid {worker.pid})"
            + (" and the emulated clouds" if clouds else "")
            + "; it says when it is ready."
        )

    def supervise(self, children: Children, stopping: threading.Event, web: tuple[str, int], clouds: tuple) -> None:
        """Say when DCP is ready; return on a stop signal; stop everything if a child stops by itself."""
        ready, slow_at = False, time.monotonic() + SLOW_START_SECONDS
        while not stopping.is_set():
            gone = children.exited()
            if gone is not None:
                raise CommandError(f"{gone.name} stopped (exit code {gone.process.returncode}), so DCP stops.")
            if not ready and self.is_ready(web, clouds):
                ready = True
                self.say_ready(clouds)
            elif not ready and time.monotonic() > slow_at:
                slow_at = float("inf")  # said once
                self.stderr.write(f"DCP is not ready after {SLOW_START_SECONDS} s: see the messages above.")
            stopping.wait(0.25)

    def is_ready(self, web: tuple[str, int], clouds: tuple) -> bool:
        """Whether the web server and every emulator answer, and the worker consumes its queues."""
        if not all(listening(*address) for address in [web, *(("127.0.0.1", c.port) for c in clouds)]):
            return False
        try:
            return workers.running(self.nodename).exists()
        finally:
            connection.close()

    def say_ready(self, clouds: tuple) -> None:
        """The line that says DCP serves, and where."""
        queues = sorted(workers.running(self.nodename).values_list("queues", flat=True).first() or [])
        connection.close()
        emulated = ", ".join(f"{cloud.kind} on {cloud.url()}" for cloud in clouds) or "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"DCP is ready on {self.url} (the worker consumes {', '.join(queues)}; "
                f"emulated clouds: {emulated}). Stop it with Ctrl-C."
            )
        )
