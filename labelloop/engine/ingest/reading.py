"""Reading an import: open the source, check every record, spool the valid rows.

Nothing here writes to the database.
"""

from __future__ import annotations

import json
import marshal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.schema import validate_label
from labelloop.exceptions import RECORDS_SOURCE, ImportDataError, ValidationError
from labelloop.io.records import FORMATS, FieldNames, Record, detect_format, file_sha256
from labelloop.store.tables import ItemRow, ProjectRow

__all__ = [
    "BATCH_ROWS",
    "DuplicateInfo",
    "ImportPlan",
    "ProgressCallback",
    "Schema",
    "check_source",
    "open_source",
    "pool_keys",
]

BATCH_ROWS = 10_000
_MAX_EXAMPLES = 20
_MEDIA_TYPES = ("image", "audio", "video")

ProgressCallback = Callable[[str, int, int | None], None]
"""Called as ``(phase, done, total)``; phase is ``"validating"`` or ``"writing"``."""


@dataclass(frozen=True)
class DuplicateInfo:
    """A skipped record: its id and line, and the id of the item with the same content."""

    external_id: str
    line: int
    duplicate_of: str


class _Spool:
    """Validated rows, serialised with `marshal` to a temporary file in batches.

    The validation pass reads the source once and spools the rows ready to write, so
    the write pass neither parses again nor holds the import in memory.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), always called
        self._batch: list[tuple[Any, ...]] = []

    def add(self, row: tuple[Any, ...]) -> None:
        self._batch.append(row)
        if len(self._batch) >= BATCH_ROWS:
            self._dump()

    def _dump(self) -> None:
        if self._batch:
            marshal.dump(self._batch, self._file)
            self._batch = []

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        self._dump()
        self._file.seek(0)
        while True:
            try:
                yield marshal.load(self._file)
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()


@dataclass
class ImportPlan:
    """What validation found, and the spooled rows (external id, payload JSON, media
    ref, meta JSON, content hash, label JSON or None) of the items to create."""

    spool: _Spool
    n_records: int = 0
    n_new: int = 0
    n_labelled: int = 0
    duplicates: list[DuplicateInfo] = field(default_factory=list)
    n_duplicates: int = 0


# --------------------------------------------------------------------------- sources


def open_source(
    *,
    path: str | Path | None,
    records: Iterable[Mapping[str, Any]] | None,
    format: str,
    fields: FieldNames,
    task_type: str,
    settings: dict[str, Any],
) -> tuple[str, str, str | None, list[str], Iterator[Record]]:
    """(source name, format, sha256, ignored files, the records, read as they are used)."""
    from labelloop.io.records import record_from_mapping

    if format not in ("auto", *FORMATS):
        raise ValidationError(
            f"unknown format {format!r}: use auto, {', '.join(FORMATS)}", field="format"
        )
    kind = "tabular" if task_type == "tabular" else "text"
    if records is not None:
        name = RECORDS_SOURCE
        if task_type in _MEDIA_TYPES:
            raise ValidationError(
                f"a {task_type} project imports a directory of files, not records", field="path"
            )
        converted = (
            record_from_mapping(raw, kind=kind, source=name, line=number, fields=fields)
            for number, raw in enumerate(records, start=1)
        )
        return name, "records", None, [], converted

    source = Path(path)  # type: ignore[arg-type]
    name = str(source)
    if not source.exists():
        raise ImportDataError("no such file or directory", path=name)
    fmt = detect_format(source) if format == "auto" else format
    if fmt == "media":
        from labelloop.io.media import read_media_dir

        if settings.get("media_root") is None:
            settings["media_root"] = str(source.resolve())
        found, ignored = read_media_dir(
            source, task_type=task_type, media_root=settings["media_root"]
        )
        return name, fmt, None, ignored, iter(found)
    if task_type in _MEDIA_TYPES:
        raise ImportDataError(
            f"a {task_type} project imports a directory of files, not a {fmt} file", path=name
        )
    if not source.is_file():
        raise ImportDataError(f"not a file: a {fmt} import reads one file", path=name)

    def read() -> Iterator[Record]:
        if fmt == "jsonl":
            from labelloop.io.jsonl import read_jsonl

            rows = read_jsonl(source)
        elif fmt == "csv":
            from labelloop.io.csv import read_csv

            rows = read_csv(source, fields=fields, numeric=kind == "tabular")
        else:
            from labelloop.io.parquet import read_parquet

            rows = read_parquet(source, fields=fields)
        for number, raw in rows:
            yield record_from_mapping(raw, kind=kind, source=name, line=number, fields=fields)

    return name, fmt, file_sha256(source), [], read()


# --------------------------------------------------------------------------- validation


class Schema:
    """The project's label schema, turned into a fast per-record check."""

    def __init__(self, project_row: ProjectRow) -> None:
        # A detached copy of the schema: it outlives the session it was read in.
        self.project_row = ProjectRow(
            labels=list(project_row.labels), multi_label=project_row.multi_label
        )
        self.labels = frozenset(project_row.labels)
        self.multi_label = project_row.multi_label

    def normalise(self, record: Record, source: str) -> Any:
        """The record's label in stored form (None if unlabelled), or ImportDataError."""
        value = record.label
        if value is None:
            return None
        # Fast path for the common case: a known single label.
        if not self.multi_label and isinstance(value, str) and value in self.labels:
            return value
        try:
            if self.multi_label:
                if isinstance(value, str):  # "a,b" in a label column: names have no commas
                    value = [part.strip() for part in value.split(",") if part.strip()]
                return validate_label(self.project_row, labels=value)
            return validate_label(self.project_row, label=value)
        except ValidationError as exc:
            raise ImportDataError(
                str(exc), path=source, line=record.line, field=record.label_field
            ) from None


def pool_keys(session: Session, project_id: int) -> tuple[set[str], dict[str, str]]:
    ids: set[str] = set()
    hashes: dict[str, str] = {}
    rows = session.execute(
        select(ItemRow.external_id, ItemRow.content_hash).where(ItemRow.project_id == project_id)
    )
    for external_id, content_hash in rows:
        ids.add(external_id)
        hashes.setdefault(content_hash, external_id)
    return ids, hashes


def check_source(
    records: Iterator[Record],
    schema: Schema,
    existing_ids: set[str],
    existing_hashes: dict[str, str],
    source: str,
    id_field: str,
    on_progress: ProgressCallback | None,
) -> ImportPlan:
    """Check every record and spool the valid rows; the first bad one raises.

    The spool is closed (its file removed) when anything goes wrong.
    """
    plan = ImportPlan(spool=_Spool())
    try:
        dumps = json.dumps
        first_line: dict[str, int] = {}
        seen_hashes: dict[str, str] = {}
        for record in records:
            plan.n_records += 1
            external_id = record.external_id
            if external_id in first_line:
                raise ImportDataError(
                    f"duplicate id {external_id!r} (first on line {first_line[external_id]})",
                    path=source,
                    line=record.line,
                    field=id_field,
                )
            if external_id in existing_ids:
                raise ImportDataError(
                    f"id {external_id!r} is already in the project: ids are unique per project",
                    path=source,
                    line=record.line,
                    field=id_field,
                )
            first_line[external_id] = record.line
            label = schema.normalise(record, source)
            original = existing_hashes.get(record.content_hash) or seen_hashes.get(
                record.content_hash
            )
            if original is not None:
                plan.n_duplicates += 1
                if len(plan.duplicates) < _MAX_EXAMPLES:
                    plan.duplicates.append(DuplicateInfo(external_id, record.line, original))
            else:
                seen_hashes[record.content_hash] = external_id
                plan.n_new += 1
                plan.n_labelled += label is not None
                plan.spool.add(
                    (
                        external_id,
                        dumps(record.payload),
                        record.media_ref,
                        dumps(record.meta),
                        record.content_hash,
                        None if label is None else dumps(label),
                    )
                )
            if on_progress is not None and plan.n_records % BATCH_ROWS == 0:
                on_progress("validating", plan.n_records, None)
        if plan.n_records == 0:
            raise ImportDataError("no records: the source is empty", path=source)
        if on_progress is not None:
            on_progress("validating", plan.n_records, plan.n_records)
    except BaseException:
        plan.spool.close()
        raise
    return plan
