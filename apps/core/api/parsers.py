"""Request parsers: JSON that the database can store, and CSV (a header row, then one object per row)."""

import csv
import io

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.parsers import JSONParser as DRFJSONParser

MAX_ROWS = 10_000
NUL = "\x00"


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
        """Parse, then refuse a NUL in any key or string, naming where it is."""
        data = super().parse(stream, media_type, parser_context)
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
