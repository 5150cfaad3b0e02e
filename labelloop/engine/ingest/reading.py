"""Reading an import: open the source, check every record, spool the valid rows.

Nothing here writes to the database.

Rules
-----
1. A record whose id is already in the project is refused (``on_existing="error"``),
   counted and left alone (``"skip"``), or spooled as an update of its item
   (``"update"``); every record's label is checked against the schema in every mode.
2. An update never changes a label: a record for an existing item that carries a label
   other than the item's final label (or any label, when the item has none) is refused
   naming its file, line and label field.
3. De-duplication applies to updates too: a record whose new content equals another
   item's in the pool, or an earlier record's, is skipped as a duplicate.
"""

from __future__ import annotations

import json
import marshal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.labels import label_key
from labelloop.engine.core.schema import validate_label
from labelloop.exceptions import RECORDS_SOURCE, ImportDataError, ValidationError
from labelloop.io.records import (
    BOX_FORMATS,
    ENTITY_FORMATS,
    FORMAT_ALIASES,
    FORMATS,
    FieldNames,
    Record,
    detect_format,
    file_sha256,
)
from labelloop.store.tables import ItemRow, ProjectRow

__all__ = [
    "BATCH_ROWS",
    "ON_EXISTING",
    "DuplicateInfo",
    "ExistingItem",
    "ImportPlan",
    "ProgressCallback",
    "Schema",
    "check_source",
    "open_source",
    "pool_items",
    "pool_keys",
]

BATCH_ROWS = 10_000
_MAX_EXAMPLES = 20
_MEDIA_TYPES = ("image", "audio", "video")
ON_EXISTING = ("error", "skip", "update")
"""What an import does with a record whose id is already in the project."""

ProgressCallback = Callable[[str, int, int | None], None]
"""Called as ``(phase, done, total)``; phase is ``"validating"``, ``"writing"`` or
``"updating"``."""


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


class ExistingItem(NamedTuple):
    """What checking a record for an item already in the pool needs of that item."""

    content_hash: str
    final_label: Any


@dataclass
class ImportPlan:
    """What validation found, and the spooled rows.

    ``spool`` holds the items to create (external id, payload JSON, media ref, meta
    JSON, content hash, label JSON or None); ``updates`` the records of existing items
    (external id, payload JSON, media ref, meta JSON, content hash) to compare with
    them and apply where they differ.
    """

    spool: _Spool
    updates: _Spool
    n_records: int = 0
    n_new: int = 0
    n_labelled: int = 0
    duplicates: list[DuplicateInfo] = field(default_factory=list)
    n_duplicates: int = 0
    n_skipped: int = 0
    n_update_candidates: int = 0

    def close(self) -> None:
        """Remove the spool files."""
        self.spool.close()
        self.updates.close()


# --------------------------------------------------------------------------- sources


def open_source(
    *,
    path: str | Path | None,
    records: Iterable[Mapping[str, Any]] | None,
    format: str,
    fields: FieldNames,
    task_type: str,
    settings: dict[str, Any],
    multi_label: bool = False,
    bbox_format: str | None = None,
) -> tuple[str, str, str | None, list[str], Iterator[Record]]:
    """(source name, format, sha256, ignored files, the records, read as they are used).

    ``bbox_format`` is the box layout of a box project's Hugging Face dataset
    (`labelloop.io.hf`, rule 5) or records (`labelloop.io.boxes`, rule 5); None is
    xyxy. Given for any other source it is refused.
    """
    from labelloop.io.records import record_from_mapping

    format = FORMAT_ALIASES.get(format, format)
    if format not in ("auto", *FORMATS):
        raise ValidationError(
            f"unknown format {format!r}: use auto, {', '.join(FORMATS)}", field="format"
        )
    kind = "tabular" if task_type == "tabular" else "text"
    if task_type == "ner" and fields.label == "label":
        # An entity record carries its spans in "spans", as every entity format does.
        fields = replace(fields, label="spans")
    if bbox_format is not None:
        from labelloop.io.hf import check_bbox_format

        check_bbox_format(bbox_format)
    if task_type == "boxes":
        return _open_boxes(path, records, format, settings, bbox_format)
    _refuse_bbox_format(bbox_format, f"a {task_type} project's import")
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
        if format == "hf":
            from labelloop.io.hf import check_local_dataset

            check_local_dataset(source)
        raise ImportDataError("no such file or directory", path=name)
    fmt = detect_format(source) if format == "auto" else format
    if source.suffix.lower() == ".json" and format == "auto" and _is_json_array(source):
        fmt = "label_studio"
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
    if not source.is_file() and fmt != "hf":
        raise ImportDataError(f"not a file: a {fmt} import reads one file", path=name)
    if fmt in BOX_FORMATS:
        raise ImportDataError(
            f"a {task_type} project does not import {fmt}: it is for boxes", path=name
        )
    if fmt in ENTITY_FORMATS and task_type != "ner":
        raise ImportDataError(
            f"a {task_type} project does not import {fmt}: it is for ner", path=name
        )
    if task_type == "ner" and fmt not in (*ENTITY_FORMATS, "jsonl", "label_studio", "hf"):
        raise ImportDataError(
            f"a ner project does not import {fmt}: use jsonl, conll, label_studio or hf",
            path=name,
        )

    def read() -> Iterator[Record]:
        if task_type == "ner" and fmt not in ("hf", "label_studio"):
            for number, document in _entity_documents(source, fmt, fields):
                if document["id"] is None:
                    document["id"] = str(number)
                yield record_from_mapping(
                    document, kind=kind, source=name, line=number, fields=fields
                )
            return
        if fmt == "jsonl":
            from labelloop.io.jsonl import read_jsonl

            rows = read_jsonl(source)
        elif fmt == "label_studio":
            from labelloop.io.label_studio_json import read_label_studio_tasks, result_kind

            entities = task_type == "ner"
            rows = read_label_studio_tasks(
                source,
                kind=result_kind(task_type, multi_label=multi_label, data_key=fields.text),
                data_key=fields.text,
                id_key=fields.id,
                label_key=fields.labels if multi_label and not entities else fields.label,
            )
        elif fmt == "hf":
            from labelloop.io.hf import read_hf

            rows = read_hf(source, meta_field=fields.meta)
        elif fmt == "csv":
            from labelloop.io.csv import read_csv

            rows = read_csv(source, fields=fields, numeric=kind == "tabular")
        else:
            from labelloop.io.parquet import read_parquet

            rows = read_parquet(source, fields=fields)
        for number, raw in rows:
            yield record_from_mapping(raw, kind=kind, source=name, line=number, fields=fields)

    digest = file_sha256(source) if source.is_file() else None
    return name, fmt, digest, [], read()


def _refuse_bbox_format(bbox_format: str | None, what: str) -> None:
    if bbox_format is not None:
        raise ValidationError(
            "bbox_format is the box layout of a box project's Hugging Face dataset or "
            f"records; {what} has none: leave bbox_format out",
            field="bbox_format",
        )


def _open_boxes(
    path: str | Path | None,
    records: Iterable[Mapping[str, Any]] | None,
    format: str,
    settings: dict[str, Any],
    bbox_format: str | None = None,
) -> tuple[str, str, str | None, list[str], Iterator[Record]]:
    """A box project's source: a directory of images, box JSONL (or records of its
    shape), COCO or Label Studio tasks; images are paths under the media root, which a
    first import sets to the directory it reads (`labelloop.io.boxes`)."""
    from labelloop.io.boxes import (
        box_records,
        corners_from_xywh,
        read_box_jsonl,
        read_box_media_dir,
    )

    if records is not None:
        root = settings.get("media_root")
        if root is None:
            raise ValidationError(
                "set the project's media_root before importing box records: their image "
                "paths are relative to it",
                field="media_root",
            )
        rows: Iterable[tuple[int, Mapping[str, Any]]] = enumerate(records, start=1)
        if bbox_format == "xywh":
            rows = corners_from_xywh(rows, source=RECORDS_SOURCE)
        return (
            RECORDS_SOURCE,
            "records",
            None,
            [],
            box_records(rows, source=RECORDS_SOURCE, media_root=root),
        )
    source = Path(path)  # type: ignore[arg-type]
    name = str(source)
    if not source.exists():
        raise ImportDataError("no such file or directory", path=name)
    fmt = detect_format(source) if format == "auto" else format
    if source.suffix.lower() == ".json" and format == "auto":
        fmt = "label_studio" if _is_json_array(source) else "coco"
    if fmt not in ("media", "jsonl", "coco", "label_studio", "hf"):
        raise ImportDataError(
            f"a boxes project does not import {fmt}: use a directory of images, jsonl, coco, "
            "label_studio or hf",
            path=name,
        )
    if fmt != "hf":
        _refuse_bbox_format(bbox_format, f"a {fmt} import")
    if fmt == "hf":
        from labelloop.io.hf import box_rows, read_hf

        if settings.get("media_root") is None:
            settings["media_root"] = str(source.resolve().parent)
        rows = box_rows(read_hf(source), source=name, bbox_format=bbox_format or "xyxy")
        digest = file_sha256(source) if source.is_file() else None
        return (
            name,
            fmt,
            digest,
            [],
            box_records(rows, source=name, media_root=settings["media_root"]),
        )
    if fmt == "media":
        if settings.get("media_root") is None:
            settings["media_root"] = str(source.resolve())
        found, ignored = read_box_media_dir(source, media_root=settings["media_root"])
        return name, fmt, None, ignored, iter(found)
    if not source.is_file():
        raise ImportDataError(f"not a file: a {fmt} import reads one file", path=name)
    if settings.get("media_root") is None:
        settings["media_root"] = str(source.resolve().parent)
    root = settings["media_root"]
    if fmt == "jsonl":
        found: Iterator[Record] = read_box_jsonl(source, media_root=root)
    elif fmt == "coco":
        from labelloop.io.coco import read_coco

        found = box_records(read_coco(source), source=name, media_root=root)
    else:
        from labelloop.io.label_studio_json import RectangleResults, read_label_studio_tasks

        tasks = read_label_studio_tasks(
            source, kind=RectangleResults(), data_key="image", label_key="boxes"
        )
        found = box_records(tasks, source=name, media_root=root)
    return name, fmt, file_sha256(source), [], found


def _is_json_array(path: Path) -> bool:
    """Whether a ``.json`` file starts with ``[``: Label Studio tasks, not JSON Lines."""
    with open(path, "rb") as handle:
        start = handle.read(64).lstrip()
    return start.startswith(b"[")


def _entity_documents(
    source: Path, fmt: str, fields: FieldNames
) -> Iterator[tuple[int, dict[str, Any]]]:
    """An entity file's documents with spans under ``fields.label``; ids may be None."""
    if fmt == "conll":
        from labelloop.io.conll import read_conll

        documents = read_conll(source)
    else:
        from labelloop.io.entities import read_entity_jsonl

        documents = read_entity_jsonl(source, text_field=fields.text, spans_field=fields.label)
    name = str(source)
    for number, document in documents:
        if document.pop("predictions", None):
            # A prediction needs a model version of the project: refuse rather than drop.
            raise ImportDataError(
                "predictions are not imported with items: remove them from the file "
                "(push them as predictions once the items are in)",
                path=name,
                line=number,
                field="predictions",
            )
        if "spans" in document and fields.label != "spans":
            document[fields.label] = document.pop("spans")
        if fields.text != "text":
            document[fields.text] = document.pop("text")
        yield number, document


# --------------------------------------------------------------------------- validation


class Schema:
    """The project's label schema, turned into a fast per-record check."""

    def __init__(self, project_row: ProjectRow) -> None:
        # A detached copy of the schema: it outlives the session it was read in.
        self.project_row = ProjectRow(
            labels=list(project_row.labels),
            multi_label=project_row.multi_label,
            task_type=project_row.task_type,
        )
        self.labels = frozenset(project_row.labels)
        self.multi_label = project_row.multi_label
        self.entities = project_row.task_type == "ner"
        self.boxes = project_row.task_type == "boxes"

    def normalise(self, record: Record, source: str) -> Any:
        """The record's label in stored form (None if unlabelled), or ImportDataError."""
        value = record.label
        if value is None:
            return None
        # Fast path for the common case: a known single label.
        plain = not self.entities and not self.boxes and not self.multi_label
        if plain and isinstance(value, str) and value in self.labels:
            return value
        try:
            if self.boxes:
                return validate_label(self.project_row, label=value, payload=record.payload)
            if self.entities:
                text = record.payload.get("text")
                return validate_label(self.project_row, label=value, text=text)
            if self.multi_label:
                if isinstance(value, str):  # "a,b" in a label column: names have no commas
                    value = [part.strip() for part in value.split(",") if part.strip()]
                return validate_label(self.project_row, labels=value)
            return validate_label(self.project_row, label=value)
        except ValidationError as exc:
            # An entity label's error names the span: label.1.start -> <label field>.1.start.
            structured = self.entities or self.boxes
            suffix = (exc.field or "label")[len("label") :] if structured else ""
            raise ImportDataError(
                str(exc), path=source, line=record.line, field=record.label_field + suffix
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


def pool_items(session: Session, project_id: int) -> tuple[dict[str, ExistingItem], dict[str, str]]:
    """Like `pool_keys`, with each item's content hash and final label (for updates)."""
    items: dict[str, ExistingItem] = {}
    hashes: dict[str, str] = {}
    rows = session.execute(
        select(ItemRow.external_id, ItemRow.content_hash, ItemRow.final_label).where(
            ItemRow.project_id == project_id
        )
    )
    for external_id, content_hash, final_label in rows:
        items[external_id] = ExistingItem(content_hash, final_label)
        hashes.setdefault(content_hash, external_id)
    return items, hashes


def check_source(
    records: Iterator[Record],
    schema: Schema,
    existing_ids: set[str] | dict[str, ExistingItem],
    existing_hashes: dict[str, str],
    source: str,
    id_field: str,
    on_progress: ProgressCallback | None,
    on_existing: str = "error",
) -> ImportPlan:
    """Check every record and spool the valid rows; the first bad one raises.

    ``existing_ids`` maps each id to its `ExistingItem` when ``on_existing`` is
    ``"update"``; a set of ids does otherwise. The spools are closed (their files
    removed) when anything goes wrong.
    """
    plan = ImportPlan(spool=_Spool(), updates=_Spool())
    try:
        dumps = json.dumps
        first_line: dict[str, int] = {}
        seen_hashes: dict[str, str] = {}
        refuse_existing = on_existing == "error"
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
            if refuse_existing and external_id in existing_ids:
                raise ImportDataError(
                    f"id {external_id!r} is already in the project: ids are unique per "
                    "project (to re-import a file, skip or update the existing items)",
                    path=source,
                    line=record.line,
                    field=id_field,
                )
            first_line[external_id] = record.line
            label = schema.normalise(record, source)
            if external_id in existing_ids:
                if on_existing == "skip":
                    plan.n_skipped += 1
                else:
                    _plan_update(
                        plan, record, label, existing_ids[external_id],  # type: ignore[index]
                        existing_hashes, seen_hashes, source,
                    )  # fmt: skip
            elif (
                original := existing_hashes.get(record.content_hash)
                or seen_hashes.get(record.content_hash)
            ) is not None:
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
        plan.close()
        raise
    return plan


def _plan_update(
    plan: ImportPlan,
    record: Record,
    label: Any,
    item: ExistingItem,
    existing_hashes: dict[str, str],
    seen_hashes: dict[str, str],
    source: str,
) -> None:
    """Spool a record of an existing item (rules 2 and 3); a label change raises."""
    if label is not None and (
        item.final_label is None or label_key(label) != label_key(item.final_label)
    ):
        held = "no final label" if item.final_label is None else f"final label {item.final_label!r}"
        raise ImportDataError(
            f"item {record.external_id!r} is already in the project with {held}, and this "
            f"record gives {label!r}: an update never changes a label (leave the label out, "
            "or change it by relabelling or review)",
            path=source,
            line=record.line,
            field=record.label_field,
        )
    content_hash = record.content_hash
    if content_hash != item.content_hash:
        original = existing_hashes.get(content_hash) or seen_hashes.get(content_hash)
        if original is not None:
            plan.n_duplicates += 1
            if len(plan.duplicates) < _MAX_EXAMPLES:
                plan.duplicates.append(DuplicateInfo(record.external_id, record.line, original))
            return
        seen_hashes[content_hash] = record.external_id
    plan.n_update_candidates += 1
    plan.updates.add(
        (
            record.external_id,
            json.dumps(record.payload),
            record.media_ref,
            json.dumps(record.meta),
            content_hash,
        )
    )
