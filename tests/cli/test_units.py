"""The dcp command line's own arithmetic: the default Idempotency-Key, named periods, the API's messages."""

import re
import subprocess
import sys
from datetime import UTC, date, datetime

import httpx
import pytest
from click import BadParameter
from dcp_cli import exits
from dcp_cli.client import exit_code_for, message_of
from dcp_cli.commands.costs import period_bounds
from dcp_cli.commands.pools import default_key
from dcp_cli.waiting import raise_for_status

from tests.conftest import ROOT

URL = "https://dcp.example.test"


def test_default_key_is_one_per_request_and_minute():
    """The same arguments in the same minute give the same key; another minute, pool, body or server does not."""
    at = datetime(2026, 3, 1, 8, 15, 2, tzinfo=UTC)
    later_that_minute = datetime(2026, 3, 1, 8, 15, 59, tzinfo=UTC)
    key = default_key(URL, 7, {"delta": 5}, at)
    assert key == default_key(URL, 7, {"delta": 5}, later_that_minute)
    assert key.startswith("dcp-") and len(key) <= 255
    others = {
        default_key(URL, 7, {"delta": 5}, datetime(2026, 3, 1, 8, 16, 0, tzinfo=UTC)),
        default_key(URL, 8, {"delta": 5}, at),
        default_key(URL, 7, {"delta": 6}, at),
        default_key(URL, 7, {"desired_size": 5}, at),
        default_key("https://other.example.test", 7, {"delta": 5}, at),
    }
    assert key not in others and len(others) == 5


@pytest.mark.parametrize(
    ("period", "today", "bounds"),
    [
        ("today", date(2026, 3, 4), (date(2026, 3, 4), date(2026, 3, 5))),
        ("yesterday", date(2026, 3, 1), (date(2026, 2, 28), date(2026, 3, 1))),
        ("this-week", date(2026, 3, 4), (date(2026, 3, 2), date(2026, 3, 9))),
        ("last-week", date(2026, 3, 4), (date(2026, 2, 23), date(2026, 3, 2))),
        ("this-month", date(2026, 12, 31), (date(2026, 12, 1), date(2027, 1, 1))),
        ("last-month", date(2026, 1, 15), (date(2025, 12, 1), date(2026, 1, 1))),
        ("this-quarter", date(2026, 11, 5), (date(2026, 10, 1), date(2027, 1, 1))),
        ("last-quarter", date(2026, 2, 5), (date(2025, 10, 1), date(2026, 1, 1))),
        ("this-year", date(2026, 6, 1), (date(2026, 1, 1), date(2027, 1, 1))),
        ("last-year", date(2026, 6, 1), (date(2025, 1, 1), date(2026, 1, 1))),
        ("2024-02", date(2026, 6, 1), (date(2024, 2, 1), date(2024, 3, 1))),
        ("2025", date(2026, 6, 1), (date(2025, 1, 1), date(2026, 1, 1))),
    ],
)
def test_named_periods(period, today, bounds):
    """Each period is [start, end) in whole days."""
    assert period_bounds(period, today) == bounds


@pytest.mark.parametrize("period", ["2026-13", "someday", "26-01", ""])
def test_a_period_that_is_none_says_what_to_use(period):
    """A usage error listing the periods."""
    with pytest.raises(BadParameter, match="this-month"):
        period_bounds(period, date(2026, 1, 1))


def test_api_messages_are_printed_as_the_api_words_them():
    """A detail as it is; field errors as `field: message`, nested fields dotted."""
    assert message_of(httpx.Response(404, json={"detail": "No ServicePool matches the given query."})) == (
        "No ServicePool matches the given query."
    )
    body = {"delta": ["Too many."], "notify": {"0": ["Not an address."]}, "non_field_errors": ["Pick one."]}
    assert message_of(httpx.Response(400, json=body)).splitlines() == [
        "delta: Too many.",
        "notify.0: Not an address.",
        "Pick one.",
    ]
    assert message_of(httpx.Response(502, text="")) == "HTTP 502 Bad Gateway"


def test_every_exit_code_is_documented_in_help_and_readme():
    """`dcp --help` and cli/README.md list each exit code the command uses."""
    shown = subprocess.run([sys.executable, "-m", "dcp_cli", "--help"], capture_output=True, text=True, check=True)
    readme = (ROOT / "cli" / "README.md").read_text()
    for code, meaning in exits.TABLE:
        assert f"{code:>3}  {meaning}" in shown.stdout
        assert re.search(rf"^\| {code} \| .+ \|$", readme, re.MULTILINE), code


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (httpx.Response(400, json={"delta": ["Give a whole number."]}), 1),
        (httpx.Response(404, json={"detail": "Not found."}), 1),
        (httpx.Response(409, json={"detail": "Job 7 has ended: nothing to cancel."}), 1),
        (httpx.Response(401, json={"detail": "Invalid token."}), 4),
        (httpx.Response(403, json={"detail": "Your role does not allow this."}), 6),
        (httpx.Response(409, json={"budget": ["Budget web-monthly would be exceeded."]}), 6),
        (httpx.Response(500, text="boom"), 1),
    ],
)
def test_api_answers_map_to_the_documented_exit_codes(answer, code):
    """The numbers scripts branch on: 1 error, 4 token refused, 6 refused by permission or budget."""
    assert exit_code_for(answer) == code


@pytest.mark.parametrize(("status", "code"), [("succeeded", None), ("partial", 5), ("failed", 5), ("cancelled", 5)])
def test_a_job_that_did_not_do_everything_exits_5(status, code):
    """A waited-for job that ended partial, failed or cancelled is exit 5; succeeded raises nothing."""
    job = {"id": 9, "status": status, "message": "2 of 3 hosts ready"}
    if code is None:
        raise_for_status(job)
        return
    with pytest.raises(exits.CliError) as raised:
        raise_for_status(job)
    assert raised.value.code == code and f"Job 9 ended {status}: 2 of 3 hosts ready" == raised.value.message
