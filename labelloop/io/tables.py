"""Labelled tables for simulations: a CSV, JSON Lines or Parquet file to features and labels.

Unlike the import readers (one record per item, for a project), this reads a whole table
column by column: the label column, and either one text column or numeric feature columns.
Every error names the file, the column and, where it helps, the line or row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.exceptions import ValidationError

__all__ = ["TABLE_FORMATS", "LabelledTable", "load_labelled_table", "read_table"]

TABLE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class LabelledTable:
    """Features and labels read from a table file.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features) or list of str
        Numeric features (float64), or the texts of the text column.
    y : ndarray of shape (n_rows,)
        The labels.
    is_text : bool
        Whether ``X`` holds texts.
    feature_columns : tuple of str
        The columns ``X`` was read from (the text column alone for text).
    path : str
        The file read.
    """

    X: np.ndarray | list[str]
    y: np.ndarray
    is_text: bool
    feature_columns: tuple[str, ...]
    path: str


def read_table(path: str | Path) -> tuple[Any, list[str]]:
    """Read a CSV, JSON Lines or Parquet file whole.

    Parameters
    ----------
    path : str or Path
        The file; its format is told by the suffix (``.csv``, ``.jsonl``/``.ndjson``,
        ``.parquet``/``.pq``).

    Returns
    -------
    table : pyarrow.Table
        The columns.
    places : list of str
        Where each row is in the file, for error messages (``data.csv:7``, ``data.parquet row 6``).

    Raises
    ------
    ValidationError
        Naming the file when it is missing, empty, of an unknown format, or unreadable.
    """
    path = Path(path)
    fmt = TABLE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(
            f"{path}: unknown table format {path.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(sorted(TABLE_FORMATS))}",
            field="data",
        )
    if not path.is_file():
        raise ValidationError(f"{path}: no such file", field="data")
    if fmt == "jsonl":
        table, lines = _read_jsonl(path)
        places = [f"{path}:{line}" for line in lines]
    else:
        table = _read_with_arrow(path, fmt)
        if fmt == "csv":
            places = [f"{path}:{i + 2}" for i in range(table.num_rows)]
        else:
            places = [f"{path} row {i + 1}" for i in range(table.num_rows)]
    if table.num_rows == 0:
        raise ValidationError(f"{path}: the table has no rows", field="data")
    return table, places


def load_labelled_table(
    path: str | Path,
    *,
    label_column: str,
    text_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
) -> LabelledTable:
    """Read labels and features from a table file, checking every row.

    Parameters
    ----------
    path : str or Path
        A CSV, JSON Lines or Parquet file.
    label_column : str
        The column of true labels; every row needs one, and at least two classes.
    text_column : str, optional
        A column of texts to learn from.
    feature_columns : sequence of str, optional
        Numeric columns to learn from. Without these or ``text_column``, every numeric
        column but the label column is used.

    Returns
    -------
    LabelledTable

    Raises
    ------
    ValidationError
        Naming the file and column (and the line or row) of a missing column, an empty
        label or text, a non-numeric feature, or labels of a single class.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
    >>> _ = path.write_text("text,label\\ngreat,pos\\nawful,neg\\n")
    >>> table = load_labelled_table(path, label_column="label", text_column="text")
    >>> table.X, table.y.tolist()
    (['great', 'awful'], ['pos', 'neg'])
    """
    if text_column is not None and feature_columns:
        raise ValidationError(
            "give a text column or feature columns, not both", field="feature_columns"
        )
    table, places = read_table(path)
    names = list(table.column_names)

    def column(name: str, option: str) -> Any:
        if name not in names:
            raise ValidationError(
                f"{path}: no column {name!r} (given as {option}); columns: {', '.join(names)}",
                field=option,
            )
        return table.column(name)

    y = _labels(column(label_column, "label_column"), label_column, places, path)
    if text_column is not None:
        texts = _texts(column(text_column, "text_column"), text_column, places, path)
        return LabelledTable(texts, y, True, (text_column,), str(path))
    if feature_columns:
        chosen = list(feature_columns)
        for name in chosen:
            column(name, "feature_columns")
    else:
        chosen = [n for n in names if n != label_column and _is_numeric(table.column(n).type)]
        if not chosen:
            raise ValidationError(
                f"{path}: no numeric feature columns besides {label_column!r}; "
                "name a text column or the feature columns",
                field="feature_columns",
            )
    X = np.column_stack([_numbers(table.column(n), n, places, path) for n in chosen])
    return LabelledTable(X, y, False, tuple(chosen), str(path))


def _read_with_arrow(path: Path, fmt: str) -> Any:
    import pyarrow as pa

    try:
        if fmt == "csv":
            from pyarrow import csv

            return csv.read_csv(path)
        from pyarrow import parquet

        return parquet.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(f"{path}: cannot read as {fmt}: {reason}", field="data") from exc


def _read_jsonl(path: Path) -> tuple[Any, list[int]]:
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValidationError(
                        f"{path}:{number}: not valid JSON ({exc.msg})", field="data"
                    ) from exc
                if not isinstance(row, dict):
                    raise ValidationError(
                        f"{path}:{number}: each line must be a JSON object", field="data"
                    )
                rows.append(row)
                lines.append(number)
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text ({exc.reason})", field="data") from exc
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowException, TypeError):
            # Mixed kinds of value: keep them as text, so only use as features fails.
            columns[name] = pa.array([None if v is None else str(v) for v in values])
    return pa.table(columns) if columns else pa.table({}), lines


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_boolean(arrow_type)
    )


def _first_missing(values: Sequence[Any]) -> int | None:
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return i
    return None


def _labels(column: Any, name: str, places: list[str], path: str | Path) -> np.ndarray:
    values = column.to_pylist()
    missing = _first_missing(values)
    if missing is not None:
        raise ValidationError(f"{places[missing]}: column {name!r} has no label", field=name)
    if len({type(v) for v in values}) > 1:
        values = [str(v) for v in values]
    y = np.asarray(values)
    if len(np.unique(y)) < 2:
        raise ValidationError(
            f"{path}: column {name!r} has one class only ({values[0]!r}); "
            "a classifier needs at least two",
            field=name,
        )
    return y


def _texts(column: Any, name: str, places: list[str], path: str | Path) -> list[str]:
    values = column.to_pylist()
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{places[i]}: column {name!r} has no text", field=name)
    return values


def _numbers(column: Any, name: str, places: list[str], path: str | Path) -> np.ndarray:
    if _is_numeric(column.type):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    else:
        # Text cells that all spell numbers (mixed JSON values) are numbers too.
        cells = column.to_pylist()
        values = np.empty(len(cells))
        for i, cell in enumerate(cells):
            try:
                values[i] = np.nan if cell is None else float(cell)
            except (TypeError, ValueError):
                raise ValidationError(
                    f"{places[i]}: column {name!r} is not numeric ({cell!r}); "
                    "use --text-column for text",
                    field=name,
                ) from None
    missing = np.flatnonzero(~np.isfinite(values))
    if missing.size:
        raise ValidationError(
            f"{places[missing[0]]}: column {name!r} has no number ({missing.size} rows)",
            field=name,
        )
    return values
