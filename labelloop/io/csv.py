"""CSV with a header row: cells are strings; ``meta`` holds a JSON object, ``labels`` a
comma-separated list (label names never contain commas)."""

from __future__ import annotations

import csv as _csv
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from labelloop.exceptions import ImportDataError
from labelloop.io.records import FieldNames

__all__ = ["parse_number", "read_csv", "write_csv"]

_FIELD_LIMIT = 64 * 1024 * 1024


def parse_number(cell: str) -> int | float | str:
    """The int or float a cell spells, else the cell itself (for tabular features)."""
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        return cell
    return value if math.isfinite(value) else cell


def read_csv(
    path: str | Path,
    *,
    fields: FieldNames = FieldNames(),  # noqa: B008 - frozen, so a shared default is safe
    numeric: bool = False,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, row)`` for each data row of a CSV file with a header.

    Empty cells become None; the meta column is parsed as JSON, the labels column split
    on commas; with ``numeric`` (tabular projects) other cells that spell numbers
    become numbers.

    Raises
    ------
    ImportDataError
        Naming the file and line of bad quoting, a row of the wrong width, or a meta
        cell that is not JSON.
    """
    name = str(path)
    _csv.field_size_limit(_FIELD_LIMIT)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = _csv.reader(handle, strict=True)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                return
            header = [column.strip() for column in header]
            if len(set(header)) != len(header) or not all(header):
                raise ImportDataError(
                    "the header has an empty or repeated column name", path=name, line=1
                )
            keep_text = {fields.id, fields.label}
            while True:
                start = reader.line_num + 1
                cells = next(reader, None)
                if cells is None:
                    return
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise ImportDataError(
                        f"expected {len(header)} cells as in the header, got {len(cells)}",
                        path=name,
                        line=start,
                    )
                row: dict[str, Any] = {}
                for column, cell in zip(header, cells, strict=True):
                    row[column] = _cell(
                        column, cell, fields, numeric and column not in keep_text, name, start
                    )
                yield start, row
        except _csv.Error as exc:
            raise ImportDataError(f"bad CSV: {exc}", path=name, line=start) from None
        except UnicodeDecodeError as exc:
            raise ImportDataError(f"not UTF-8 text ({exc.reason})", path=name, line=start) from None


def _cell(column: str, cell: str, fields: FieldNames, numeric: bool, name: str, line: int) -> Any:
    if cell == "":
        return None
    if column == fields.meta:
        try:
            return json.loads(cell)
        except json.JSONDecodeError as exc:
            raise ImportDataError(
                f"meta must be a JSON object: {exc.msg}", path=name, line=line, field=column
            ) from None
    if column == fields.labels:
        return [part.strip() for part in cell.split(",") if part.strip()]
    if numeric:
        return parse_number(cell)
    return cell


def write_csv(records: Iterable[dict[str, Any]], handle: IO[str], *, columns: Sequence[str]) -> int:
    """Write records as CSV rows under ``columns``; lists are comma-joined (labels) and
    mappings written as JSON (meta). Return how many rows were written."""
    writer = _csv.writer(handle, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for record in records:
        writer.writerow([_format_cell(record.get(column)) for column in columns])
        count += 1
    return count


def _format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
