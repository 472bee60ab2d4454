"""The cost answer as CSV: one line per row (per bucket with a series), for spreadsheets."""

import csv
import io
import json

from rest_framework.renderers import BaseRenderer


def csv_lines(result: dict, dimensions: list[str]) -> list[list[str]]:
    """Header and lines: period, line (cost or idle), each dimension's id, key, figures, currency."""
    header = ["period_start", "period_end", "line", *dimensions, "key", "cost", "host_hours", "unpriced_host_hours"]
    lines = [[*header, "currency"]]
    periods = result.get("series") or [result]
    for period in periods:
        for line, rows in (("cost", period["rows"]), ("idle", period.get("idle") or [])):
            for row in rows:
                ids = [str(row["ids"].get(d, "")) for d in dimensions]
                figures = [row["cost"], row["host_hours"], row["unpriced_host_hours"]]
                lines.append([period["start"], period["end"], line, *ids, row["key"], *figures, result["currency"]])
    return lines


class CostCSVRenderer(BaseRenderer):
    """Renders csv_lines as text/csv; an error answer is rendered as its JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        """CSV for a list of lines, JSON text for anything else (an error)."""
        if not isinstance(data, list):
            return json.dumps(data).encode()
        out = io.StringIO()
        csv.writer(out).writerows(data)
        return out.getvalue().encode()
