"""Ingestion: a file (JSONL, CSV, Parquet), a directory of media files, or records in
memory become items, open tasks, evaluation-set marks and imported final labels.

An import is all-or-nothing. The source is read once and validated as a whole,
streaming, record by record (ids, types, labels against the schema, duplicates), each
valid row spooled, ready to write, to a temporary file; nothing reaches the database
unless every record is valid. Then the spooled rows are written in one transaction, in
bulk batches, with one ``items.imported`` audit event.

De-duplication: a record whose content (normalised text, payload, or file bytes) equals
an item already in the pool or an earlier record of the same import is *skipped*, and
reported with its id and the id it duplicates.
"""

from __future__ import annotations

import json
import marshal
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import imported_decision, item_columns
from labelloop.engine.core.labels import label_key
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.schema import validate_label
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import ConflictError, ImportDataError, ValidationError
from labelloop.io.records import FORMATS, FieldNames, Record, detect_format, file_sha256
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, ProjectRow, utcnow
from labelloop.store.writes import BulkWriter

__all__ = ["DuplicateInfo", "ImportReport", "ProgressCallback", "import_items"]

ProgressCallback = Callable[[str, int, int | None], None]
"""Called as ``(phase, done, total)``; phase is ``"validating"`` or ``"writing"``."""

BATCH_ROWS = 10_000
_MAX_EXAMPLES = 20
_SQLITE_CACHE_KIB = 256 * 1024
_MEDIA_TYPES = ("image", "audio", "video")
# The columns an import writes, in flush order (items before the rows that point at them).
_COLUMNS = {
    "items": (
        "id", "project_id", "external_id", "payload", "media_ref", "meta",
        "content_hash", "is_eval", "status", "final_label", "label_source",
        "labelled_at", "created_at",
    ),
    "tasks": (
        "project_id", "item_id", "queue", "status", "priority", "needed",
        "active_leases", "reason", "is_eval", "created_at", "updated_at",
    ),
    "annotations": (
        "project_id", "item_id", "actor", "source", "label", "guideline_version",
        "status", "created_at",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class DuplicateInfo:
    """A skipped record: its id and line, and the id of the item with the same content."""

    external_id: str
    line: int
    duplicate_of: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes
    ----------
    n_records : int
        Records read from the source.
    n_imported : int
        Items created (``n_records - n_duplicates``).
    n_labelled : int
        Imported items that came with a label (their final label; no task).
    n_open : int
        Imported items without a label: each has an open task in the label queue.
    n_eval : int
        Imported items set aside for the evaluation set.
    n_duplicates : int
        Records skipped because their content equals an item's already in the pool or
        an earlier record's; ``duplicates`` lists the first of them.
    ignored_files : tuple of str
        For a media directory, files that were not media of the project's type.
    """

    project_id: int
    project_name: str
    source: str
    format: str
    sha256: str | None
    n_records: int
    n_imported: int
    n_labelled: int
    n_open: int
    n_eval: int
    n_duplicates: int
    duplicates: tuple[DuplicateInfo, ...] = field(default_factory=tuple)
    ignored_files: tuple[str, ...] = field(default_factory=tuple)
    duplicate_policy: str = "skipped"


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
class _Plan:
    """What validation found, and the spooled rows (external id, payload JSON, media
    ref, meta JSON, content hash, label JSON or None) of the items to create."""

    spool: _Spool
    n_records: int = 0
    n_new: int = 0
    n_labelled: int = 0
    duplicates: list[DuplicateInfo] = field(default_factory=list)
    n_duplicates: int = 0


def import_items(
    db: Database,
    *,
    actor: str,
    project: int | str,
    path: str | Path | None = None,
    records: Iterable[Mapping[str, Any]] | None = None,
    format: str = "auto",
    fields: FieldNames | None = None,
    seed: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import items into a project's pool, all or nothing.

    Parameters
    ----------
    db : Database
    actor : str
        Who imports (audited).
    project : int or str
        The project's id or name.
    path : path, optional
        A JSONL, CSV or Parquet file, or a directory of media files.
    records : iterable of mapping, optional
        Records in memory, shaped like a file's (instead of ``path``).
    format : {"auto", "jsonl", "csv", "parquet", "media"}
        The source's format; ``auto`` goes by the suffix (a directory is media).
    fields : FieldNames, optional
        The names of the id, text, label, labels and meta fields.
    seed : int, optional
        Seeds the evaluation-set draw and the cold-start order (default: derived from
        the source's content, so the same import gives the same result).
    on_progress : callable, optional
        ``(phase, done, total)`` progress callback.

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportDataError
        Naming the file, line and field of the first bad record; nothing is written.
    ConflictError
        When items with the same ids were added while this import ran.
    """
    if (path is None) == (records is None):
        raise ValidationError("give either a path or records to import", field="path")
    fields = fields or FieldNames()
    with db.read() as session:
        project_row = resolve_project(session, project)
        project_id = project_row.id
        settings = effective_settings(project_row)
        task_type = project_row.task_type
        schema = _Schema(project_row)
        existing_ids, existing_hashes = _pool_keys(session, project_id)

    source_name, fmt, sha256, ignored, source_records = _open_source(
        path=path,
        records=records,
        format=format,
        fields=fields,
        task_type=task_type,
        settings=settings,
    )
    plan = _validate(
        source_records, schema, existing_ids, existing_hashes, source_name, fields.id, on_progress
    )
    del existing_ids, existing_hashes
    if seed is None:
        seed = int((sha256 or "0")[:12], 16) ^ project_id
    rng = np.random.default_rng(seed)

    try:
        with db.transaction() as session:
            project_row = resolve_project(session, project_id)
            media_root = settings.get("media_root") if fmt == "media" else None
            if media_root is not None and project_row.settings.get("media_root") != media_root:
                project_row.settings = {**effective_settings(project_row), "media_root": media_root}
            n_eval = _write(session, project_row, plan, rng, actor, on_progress)
            report = ImportReport(
                project_id=project_id,
                project_name=project_row.name,
                source=source_name,
                format=fmt,
                sha256=sha256,
                n_records=plan.n_records,
                n_imported=plan.n_new,
                n_labelled=plan.n_labelled,
                n_open=plan.n_new - plan.n_labelled,
                n_eval=n_eval,
                n_duplicates=plan.n_duplicates,
                duplicates=tuple(plan.duplicates),
                ignored_files=tuple(ignored),
            )
            append_event(
                session,
                project_id=project_id,
                actor=actor,
                action="items.imported",
                target=f"project:{project_id}",
                after={
                    "source": source_name,
                    "format": fmt,
                    "sha256": sha256,
                    "records": report.n_records,
                    "imported": report.n_imported,
                    "labelled": report.n_labelled,
                    "open": report.n_open,
                    "eval": report.n_eval,
                    "duplicates_skipped": report.n_duplicates,
                    "duplicate_examples": [d.external_id for d in report.duplicates[:5]],
                    "media_root": media_root,
                },
            )
            return report
    except IntegrityError as exc:
        raise ConflictError(
            f"items with the same ids were added to project {project_id} while this import "
            "ran; nothing was imported: run the import again"
        ) from exc
    finally:
        plan.spool.close()


# --------------------------------------------------------------------------- sources


def _open_source(
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
        name = "<records>"
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


class _Schema:
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


def _pool_keys(session: Session, project_id: int) -> tuple[set[str], dict[str, str]]:
    ids: set[str] = set()
    hashes: dict[str, str] = {}
    rows = session.execute(
        select(ItemRow.external_id, ItemRow.content_hash).where(ItemRow.project_id == project_id)
    )
    for external_id, content_hash in rows:
        ids.add(external_id)
        hashes.setdefault(content_hash, external_id)
    return ids, hashes


def _validate(
    records: Iterator[Record],
    schema: _Schema,
    existing_ids: set[str],
    existing_hashes: dict[str, str],
    source: str,
    id_field: str,
    on_progress: ProgressCallback | None,
) -> _Plan:
    plan = _Plan(spool=_Spool())
    try:
        _check_records(
            plan, records, schema, existing_ids, existing_hashes, source, id_field, on_progress
        )
    except BaseException:
        plan.spool.close()
        raise
    return plan


def _check_records(
    plan: _Plan,
    records: Iterator[Record],
    schema: _Schema,
    existing_ids: set[str],
    existing_hashes: dict[str, str],
    source: str,
    id_field: str,
    on_progress: ProgressCallback | None,
) -> None:
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
        original = existing_hashes.get(record.content_hash) or seen_hashes.get(record.content_hash)
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


# --------------------------------------------------------------------------- writing


def _reserve_item_ids(session: Session, n: int) -> Iterator[int]:
    """Ids for ``n`` new items, so tasks and annotations can point at them in bulk."""
    if n == 0:
        return iter(())
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.execute(select(func.pg_get_serial_sequence("items", "id"))).scalar_one()
        ids = session.execute(
            select(func.nextval(sequence)).select_from(func.generate_series(1, n))
        ).scalars()
        return iter(sorted(ids))
    # SQLite: the write transaction (BEGIN IMMEDIATE) holds the database lock.
    start = session.execute(select(func.max(ItemRow.id))).scalar() or 0
    return iter(range(start + 1, start + n + 1))


def _eval_count(session: Session, project: ProjectRow, n_new: int) -> int:
    """How many of the new items join the evaluation set (topping up to its target)."""
    settings = effective_settings(project)
    n_before, n_eval_before = session.execute(
        select(func.count(), func.coalesce(func.sum(case((ItemRow.is_eval, 1), else_=0)), 0)).where(
            ItemRow.project_id == project.id
        )
    ).one()
    total = n_before + n_new
    # eval_min applies "where the pool allows": never more than half the pool.
    target = max(math.ceil(settings["eval_share"] * total), min(settings["eval_min"], total // 2))
    return max(0, min(n_new, target - int(n_eval_before)))


def _write(
    session: Session,
    project: ProjectRow,
    plan: _Plan,
    rng: np.random.Generator,
    actor: str,
    on_progress: ProgressCallback | None,
) -> int:
    settings = effective_settings(project)
    n_eval = _eval_count(session, project, plan.n_new)
    is_eval = np.zeros(plan.n_new, dtype=bool)
    is_eval[rng.choice(plan.n_new, size=n_eval, replace=False)] = True
    is_eval_list = is_eval.tolist()
    n_open = plan.n_new - plan.n_labelled
    # Cold-start order: a seeded random permutation scaled into [0, 1).
    priorities = iter((rng.permutation(n_open) / max(n_open, 1)).tolist())
    item_ids = _reserve_item_ids(session, plan.n_new)
    guideline_version = project.guideline_version or None
    overlap = settings["overlap"]
    project_id = project.id

    writer = BulkWriter(session, _COLUMNS, sqlite_cache_kib=_SQLITE_CACHE_KIB)
    items, tasks, annotations = (writer.rows[table] for table in _COLUMNS)
    now = writer.now
    imported = _ImportedLabels()
    ordinal = 0
    for batch in plan.spool.batches():
        for external_id, payload, media_ref, meta, content_hash, label in batch:
            item_id = next(item_ids)
            eval_item = is_eval_list[ordinal]
            ordinal += 1
            if label is None:
                items.append(
                    (item_id, project_id, external_id, payload, media_ref, meta, content_hash,
                     eval_item, "open", None, None, None, now)
                )  # fmt: skip
                tasks.append(
                    (project_id, item_id, "label", "open", next(priorities), overlap, 0,
                     "cold start: random order", eval_item, now, now)
                )  # fmt: skip
            else:
                decided = imported(label)
                items.append(
                    (item_id, project_id, external_id, payload, media_ref, meta, content_hash,
                     eval_item, decided["status"], decided["final_label"],
                     decided["label_source"], now, now)
                )  # fmt: skip
                annotations.append(
                    (project_id, item_id, actor, "import", label, guideline_version, "active",
                     now)
                )  # fmt: skip
        writer.flush()
        if on_progress is not None:
            on_progress("writing", ordinal, plan.n_new)
    writer.close()
    return n_eval


class _ImportedLabels:
    """The final-label rule's decision for an imported label, decided once per label.

    An imported record's label is one complete ``import`` vote: the rule
    (`labelloop.engine.core.final_label.imported_decision`) decides it, and
    `item_columns` maps the decision to the item's columns, as for every other label.
    """

    def __init__(self) -> None:
        self._decided: dict[tuple[bool, str], dict[str, Any]] = {}

    def __call__(self, label: Any) -> dict[str, Any]:
        key = (True, label) if isinstance(label, str) else (False, label_key(label))
        found = self._decided.get(key)
        if found is None:
            found = self._decided[key] = item_columns(imported_decision(label), utcnow())
        return found
