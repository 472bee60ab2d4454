"""manage.py serve: the web server with a Celery worker (and beat) beside it, for the embedded default."""

import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Run web server and worker together; stopping one stops both."""

    help = "Run the web server, a Celery worker and Celery beat together (embedded default)."

    def add_arguments(self, parser):
        """--addr, --concurrency."""
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address and port to serve on.")
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes.")

    def handle(self, addr, concurrency, **options):
        """Start the worker, then serve until interrupted."""
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
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
