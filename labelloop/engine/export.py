"""Export: a project's items and final labels, or one dataset version exactly, as records
in the import's keys, so that an export imports again as it is.

A record is ``{"id", <payload fields>, "label" (or "labels"), "meta"}`` plus the final
label's provenance: ``annotators`` (who gave the active annotations, imports excluded),
``reviewers``, ``label_source`` (import, human, review or model) and ``dataset_version``
(the dataset version the label is in: the latest one holding this item with this label,
or the exported version with ``version=N``; None when no model has seen it yet).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import null, select
from sqlalchemy.orm import Session

from labelloop.engine.core.final_label import LABELLED_STATUSES
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.io.records import FORMAT_ALIASES
from labelloop.store.db import Database
from labelloop.store.tables import (
    AnnotationRow,
    DatasetVersionEntryRow,
    DatasetVersionRow,
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    ReviewRow,
    UserRow,
)

__all__ = ["EXPORT_FORMATS", "ExportReport", "export_items", "iter_export_records"]

EXPORT_FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet", "conll", "label_studio", "hf", "coco")
# What an entity project exports: its spans need JSON or an entity format.
_ENTITY_EXPORTS = ("jsonl", "conll", "label_studio", "hf")
_ITEM_EXPORTS = ("jsonl", "csv", "parquet", "label_studio", "hf")
# What a box project exports: box JSONL, COCO, Label Studio, or a Hugging Face dataset.
_BOX_EXPORTS = ("jsonl", "coco", "label_studio", "hf")
_BATCH = 10_000
_PROVENANCE = ("annotators", "reviewers", "label_source", "dataset_version")


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    project_id: int
    project_name: str
    format: str
    destination: str
    n_records: int
    dataset_version: int | None


@dataclass(frozen=True)
class _Scope:
    project_id: int
    project_name: str
    task_type: str
    labels: tuple[str, ...]
    multi_label: bool
    label_key: str
    version_id: int | None  # the dataset version exported, or the latest (for provenance)
    version_number: int | None
    exact: bool  # True: export the version's entries; False: the current pool


def _scope(session: Session, project: int | str, version: int | None) -> _Scope:
    row: ProjectRow = resolve_project(session, project)
    query = select(DatasetVersionRow.id, DatasetVersionRow.version).where(
        DatasetVersionRow.project_id == row.id
    )
    if version is None:
        query = query.order_by(DatasetVersionRow.version.desc()).limit(1)
    else:
        query = query.where(DatasetVersionRow.version == version)
    found = session.execute(query).first()
    if version is not None and found is None:
        raise NotFoundError(f"project {row.name!r} has no dataset version {version}")
    return _Scope(
        project_id=row.id,
        project_name=row.name,
        task_type=row.task_type,
        labels=tuple(row.labels),
        multi_label=bool(row.multi_label),
        label_key=(
            "spans"
            if row.task_type == "ner"
            else "boxes"
            if row.task_type == "boxes"
            else "labels"
            if row.multi_label
            else "label"
        ),
        version_id=found[0] if found else None,
        version_number=found[1] if found else None,
        exact=version is not None,
    )


_ITEM_COLUMNS = (
    ItemRow.id,
    ItemRow.external_id,
    ItemRow.payload,
    ItemRow.meta,
    ItemRow.label_source,
)


def _item_batches(session: Session, scope: _Scope, labelled_only: bool) -> Iterator[list[Any]]:
    """Batches of rows (id, external_id, payload, meta, label_source, label, annotation
    ids or None), by item id (keyset pages)."""
    last = 0
    while True:
        if scope.exact:
            query = (
                select(
                    *_ITEM_COLUMNS,
                    DatasetVersionEntryRow.label,
                    DatasetVersionEntryRow.annotation_ids,
                )
                .join(DatasetVersionEntryRow, DatasetVersionEntryRow.item_id == ItemRow.id)
                .where(DatasetVersionEntryRow.dataset_version_id == scope.version_id)
            )
        else:
            query = select(*_ITEM_COLUMNS, ItemRow.final_label, null()).where(
                ItemRow.project_id == scope.project_id
            )
            if labelled_only:
                query = query.where(ItemRow.status.in_(LABELLED_STATUSES))
        rows = session.execute(
            query.where(ItemRow.id > last).order_by(ItemRow.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _provenance(
    session: Session, scope: _Scope, rows: list[Any]
) -> tuple[dict[int, list[str]], dict[int, list[str]], dict[int, Any]]:
    low, high = rows[0][0], rows[-1][0]
    annotators: dict[int, set[str]] = {}
    if scope.exact:
        wanted = {aid for row in rows for aid in (row[6] or [])}
        query = select(AnnotationRow.item_id, AnnotationRow.actor, AnnotationRow.id).where(
            AnnotationRow.project_id == scope.project_id,
            AnnotationRow.item_id.between(low, high),
            AnnotationRow.source != "import",
        )
        for item_id, actor, annotation_id in session.execute(query):
            if annotation_id in wanted:
                annotators.setdefault(item_id, set()).add(actor)
    else:
        query = select(AnnotationRow.item_id, AnnotationRow.actor).where(
            AnnotationRow.item_id.between(low, high),
            AnnotationRow.project_id == scope.project_id,
            AnnotationRow.status == "active",
            AnnotationRow.source != "import",
        )
        for item_id, actor in session.execute(query):
            annotators.setdefault(item_id, set()).add(actor)
    reviewers: dict[int, set[str]] = {}
    query = (
        select(ReviewRow.item_id, UserRow.name)
        .join(UserRow, UserRow.id == ReviewRow.reviewer_id)
        .where(ReviewRow.item_id.between(low, high), ReviewRow.project_id == scope.project_id)
    )
    for item_id, name in session.execute(query):
        reviewers.setdefault(item_id, set()).add(name)
    in_version: dict[int, Any] = {}
    if scope.version_id is not None and not scope.exact:
        query = select(DatasetVersionEntryRow.item_id, DatasetVersionEntryRow.label).where(
            DatasetVersionEntryRow.dataset_version_id == scope.version_id,
            DatasetVersionEntryRow.item_id.between(low, high),
        )
        in_version = dict(session.execute(query).all())
    return (
        {k: sorted(v) for k, v in annotators.items()},
        {k: sorted(v) for k, v in reviewers.items()},
        in_version,
    )


def _latest_predictions(session: Session, scope: _Scope, rows: list[Any]) -> dict[int, Any]:
    """Each item's prediction of the latest model version that predicted it, as
    ``{"model_version": name, "score": informativeness, "probabilities": {...},
    "structure": boxes or spans drawn, or None}``."""
    low, high = rows[0][0], rows[-1][0]
    query = (
        select(
            PredictionRow.item_id,
            PredictionRow.probabilities,
            PredictionRow.score,
            PredictionRow.structure,
            ModelVersionRow.version,
            ModelVersionRow.kind,
            ModelVersionRow.name,
        )
        .join(ModelVersionRow, ModelVersionRow.id == PredictionRow.model_version_id)
        .where(
            PredictionRow.project_id == scope.project_id,
            PredictionRow.item_id.between(low, high),
        )
        .order_by(ModelVersionRow.version, PredictionRow.id)
    )
    latest: dict[int, Any] = {}
    for item_id, probabilities, score, structure, version, kind, name in session.execute(query):
        latest[item_id] = {
            "model_version": name if kind == "client" and name else f"labelloop-v{version}",
            "score": float(score),
            "probabilities": probabilities,
            "structure": structure,
        }
    return latest


def _records(
    session: Session,
    scope: _Scope,
    labelled_only: bool,
    on_progress: Callable[[int], None] | None,
    with_predictions: bool = False,
) -> Iterator[dict[str, Any]]:
    done = 0
    for rows in _item_batches(session, scope, labelled_only):
        annotators, reviewers, in_version = _provenance(session, scope, rows)
        predictions = _latest_predictions(session, scope, rows) if with_predictions else {}
        for item_id, external_id, payload, meta, label_source, label, _ids in rows:
            record: dict[str, Any] = {"id": external_id}
            if scope.task_type == "boxes":
                # A box record names its image as the box JSONL import reads it.
                record["image"] = payload.get("path")
                record.update((k, payload[k]) for k in ("width", "height") if k in payload)
            else:
                record.update(payload)
            record[scope.label_key] = label
            record["meta"] = meta or {}
            record["annotators"] = annotators.get(item_id, [])
            record["reviewers"] = reviewers.get(item_id, [])
            record["label_source"] = label_source if label is not None else None
            if scope.exact:
                record["dataset_version"] = scope.version_number
            else:
                held = item_id in in_version and in_version[item_id] == label
                record["dataset_version"] = scope.version_number if held else None
            if item_id in predictions:
                record["prediction"] = predictions[item_id]
            yield record
        done += len(rows)
        if on_progress is not None:
            on_progress(done)


def iter_export_records(
    db: Database,
    project: int | str,
    *,
    version: int | None = None,
    labelled_only: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield the export records of a project (or of dataset version ``version``), by item.

    Reads in pages of 10,000 items inside one read transaction; memory stays flat.
    """
    _check_version(version)
    with db.read() as session:
        scope = _scope(session, project, version)
        yield from _records(session, scope, labelled_only, None)


def _check_version(version: Any) -> None:
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValidationError("a dataset version is a number", field="version")


def _columns(session: Session, scope: _Scope, labelled_only: bool) -> list[str]:
    """The payload keys of every exported item, in first-seen order, around the fixed keys."""
    if scope.task_type == "boxes":  # the box record's keys (`_records`)
        return ["id", "image", "width", "height", scope.label_key, "meta", *_PROVENANCE]
    keys: dict[str, None] = {}
    for rows in _item_batches(session, scope, labelled_only):
        for row in rows:
            for key in row[2]:
                keys.setdefault(key, None)
    return ["id", *keys, scope.label_key, "meta", *_PROVENANCE]


def export_items(
    db: Database,
    *,
    project: int | str,
    format: str,
    out: str | Path | IO[str] | None = None,
    version: int | None = None,
    labelled_only: bool = False,
    on_progress: Callable[[int], None] | None = None,
    bbox_format: str | None = None,
) -> ExportReport:
    """Write a project's records (or dataset version ``version`` exactly) to ``out``.

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.
    format : {"jsonl", "csv", "parquet", "conll", "label_studio", "hf"}
        A box project (``boxes``) exports jsonl (``image``, ``width``, ``height`` and its
        boxes under ``boxes``), coco, label_studio (``rectanglelabels`` results) or hf
        (boxes under ``objects``: ``{bbox: [[x1, y1, x2, y2], ...], label: [...]}``).
        An entity project (``ner``) exports jsonl (spans under ``spans``), conll (BIO, its
        tokens from the default tokenizer), label_studio (``labels`` results) or hf;
        other projects jsonl, csv, parquet, label_studio (``choices`` results, with each
        item's latest prediction, its ``score`` the informativeness) or hf (a
        ``save_to_disk`` directory, or Parquet when ``out`` ends in ``.parquet``; needs
        the ``[hf]`` extra). ``label-studio`` is accepted for ``label_studio``.
    out : path or text file, optional
        Where to write; default: stdout (Parquet goes to stdout's binary buffer; hf needs
        a path).
    version : int, optional
        A dataset version number: exactly its items and labels.
    labelled_only : bool, default False
        Only items with a final label (the current pool only).
    on_progress : callable, optional
        Called with the number of items written so far.
    bbox_format : {"xyxy", "xywh"}, optional
        The layout of a box project's hf export (`labelloop.io.hf`, rule 5): corners
        ``[x1, y1, x2, y2]`` under ``label`` (the default), or COCO's ``[x, y, width,
        height]`` under ``category``. Refused for any other export.

    Raises
    ------
    NotFoundError
        For an unknown project or dataset version.
    ValidationError
        An unknown format, or a ``bbox_format`` where it has no meaning.
    """
    format = FORMAT_ALIASES.get(format, format)
    if format not in EXPORT_FORMATS:
        raise ValidationError(
            f"unknown export format {format!r}: use {', '.join(EXPORT_FORMATS)}", field="format"
        )
    if format == "hf" and not isinstance(out, str | Path):
        raise ValidationError(
            "a Hugging Face export writes a directory (save_to_disk) or a .parquet file: "
            "give its path",
            field="out",
        )
    _check_version(version)
    if bbox_format is not None:
        from labelloop.io.hf import check_bbox_format

        check_bbox_format(bbox_format)
    with db.read() as session:
        scope = _scope(session, project, version)
        if bbox_format is not None and (format != "hf" or scope.task_type != "boxes"):
            raise ValidationError(
                "bbox_format is the box layout of a box project's hf export; a "
                f"{scope.task_type} project's {format} export has none: leave it out",
                field="bbox_format",
            )
        allowed = {"ner": _ENTITY_EXPORTS, "boxes": _BOX_EXPORTS}.get(
            scope.task_type, _ITEM_EXPORTS
        )
        if format not in allowed:
            raise ValidationError(
                f"a {scope.task_type} project does not export {format}: use {', '.join(allowed)}",
                field="format",
            )
        with_predictions = format == "label_studio" and scope.task_type != "ner"
        records = _records(session, scope, labelled_only, on_progress, with_predictions)
        destination = "<stdout>" if out is None else getattr(out, "name", str(out))
        if format == "label_studio":
            from labelloop.io.label_studio_json import result_kind

            kind = result_kind(scope.task_type, multi_label=scope.multi_label)
            n = _write_text(out, lambda handle: _write_label_studio(records, handle, kind, scope))
        elif format == "coco":
            from labelloop.io.coco import write_coco

            n = _write_text(out, lambda handle: write_coco(records, handle, labels=scope.labels))
        elif format == "hf":
            from labelloop.io.hf import write_hf

            n = write_hf(
                records,
                out,  # type: ignore[arg-type]
                columns=_columns(session, scope, labelled_only),
                label_key=scope.label_key,
                label_names=scope.labels,
                parquet=Path(out).suffix.lower() in (".parquet", ".pq"),  # type: ignore[arg-type]
                bbox_format=bbox_format or "xyxy",
            )
        elif format == "conll":
            n = _write_text(out, lambda handle: _write_conll(records, handle))
        elif format == "jsonl":
            from labelloop.io.jsonl import write_jsonl

            n = _write_text(out, lambda handle: write_jsonl(records, handle))
        elif format == "csv":
            from labelloop.io.csv import write_csv

            columns = _columns(session, scope, labelled_only)
            n = _write_text(out, lambda handle: write_csv(records, handle, columns=columns))
        else:
            n = _write_parquet(records, out, _columns(session, scope, labelled_only))
        return ExportReport(
            project_id=scope.project_id,
            project_name=scope.project_name,
            format=format,
            destination=destination,
            n_records=n,
            dataset_version=scope.version_number,
        )


def _write_label_studio(
    records: Iterator[dict[str, Any]], handle: IO[str], kind: Any, scope: _Scope
) -> int:
    from labelloop.io.label_studio_json import write_label_studio_tasks

    # A box project's results point at the image, as its labelling config names it.
    to_name = "image" if scope.task_type == "boxes" else "text"
    return write_label_studio_tasks(
        records, handle, kind=kind, label_key=scope.label_key, to_name=to_name
    )


def _write_conll(records: Iterator[dict[str, Any]], handle: IO[str]) -> int:
    """Entity records as CoNLL documents; an unlabelled item is refused.

    The writer converts every document before writing any, so a refusal writes nothing.
    """
    from labelloop.io.conll import write_conll

    def documents() -> Iterator[dict[str, Any]]:
        for record in records:
            if record["spans"] is None:
                # All-O tags would read back as "labelled: no entity".
                raise ValidationError(
                    f"item {record['id']!r} has no label, which CoNLL cannot tell from "
                    "'no entity': export the labelled items only",
                    field="labelled_only",
                )
            yield {"id": record["id"], "text": record["text"], "spans": record["spans"]}

    return write_conll(documents(), handle)


def _write_text(out: str | Path | IO[str] | None, write: Callable[[IO[str]], int]) -> int:
    if out is None:
        return write(sys.stdout)
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8", newline="") as handle:
            return write(handle)
    return write(out)


def _write_parquet(
    records: Iterator[dict[str, Any]], out: str | Path | IO[Any] | None, columns: list[str]
) -> int:
    from labelloop.io.parquet import write_parquet

    if isinstance(out, str | Path):
        return write_parquet(records, out, columns=columns)
    # Parquet's footer is written last: build the file aside, then copy it to the stream.
    target = sys.stdout.buffer if out is None else getattr(out, "buffer", out)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.parquet"
        n = write_parquet(records, path, columns=columns)
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, target)
        target.flush()
    return n
