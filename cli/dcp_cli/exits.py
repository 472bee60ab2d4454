"""Exit codes, as documented for scripts: one per kind of outcome a script branches on, and the error carrying one.

The numbers are fixed by DCP's CLI contract (README, `dcp --help`): 0 done, 1 error, 2 usage, 3 timed out
waiting, 4 not signed in or token refused, 5 job failed or partial, 6 refused by permission or budget. A
script that needs finer detail reads the message on stderr or the job with ``-o json``.
"""

OK = 0
ERROR = 1  # anything else: the API refused the input (400), no such object (404), a conflict (409), the network
USAGE = 2  # the command line itself is wrong: a missing or bad option, an ambiguous name
TIMEOUT = 3  # --wait gave up after --timeout seconds; the job goes on
AUTH = 4  # not logged in, or the token is unknown, expired or revoked (401)
JOB_FAILED = 5  # the job waited for ended failed, partial or cancelled: not everything asked was done
REFUSED = 6  # your role does not allow this (403), or an enforced budget refused the scale-out (409 naming it)
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

#: How a job that ended sets the exit code of the command that waited for it.
JOB_STATUS = {"succeeded": OK, "partial": JOB_FAILED, "failed": JOB_FAILED, "cancelled": JOB_FAILED}

#: Documented in `dcp --help` and the README: code, meaning.
TABLE = (
    (OK, "done"),
    (ERROR, "error: the API refused the input, no such object or name, a conflict, or the server failed"),
    (USAGE, "usage: a bad option or argument, an ambiguous name"),
    (TIMEOUT, "--wait timed out; the job goes on"),
    (AUTH, "not signed in, or the token is unknown, expired or revoked"),
    (JOB_FAILED, "the job ended failed, partial or cancelled"),
    (REFUSED, "refused: your role does not allow this, or an enforced budget"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
)


class CliError(Exception):
    """A failure to report on stderr, with the exit code that tells scripts what kind it was."""

    def __init__(self, message: str, code: int = ERROR):
        super().__init__(message)
        self.message = message
        self.code = code
