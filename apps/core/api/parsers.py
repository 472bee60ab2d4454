"""Request parsers: JSON that the database can store, and CSV (a header row, then one object per row)."""

import csv
import io
import re
from itertools import accumulate

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.utils import json

MAX_ROWS = 10_000
NUL = "\x00"
#: Deepest nesting of lists and objects a JSON body may have. No DCP field needs more than a few levels;
#: the limit keeps parsing, and every walk over the parsed value, far from Python's recursion limit.
MAX_JSON_DEPTH = 32
JSON_ESCAPE = re.compile(r"\\.", re.DOTALL)
JSON_STRING = re.compile(r'"[^"]*"')
JSON_BRACKET = re.compile(r"[\[\]{}]")


def too_deep(text: str) -> bool:
    """Whether lists and objects in JSON text nest past MAX_JSON_DEPTH, found without parsing it.

    Escapes go first (a backslash and the character after it), then strings,
    so brackets inside strings do not count. Each step is one linear pass:
    no pattern here can backtrack over the body.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    brackets = JSON_BRACKET.findall(JSON_STRING.sub("", JSON_ESCAPE.sub("", text)))
    return max(accumulate(1 if bracket in "[{" else -1 for bracket in brackets), default=0) > MAX_JSON_DEPTH


def _nul_path(value, path: str = "") -> str | None:
    """Where in value a NUL character is ('' for the top), or None if there is none."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), item) for i, item in enumerate(value))
    else:
        return None
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if NUL in key:
            return here
        found = _nul_path(item, here)
        if found is not None:
            return found
    return None


class JSONParser(DRFJSONParser):
    """JSON bodies, refusing NUL characters anywhere: PostgreSQL text and JSON cannot hold them."""

    def parse(self, stream, media_type=None, parser_context=None):
        """Refuse nesting past MAX_JSON_DEPTH before parsing; parse; refuse a NUL in any key or string."""
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"JSON parse error - the body is not {encoding} text.") from None
        if too_deep(text):
            raise ParseError(f"JSON body nests lists and objects more than {MAX_JSON_DEPTH} levels deep; flatten it.")
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        where = _nul_path(data)
        if where is not None:
            place = f" in {where}" if where else ""
            raise ParseError(f"NUL character (\\u0000){place}: it cannot be stored; remove it.")
        return data


class CSVParser(BaseParser):
    """Parses text/csv into a list of dicts keyed by the header row; empty cells are left out."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        """Read the whole body as UTF-8 CSV."""
        try:
            text = stream.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError("CSV body is not UTF-8 text.") from None
        if NUL in text:
            raise ParseError("CSV body contains a NUL character, which cannot be stored; remove it.")
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        try:
            if not reader.fieldnames:
                raise ParseError("CSV body has no header row.")
            for row in reader:
                if len(rows) >= MAX_ROWS:
                    raise ParseError(f"CSV body has more than {MAX_ROWS} rows; split it.")
                if None in row:
                    raise ParseError(f"CSV row {reader.line_num} has more cells than the header.")
                rows.append({key.strip(): value.strip() for key, value in row.items() if value not in (None, "")})
        except csv.Error as exc:
            raise ParseError(f"CSV body is malformed: {exc}") from None
        return rows
