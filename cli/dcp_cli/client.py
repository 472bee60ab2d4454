"""DCP's REST API over httpx: the token, the API's error messages turned into exit codes, paging followed."""

import os
import time
from collections.abc import Iterator

import httpx

from dcp_cli import __version__, exits
from dcp_cli.exits import CliError

API = "/api/v1"
PAGE = 500  # rows asked per page when following a list (the API allows up to 1000); DCP_PAGE_SIZE changes it
MAX_THROTTLE_WAIT = 60  # seconds: a 429 asking for longer is reported, not waited out


def message_of(answer: httpx.Response) -> str:
    """The API's own words: its `detail`, or each field's messages as `field: message`."""
    try:
        body = answer.json()
    except ValueError:
        text = answer.text.strip()
        return text[:500] if text else f"HTTP {answer.status_code} {answer.reason_phrase}"
    return _flatten(body) or f"HTTP {answer.status_code} {answer.reason_phrase}"


def _flatten(body, prefix: str = "") -> str:
    """Field errors (nested maps and lists of messages) as `field: message` lines."""
    if isinstance(body, str):
        return f"{prefix}: {body}" if prefix else body
    if isinstance(body, list):
        return "\n".join(filter(None, (_flatten(item, prefix) for item in body)))
    if isinstance(body, dict):
        if isinstance(body.get("detail"), str) and not prefix:
            return body["detail"]
        lines = []
        for key, value in body.items():
            name = prefix if key in ("non_field_errors", "detail") else (f"{prefix}.{key}" if prefix else str(key))
            lines.append(_flatten(value, name))
        return "\n".join(filter(None, lines))
    return f"{prefix}: {body}" if prefix else str(body)


def _is_budget_refusal(answer: httpx.Response) -> bool:
    """A 409 that names a budget: a scale-out an enforced budget refused."""
    try:
        body = answer.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    return any("budget" in str(key).lower() for key in body) or "budget" in str(body.get("detail", "")).lower()


def exit_code_for(answer: httpx.Response) -> int:
    """The exit code an error answer maps to."""
    status = answer.status_code
    if status == 409:
        return exits.REFUSED if _is_budget_refusal(answer) else exits.ERROR
    return {401: exits.AUTH, 403: exits.REFUSED}.get(status, exits.ERROR)


class Api:
    """A signed-in session with one DCP server."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": f"dcp-cli/{__version__}"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def request(self, method: str, path: str, *, ok=(200,), missing: str | None = None, **kwargs) -> httpx.Response:
        """Send a request; an answer outside `ok` raises CliError with the API's message and its exit code.

        `missing` replaces the message of a 404 (e.g. an endpoint this server does not have yet).
        A 429 is waited out (Retry-After, up to MAX_THROTTLE_WAIT seconds) and sent again once.
        """
        answer = self._send(method, path, **kwargs)
        if answer.status_code == 429:
            wait = _retry_after(answer)
            if wait is not None and wait <= MAX_THROTTLE_WAIT:
                time.sleep(wait)
                answer = self._send(method, path, **kwargs)
        if answer.status_code in ok:
            return answer
        if answer.status_code == 404 and missing:
            raise CliError(missing, exits.ERROR)
        raise CliError(message_of(answer), exit_code_for(answer))

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise CliError(f"DCP at {self.url} did not answer {method} {path} in time.") from None
        except httpx.HTTPError as exc:
            raise CliError(f"Cannot reach DCP at {self.url}: {exc}") from None

    def get(self, path: str, **kwargs) -> dict:
        """GET a JSON object."""
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, body: dict | None = None, *, ok=(200, 201, 202), **kwargs) -> httpx.Response:
        """POST a JSON body."""
        return self.request("POST", path, json=body if body is not None else {}, ok=ok, **kwargs)

    def pages(self, path: str, params: dict | None = None, *, limit: int | None = None, **kwargs) -> Iterator[dict]:
        """Every row of a paged list, following `next` until the end or `limit` rows."""
        query = {key: value for key, value in (params or {}).items() if value is not None}
        query["limit"] = min(limit, page_size()) if limit else page_size()
        url: str | None = path
        given = 0
        while url:
            body = self.request("GET", url, params=query, **kwargs).json()
            for row in body["results"]:
                yield row
                given += 1
                if limit and given >= limit:
                    return
            url, query = body.get("next"), None  # `next` carries every parameter
            if url and not url.startswith(self.url):
                # A server behind a proxy may name itself differently: keep our base, take its path and query.
                parsed = httpx.URL(url)
                url = parsed.raw_path.decode()

    def all(self, path: str, params: dict | None = None, *, limit: int | None = None, **kwargs) -> list[dict]:
        """Every row of a paged list (up to `limit`)."""
        return list(self.pages(path, params, limit=limit, **kwargs))


def page_size() -> int:
    """Rows per request when following a list: DCP_PAGE_SIZE (1 to 1000), default PAGE."""
    text = os.environ.get("DCP_PAGE_SIZE", "").strip()
    if not text:
        return PAGE
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise CliError(f"DCP_PAGE_SIZE={text!r}: use a whole number from 1 to 1000.", exits.USAGE)
    return int(text)


def _retry_after(answer: httpx.Response) -> float | None:
    try:
        return float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None
