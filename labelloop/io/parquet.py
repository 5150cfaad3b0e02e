"""Parquet, read and written in row batches with pyarrow (memory stays flat)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from labelloop.exceptions import ImportDataError
from labelloop.io.records import FieldNames

__all__ = ["read_parquet", "write_parquet"]

_BATCH_ROWS = 10_000


def read_parquet(
    path: str | Path,
    *,
    fields: FieldNames = FieldNames(),  # noqa: B008 - frozen, so a shared default is safe
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row number, row)`` for each row of a Parquet file (rows count from 1).

    A meta column may be a struct or a JSON string.

    Raises
    ------
    ImportDataError
        When the file is not Parquet, or a meta cell is not a JSON object.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = str(path)
    try:
        parquet_file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ImportDataError(f"not a readable Parquet file: {exc}", path=name) from None
    number = 0
    try:
        for batch in parquet_file.iter_batches(batch_size=_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                meta = row.get(fields.meta)
                if isinstance(meta, str):
                    try:
                        row[fields.meta] = json.loads(meta)
                    except json.JSONDecodeError as exc:
                        raise ImportDataError(
                            f"meta must be a JSON object: {exc.msg}",
                            path=name,
                            line=number,
                            field=fields.meta,
                        ) from None
                yield number, row
    except pa.ArrowException as exc:
        raise ImportDataError(
            f"unreadable Parquet data: {exc}", path=name, line=number + 1
        ) from None


def _schema(pa: Any, rows: list[dict[str, Any]], columns: Sequence[str]) -> Any:
    # Known columns get fixed types; a column that is all null in the first batch is text.
    known = {
        "id": pa.string(),
        "label": pa.string(),
        "labels": pa.list_(pa.string()),
        "meta": pa.string(),
        "annotators": pa.list_(pa.string()),
        "reviewers": pa.list_(pa.string()),
        "dataset_version": pa.int64(),
        "label_source": pa.string(),
    }
    inferred = pa.Table.from_pylist(rows).schema if rows else pa.schema([])
    schema_fields = []
    for column in columns:
        if column in known:
            kind = known[column]
        elif column in inferred.names and inferred.field(column).type != pa.null():
            kind = inferred.field(column).type
        else:
            kind = pa.string()
        schema_fields.append(pa.field(column, kind))
    return pa.schema(schema_fields)


def write_parquet(
    records: Iterable[dict[str, Any]], path: str | Path, *, columns: Sequence[str]
) -> int:
    """Write records to a Parquet file in row groups; meta is written as a JSON string
    column (metadata keys differ from item to item). Return how many rows were written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = 0
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal writer, schema
        if schema is None:
            schema = _schema(pa, batch, columns)
        table = pa.Table.from_pylist(batch, schema=schema)
        if writer is None:
            writer = pq.ParquetWriter(str(path), schema)
        writer.write_table(table)
        batch.clear()

    try:
        for record in records:
            row = {column: record.get(column) for column in columns}
            if isinstance(row.get("meta"), dict):
                row["meta"] = json.dumps(row["meta"], ensure_ascii=False, sort_keys=True)
            batch.append(row)
            count += 1
            if len(batch) >= _BATCH_ROWS:
                flush()
        if batch or writer is None:
            flush()
    finally:
        if writer is not None:
            writer.close()
    return count
