"""manage.py serve: the web server with a Celery worker (and beat) beside it, for the embedded default."""

import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Run web server, worker and the emulated clouds together; stopping serve stops them all."""

    help = "Run the web server, a Celery worker and Celery beat together (embedded default)."

    def add_arguments(self, parser):
        """--addr, --concurrency."""
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address and port to serve on.")
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes.")
        parser.add_argument(
            "--no-emulators", action="store_true", help="Do not start the emulated clouds (AWS, Aliyun, OpenStack)."
        )

    def handle(self, addr, concurrency, no_emulators, **options):
        """Start the emulated clouds and the worker, then serve until interrupted."""
        helpers = []
        if not no_emulators:
            from emulators.demo import CLOUDS, start_all

            helpers = start_all()
            self.stdout.write("Emulated clouds: " + ", ".join(f"{c.kind} on {c.url()}" for c in CLOUDS))
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dcp",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--queues",
                "engine,provider,init",
                "--concurrency",
                str(concurrency),
            ]
        )
        self.stdout.write(f"Celery worker started (pid {worker.pid}); serving on http://{addr}/")

        def stop(signum, frame):
            # Turn SIGTERM into a normal exit, so the worker below is stopped too, not orphaned.
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        try:
            call_command("runserver", addr, use_reloader=False, use_threading=True)
        finally:
            for process in [worker, *helpers]:
                process.send_signal(signal.SIGTERM)
            for process in [worker, *helpers]:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
