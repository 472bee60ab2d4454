"""The engine's own sentences: written in English where they are stored, read back in the reader's language.

Jobs' timelines and messages, hosts' status messages, initialization runs and
scaling decisions are written by the engine, not by a person, and stored as
one line of English: the API answers it word for word, as scripts and logs
know it. Every such line is made by one of the sentences below, so the console
can read a stored line back (which sentence, which values) and show it
translated: the sentence through the catalogue, its values as they were (host
names, numbers, times, a provider's own words), a state by its label, and a
value that is itself one of these sentences translated in turn. A line no
sentence made (a provider's error, a line from before a sentence changed) is
shown as stored, and so is any part of one.

A sentence's fields are ``{name}`` (``{name:spec}`` formats the value when
writing); a field's name says what it may hold when reading (see FIELDS), so
``{host}: {status} after {seconds}s`` is not taken for a provider's
``Error: ...``.
"""

import re
from collections.abc import Callable

from django.utils.translation import gettext, gettext_noop

_FIELD = re.compile(r"\{(\w+)(?::[^{}]*)?\}")
#: What a field may hold, by name; any other field holds any text (as little as lets the sentence match).
FIELDS = {
    "host": r"[^\s:;,]+",
    "instance": r"[^\s:;,]+",
    "status": r"[a-z_]+",
    "kind": r"[a-z_]+",
    "count": r"-?\d+",
    "total": r"\d+",
    "changed": r"\d+",
    "failed": r"\d+",
    "in_sync": r"\d+",
    "job": r"\d+",
    "id": r"\d+",
    "before": r"\d+",
    "after": r"\d+",
    "low": r"\d+",
    "high": r"\d+",
    "size": r"\d+",
    "wanted": r"-?\d+",
    "delta": r"[+-]\d+",
    "seconds": r"\d+(?:\.\d+)?",
    # What a retried call was doing and how it failed (RETRYING): one of a few words, so an account's name may hold
    # spaces.
    "doing": "Creating|Looking at|Removing",
    "why": "throttled|timed out|failed",
}
#: Fields holding a list joined by ", ", each item read as a sentence of its own.
LISTS = {"placements"}
#: Fields holding a state or kind, shown by its label.
LABELLED = {"status", "kind"}
#: Where a line joins several reasons (a job that gave up for more than one).
JOIN = "; "

SENTENCES: list["Sentence"] = []


class Sentence:
    """One sentence of the engine: ``sentence(**values)`` writes it in English; ``read(line)`` finds its values."""

    def __init__(self, text: str):
        self.text = text
        names = _FIELD.findall(text)
        if len(set(names)) != len(names):
            raise ValueError(f"a sentence names each field once: {text!r}")
        pattern, at = [], 0
        for match in _FIELD.finditer(text):
            pattern.append(re.escape(text[at : match.start()]))
            pattern.append(f"(?P<{match[1]}>{FIELDS.get(match[1], '.+?')})")
            at = match.end()
        pattern.append(re.escape(text[at:]))
        self.pattern = re.compile("".join(pattern) + r"\Z", re.S)
        #: The more is fixed in it (words, then fields that hold only some values), the sooner it is tried: a
        #: general sentence never hides a precise one.
        self.weight = (len(_FIELD.sub("", text)), sum(name in FIELDS for name in names))
        SENTENCES.append(self)
        SENTENCES.sort(key=lambda sentence: sentence.weight, reverse=True)

    def __call__(self, **values) -> str:
        return self.text.format(**values)

    def __str__(self) -> str:
        return self.text

    def read(self, line: str) -> dict | None:
        """The values this sentence wrote into the line, or None if it did not write it."""
        match = self.pattern.match(line)
        return match.groupdict() if match else None


def translate(line: str, label: Callable[[str], str] = str, depth: int = 0) -> str:
    """A stored line in the active language: each sentence in it translated, the rest as stored."""
    if not line or depth > 4:
        return line
    whole = _whole(line, label, depth)
    if whole is not None:
        return whole
    parts = line.split(JOIN)
    if len(parts) == 1:
        return line
    # Reasons joined: the longest run of parts that is one sentence (a sentence may hold a "; " itself). Parts no
    # sentence wrote keep their own "; " between them: they are someone else's words.
    out: list[tuple[str, bool]] = []
    start = 0
    while start < len(parts):
        for end in range(len(parts), start, -1):
            text = _whole(JOIN.join(parts[start:end]), label, depth)
            if text is not None or end == start + 1:
                out.append((text, True) if text is not None else (parts[start], False))
                start = end
                break
    shown = out[0][0]
    for (_, before), (text, known) in zip(out, out[1:], strict=False):
        shown += (gettext("; ") if before or known else JOIN) + text
    return shown


def _whole(line: str, label, depth: int) -> str | None:
    for sentence in SENTENCES:
        if depth and not sentence.weight[0]:
            break  # a value inside a line is never read as a bare state: an account named "aws" stays "aws"
        values = sentence.read(line)
        if values is not None:
            shown = {name: _value(name, value, label, depth) for name, value in values.items()}
            return _FIELD.sub(lambda match, shown=shown: shown.get(match[1], match[0]), gettext(sentence.text))
    return None


def _value(name: str, value: str, label, depth: int) -> str:
    if name in LABELLED:
        return str(label(value))
    if name in LISTS:
        return gettext(", ").join(translate(item, label, depth + 1) for item in value.split(", "))
    return translate(value, label, depth + 1)


# ---------------------------------------------------------------- hosts and their moves

#: A job's last event: the status it ended with, alone or with why (before HOST_SAYS: a status is tried first).
JOB_ENDED = Sentence(gettext_noop("{status}"))
JOB_ENDED_BECAUSE = Sentence(gettext_noop("{status}: {reason}"))

HOST_MOVED = Sentence(gettext_noop("{host}: {status} after {seconds:.1f}s"))
HOST_MOVED_BECAUSE = Sentence(gettext_noop("{host}: {status} after {seconds:.1f}s: {reason}"))
#: Who or what speaks, then what it says: a host in a timeline, a provider account, an error of a kind.
SAYS = Sentence(gettext_noop("{who}: {message}"))
HOST_CREATED = Sentence(gettext_noop("{host}: instance {instance}"))
NO_ADDRESS = Sentence(gettext_noop("instance {instance} is running, but {reason}"))
NO_ADDRESS_REASON = Sentence(
    gettext_noop(
        "its provider reported no {via} IP address, which {method} needs to reach it over SSH (the template's "
        "dcp_ssh_via is {via_again}; set it to {other} if the hosts are reached by their {other_again} address)"
    )
)
INSTANCE_BROKEN = Sentence(gettext_noop("instance {instance} is {state} instead of running"))
NO_CAPACITY = Sentence(gettext_noop("capacity: {reason}"))
BOOT_TIMEOUT = Sentence(gettext_noop("instance {instance} not running after {seconds}s"))
INSTANCE_IN_ERROR = Sentence(gettext_noop("instance {instance} is in error on {account}"))
INSTANCE_VANISHED = Sentence(gettext_noop("instance {instance} vanished from {account}"))
SCALE_IN = Sentence(gettext_noop("scale-in"))
REMOVED_BY_NAME = Sentence(gettext_noop("removed by name in job {job}"))
JOB_CANCELLED = Sentence(gettext_noop("job {job} cancelled"))

# ---------------------------------------------------------------- initialization

INITIALIZED = Sentence(gettext_noop("{host}: initialized: {message}"))
INIT_ENDED = Sentence(gettext_noop("{host}: initialization {status}: {message}"))
INIT_FAILED = Sentence(gettext_noop("initialization {status}: {message}"))
NO_INIT = Sentence(gettext_noop("no initialization configured"))
NO_RESULT = Sentence(gettext_noop("no result"))
WORKER_LOST = Sentence(gettext_noop("the worker running it was lost"))
TASK_COUNTS = Sentence(gettext_noop("{count} ok, {changed} changed"))
UNREACHABLE = Sentence(gettext_noop("unreachable over SSH: {reason}"))
INIT_TIMEOUT = Sentence(gettext_noop("initialization did not finish within {seconds} s"))
RUN_ENDED_EARLY = Sentence(gettext_noop("the run ended ({status}) before this host's recap"))
HOST_KEY_CHANGED = Sentence(
    gettext_noop(
        "its SSH host key differs from the one recorded at first contact: if the host was rebuilt, delete its "
        "known host record; otherwise someone may be in the middle"
    )
)
IN_BASE_STATE = Sentence(gettext_noop("{host}: in base state"))
DRIFTED = Sentence(gettext_noop("{host}: drifted: {count} difference(s)"))
RERUN_ASKED = Sentence(gettext_noop("{who} asked for initialization again on {count} host(s)"))
CHECK_ASKED = Sentence(gettext_noop("{who} asked for a drift check on {count} host(s)"))
CHECK_SCHEDULE = Sentence(gettext_noop("the drift check schedule"))
HOST_SKIPPED = Sentence(gettext_noop("host {id} skipped: {reason}"))
ALREADY_RUNNING = Sentence(gettext_noop("initialization already running"))
NOT_READY = Sentence(gettext_noop("not ready"))
NO_INIT_METHOD = Sentence(gettext_noop("its template has no init method"))
NOT_DRIFTED = Sentence(gettext_noop("not drifted"))
RUN_STARTED = Sentence(gettext_noop("{host}: {kind} started"))
ALL_BUSY = Sentence(gettext_noop("nothing to do: every host asked for is already busy"))
ENDED_BEFORE_RUN = Sentence(gettext_noop("the job ended {status} before it ran"))
CANCELLED_BEFORE_RUN = Sentence(gettext_noop("job {job} was cancelled before it ran"))
CHECKED = Sentence(gettext_noop("{total} host(s) checked: {changed} drifted, {in_sync} in base state, {failed} failed"))
RERUN_DONE = Sentence(gettext_noop("{total} host(s) initialized again: {changed} changed, {failed} failed"))

# ---------------------------------------------------------------- jobs

CANCELLED_BY = Sentence(gettext_noop("Cancelled by {user}."))
SCALE_ASKED = Sentence(gettext_noop("{who} asked for {delta}: {before} → {after}"))
POOL_CREATED = Sentence(gettext_noop("pool created with min_size {size}"))
PLACING = Sentence(gettext_noop("placing {placements}"))
PLACED = Sentence(gettext_noop("{count} on {template}"))
PLACED_IN_ZONE = Sentence(gettext_noop("{count} on {template} in {zone}"))
NOT_PLACED = Sentence(gettext_noop("{count} host(s) not placed: {reason}"))
TOO_MANY_FAILED = Sentence(gettext_noop("too many hosts failed; see the failed hosts' messages"))
NO_MORE_HOSTS = Sentence(gettext_noop("no more hosts are made for this job"))
NO_TEMPLATE_PLACES = Sentence(gettext_noop("no template could place them"))
HOSTS_READY = Sentence(gettext_noop("{count} of {size} hosts ready"))
HOSTS_READY_BECAUSE = Sentence(gettext_noop("{count} of {size} hosts ready; {reason}"))
HOSTS_REMOVED_BECAUSE = Sentence(gettext_noop("{count} of {size} hosts removed; {reason}"))
DESIRED_CHANGED = Sentence(gettext_noop("a later scale request changed the pool's desired size"))
PROVIDER_REFUSED = Sentence(gettext_noop("{account} refused: {reason}"))
RETRYING = Sentence(gettext_noop("{doing} {count} host(s) on {account} {why}: {reason}; {then}"))
CREATING = Sentence(gettext_noop("Creating"))
LOOKING_AT = Sentence(gettext_noop("Looking at"))
REMOVING = Sentence(gettext_noop("Removing"))
THROTTLED = Sentence(gettext_noop("throttled"))
TIMED_OUT = Sentence(gettext_noop("timed out"))
CALL_FAILED = Sentence(gettext_noop("failed"))
RETRY_AT = Sentence(gettext_noop("retrying at {time} (try {count} of {total})"))
RETRIES_SPENT = Sentence(
    gettext_noop("gave up after {count} tries; the reconciler tries again once the hosts have waited {seconds}s")
)

# ---------------------------------------------------------------- placement

PASSED_OVER_FAILING = Sentence(
    gettext_noop("template {template}: its last {count} hosts in {where} failed, passed over")
)
PASSED_OVER_FULL = Sentence(gettext_noop("template {template}: {where} had no capacity lately, passed over"))
IN_ZONE = Sentence(gettext_noop("zone {zone}"))
DEFAULT_ZONE = Sentence(gettext_noop("its default zone"))
QUOTA_LEAVES = Sentence(gettext_noop("template {template}: {limit} leaves {count}"))
TEMPLATE_QUOTA = Sentence(gettext_noop("quota max_hosts={count}"))
ACCOUNT_QUOTA = Sentence(gettext_noop("account {account} quota max_hosts={count}"))
CAPACITY_UNKNOWN = Sentence(gettext_noop("template {template}: capacity unknown ({reason}), skipped"))
ONLY_FREE = Sentence(gettext_noop("template {template}: only {count} free {instance_type} left"))
NO_TEMPLATES = Sentence(gettext_noop("the pool has no templates"))

# ---------------------------------------------------------------- scaling schedules and policies

POLICY_DISABLED = Sentence(gettext_noop("The policy is disabled: enable it to act on its alert."))
UNKNOWN_ALERT = Sentence(gettext_noop("No alert {alert} in the payload (it had {names}); nothing done."))
IN_COOLDOWN = Sentence(gettext_noop("In cooldown until {until} (scaled at {at})."))
RESOLVED_KEEPS = Sentence(gettext_noop("Resolved; the policy has no step in, so the pool keeps its size."))
RESOLVED_WAITS = Sentence(gettext_noop("Resolved; steps in after {after_time} if the alert does not fire again."))
BY_POLICY = Sentence(gettext_noop("policy {policy} (id {id}): {why}"))
ALERT_FIRING = Sentence(gettext_noop("alert {alert} firing"))
ALERT_RESOLVED = Sentence(gettext_noop("alert {alert} resolved since {time}"))
BY_SCHEDULE = Sentence(gettext_noop("schedule {schedule} (id {id}) at {time}"))
BY_SCHEDULE_END = Sentence(gettext_noop("schedule {schedule} (id {id}): end of {time}"))
MISSED = Sentence(
    gettext_noop(
        "Due at {time}, found {seconds:.0f} s late (DCP was not running): past the schedule's grace of {grace} s, "
        "so it was not run."
    )
)
ALREADY_AT = Sentence(gettext_noop("The pool is already at {size}; nothing to do."))
ALREADY_AT_HELD = Sentence(
    gettext_noop("The pool is already at {size} (asked {wanted}, held to the bounds {low}–{high}); nothing to do.")
)
SCALED = Sentence(gettext_noop("Job {job}: {before} → {after}."))
SCALED_HELD = Sentence(gettext_noop("Job {job}: {before} → {after} (asked {wanted}, held to the bounds {low}–{high})."))
