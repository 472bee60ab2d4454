"""Exit codes, one per kind of outcome a script may want to tell apart, and the error that carries one."""

OK = 0
ERROR = 1  # anything else: the API refused the input (400), the server failed, the network did
USAGE = 2  # the command line itself is wrong: a missing or bad option, an ambiguous name
NOT_FOUND = 3  # no such object, or none you may see (404), or no object of that name
AUTH = 4  # not logged in, or the token is unknown, expired or revoked (401)
FORBIDDEN = 5  # logged in, but your role does not allow this (403)
CONFLICT = 6  # the object's state does not allow this now, or an Idempotency-Key reused for another request (409)
BUDGET = 7  # a scale-out refused because it would take the forecast past an enforced budget (409)
JOB_FAILED = 8  # the job ended failed
JOB_PARTIAL = 9  # the job ended partial: some hosts made (or removed), not all
JOB_CANCELLED = 10  # the job was cancelled
TIMEOUT = 124  # --wait gave up after --timeout seconds; the job goes on (the number `timeout` uses)
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)

#: How a job that ended sets the exit code of the command that waited for it.
JOB_STATUS = {"succeeded": OK, "partial": JOB_PARTIAL, "failed": JOB_FAILED, "cancelled": JOB_CANCELLED}

#: Documented in `dcp --help` and the README: code, meaning.
TABLE = (
    (OK, "success"),
    (ERROR, "error: the API refused the input, the server failed or could not be reached"),
    (USAGE, "usage: a bad option or argument, an ambiguous name"),
    (NOT_FOUND, "not found: no such object or name, or none you may see"),
    (AUTH, "not logged in, or the token is unknown, expired or revoked"),
    (FORBIDDEN, "your role does not allow this"),
    (CONFLICT, "conflict: the object's state does not allow this, or an Idempotency-Key reused"),
    (BUDGET, "a scale-out refused by an enforced budget"),
    (JOB_FAILED, "the job ended failed"),
    (JOB_PARTIAL, "the job ended partial"),
    (JOB_CANCELLED, "the job was cancelled"),
    (TIMEOUT, "--wait timed out; the job goes on"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
)


class CliError(Exception):
    """A failure to report on stderr, with the exit code that tells scripts what kind it was."""

    def __init__(self, message: str, code: int = ERROR):
        super().__init__(message)
        self.message = message
        self.code = code
