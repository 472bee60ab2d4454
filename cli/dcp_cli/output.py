"""-o table|json|yaml|csv|value and -c COLUMN, as openstackclient's formatters do them.

JSON and YAML print the API's own objects (only the columns asked for with
-c); table, csv and value print one line per object, nested values as
compact JSON. A single object (show) prints as field/value pairs in a table,
one value per line with `value`.
"""

import csv
import io
import json
import sys

import click
import yaml
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "yaml", "csv", "value")


def stdout_console() -> Console:
    """A console on stdout; off a terminal, wide enough that tables never wrap."""
    return Console(width=None if sys.stdout.isatty() else 1000, highlight=False, soft_wrap=False)


def stderr_console() -> Console:
    """A console on stderr for progress and messages, so stdout holds only the answer."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def cell(value) -> str:
    """One value as text: empty for null, compact JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def pick(row: dict, columns: list[str]) -> dict:
    """The row reduced to columns, in that order."""
    return {column: row.get(column) for column in columns}


def check_columns(asked: tuple[str, ...], available: list[str]) -> None:
    """Refuse a -c that names no field, saying which there are."""
    unknown = [column for column in asked if column not in available]
    if unknown:
        raise click.UsageError(f"No column {', '.join(unknown)}; choose from: {', '.join(available)}.")


def print_list(rows: list[dict], fmt: str, columns: tuple[str, ...], default: list[str]) -> None:
    """A list of API objects."""
    available = list(dict.fromkeys(key for row in rows for key in row)) or list(default)
    if columns:
        check_columns(columns, available)
    shown = list(columns) or [column for column in default if column in available] or available
    if fmt in ("json", "yaml"):
        _dump([pick(row, shown) for row in rows] if columns else rows, fmt)
    elif fmt == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(shown)
        out.writerows([cell(row.get(column)) for column in shown] for row in rows)
    elif fmt == "value":
        for row in rows:
            click.echo(" ".join(cell(row.get(column)) for column in shown))
    else:
        table = Table(*shown, show_lines=False)
        for row in rows:
            table.add_row(*(cell(row.get(column)) for column in shown))
        stdout_console().print(table)


def print_object(obj: dict, fmt: str, columns: tuple[str, ...], default: list[str] | None = None) -> None:
    """One API object (a show): every field, or the -c columns."""
    available = list(obj)
    if columns:
        check_columns(columns, available)
    shown = list(columns) or [column for column in (default or []) if column in available] or available
    if fmt in ("json", "yaml"):
        _dump(pick(obj, shown) if columns else obj, fmt)
    elif fmt == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(shown)
        out.writerow([cell(obj.get(column)) for column in shown])
    elif fmt == "value":
        for column in shown:
            click.echo(cell(obj.get(column)))
    else:
        table = Table("Field", "Value")
        for column in shown:
            table.add_row(column, cell(obj.get(column)))
        stdout_console().print(table)


def _dump(data, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        buffer = io.StringIO()
        yaml.safe_dump(data, buffer, sort_keys=False, allow_unicode=True)
        click.echo(buffer.getvalue(), nl=False)
