"""A CSV request parser: a header row, then one object per row."""

import csv
import io

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_ROWS = 10_000


class CSVParser(BaseParser):
    """Parses text/csv into a list of dicts keyed by the header row; empty cells are left out."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        """Read the whole body as UTF-8 CSV."""
        try:
            text = stream.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError("CSV body is not UTF-8 text.") from None
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ParseError("CSV body has no header row.")
        rows = []
        try:
            for row in reader:
                if len(rows) >= MAX_ROWS:
                    raise ParseError(f"CSV body has more than {MAX_ROWS} rows; split it.")
                if None in row:
                    raise ParseError(f"CSV row {reader.line_num} has more cells than the header.")
                rows.append({key.strip(): value.strip() for key, value in row.items() if value not in (None, "")})
        except csv.Error as exc:
            raise ParseError(f"CSV body is malformed: {exc}") from None
        return rows
