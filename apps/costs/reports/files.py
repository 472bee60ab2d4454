"""A report as CSV and as an XLSX workbook: the same lines, one per row, then the total."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from apps.costs.currencies import MINOR_UNITS
from apps.costs.reports.choices import ReportFormat
from apps.costs.reports.models import CostReport

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {ReportFormat.CSV: "text/csv", ReportFormat.XLSX: XLSX_TYPE}
FIGURES = ("cost", "host_hours", "unpriced_host_hours", "previous_cost", "change")


def lines(report: CostReport) -> list[list[str]]:
    """Header, a line per row (line "row") and the total (line "total"); figures as decimal strings."""
    dimensions = report.group_by.split(",")
    start, end = report.period_start.isoformat(), report.period_end.isoformat()
    found = [["period_start", "period_end", "line", *dimensions, "key", *FIGURES, "currency"]]
    for row in report.rows:
        ids = [str(row["ids"].get(d, "")) for d in dimensions]
        found.append([start, end, "row", *ids, row["key"], *(row[f] for f in FIGURES), report.currency])
    totals = [report.total, report.host_hours, report.unpriced_host_hours, report.previous_total, change(report)]
    found.append([start, end, "total", *[""] * len(dimensions), "", *map(str, totals), report.currency])
    return found


def change(report: CostReport) -> Decimal:
    """The total's change from the previous period."""
    return report.total - report.previous_total


def filename(report: CostReport, extension: str) -> str:
    """e.g. cost-report-7-2026-01-01.csv (the schedule's id and the period's first day)."""
    return f"cost-report-{report.schedule_id}-{report.period_start:%Y-%m-%d}.{extension}"


def as_csv(report: CostReport) -> bytes:
    """The lines as UTF-8 CSV."""
    out = io.StringIO()
    csv.writer(out).writerows(lines(report))
    return out.getvalue().encode()


def as_xlsx(report: CostReport) -> bytes:
    """The lines as a workbook: figures are numbers (money to the currency's minor unit), the rest text."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Costs")
    sheet.freeze_panes = "A2"
    header, *body = lines(report)
    sheet.append(header)
    first_figure = header.index(FIGURES[0])
    figures = range(first_figure, first_figure + len(FIGURES))
    places = MINOR_UNITS[report.currency]
    formats = {
        i: "0.0000" if header[i].endswith("hours") else "0" + ("." + "0" * places if places else "") for i in figures
    }
    for line in body:
        sheet.append([_cell(sheet, value, formats.get(i)) for i, value in enumerate(line)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(sheet, value: str, number_format: str | None) -> WriteOnlyCell:
    """A figure as a number in number_format, or text that stays text (a pool named "=HYPERLINK(...)" is no
    formula)."""
    if number_format:
        cell = WriteOnlyCell(sheet, value=Decimal(value))
        cell.number_format = number_format
        return cell
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


RENDER = {ReportFormat.CSV: as_csv, ReportFormat.XLSX: as_xlsx}


def render(report: CostReport, kind: str) -> bytes:
    """The report in one of its formats."""
    return RENDER[kind](report)
