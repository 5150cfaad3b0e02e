"""The import use case: read and check the whole source, then write it in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError

from labelloop.engine.core.outbox import add_job
from labelloop.engine.core.priority import ranking_model
from labelloop.engine.core.project import resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.engine.ingest.reading import (
    ON_EXISTING,
    DuplicateInfo,
    ProgressCallback,
    Schema,
    check_source,
    open_source,
    pool_items,
    pool_keys,
)
from labelloop.engine.ingest.updating import write_updates
from labelloop.engine.ingest.writing import write_plan
from labelloop.exceptions import ConflictError, ValidationError
from labelloop.io.records import FieldNames
from labelloop.store.audit import append_event
from labelloop.store.db import Database

__all__ = ["ON_EXISTING", "DuplicateInfo", "ImportReport", "ProgressCallback", "import_items"]


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes
    ----------
    n_records : int
        Records read from the source.
    n_imported : int
        Items created (``n_records - n_duplicates - n_skipped - n_updated``).
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
    on_existing : {"error", "skip", "update"}
        What the import did with records whose id was already in the project.
    n_skipped : int
        Records whose id was already in the project and that changed nothing: every
        one with ``skip``, those equal to their item with ``update``.
    n_updated : int
        Existing items whose payload, media reference or metadata the import changed
        (``update`` only).
    scored_by : int or None
        The model version that scores the new open items (a ``score_new`` job queued
        with the import), None before any round fitted a model.
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
    on_existing: str = "error"
    n_skipped: int = 0
    n_updated: int = 0
    scored_by: int | None = None


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
    on_existing: str = "error",
    on_progress: ProgressCallback | None = None,
    bbox_format: str | None = None,
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
    format : {"auto", "jsonl", "csv", "parquet", "media", "conll", "label_studio", "hf"}
        The source's format; ``auto`` goes by the suffix (a directory is media, or hf
        when it holds a dataset saved by ``save_to_disk``; a ``.json`` file holding an
        array is Label Studio tasks). ``label-studio`` is accepted for ``label_studio``.
    fields : FieldNames, optional
        The names of the id, text, label, labels and meta fields.
    seed : int, optional
        Seeds the evaluation-set draw and the cold-start order (default: derived from
        the source's content, so the same import gives the same result).
    on_existing : {"error", "skip", "update"}
        A record whose id is already in the project: refused (``error``, naming its file
        and line), counted and left alone (``skip``), or applied to its item
        (``update``): payload, media reference and metadata change where they differ,
        audited by ``items.updated`` events with the before and after of each changed
        item. An update never changes a label: a record whose label differs from its
        item's final label is refused. An update whose new content duplicates another
        item's is skipped as a duplicate.
    on_progress : callable, optional
        ``(phase, done, total)`` progress callback.
    bbox_format : {"xyxy", "xywh"}, optional
        How a box project's Hugging Face dataset lays out ``objects.bbox``: corners
        ``[x1, y1, x2, y2]`` (the default) or COCO's ``[x, y, width, height]``
        (`labelloop.io.hf`, rule 5). Refused for any other source.

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportDataError
        Naming the file, line and field of the first bad record; nothing is written.
    ValidationError
        An unknown ``on_existing``.
    ConflictError
        When items with the same ids were added while this import ran.
    """
    if (path is None) == (records is None):
        raise ValidationError("give either a path or records to import", field="path")
    if on_existing not in ON_EXISTING:
        raise ValidationError(
            f"unknown on_existing {on_existing!r}: use {', '.join(ON_EXISTING)}",
            field="on_existing",
        )
    fields = fields or FieldNames()
    with db.read() as session:
        project_row = resolve_project(session, project)
        project_id = project_row.id
        settings = effective_settings(project_row)
        task_type = project_row.task_type
        schema = Schema(project_row)
        # Updates need each item's hash and label; the other modes only its id.
        read_pool = pool_items if on_existing == "update" else pool_keys
        existing_ids, existing_hashes = read_pool(session, project_id)

    source_name, fmt, sha256, ignored, source_records = open_source(
        path=path,
        records=records,
        format=format,
        fields=fields,
        task_type=task_type,
        settings=settings,
        multi_label=schema.multi_label,
        bbox_format=bbox_format,
    )
    plan = check_source(
        source_records,
        schema,
        existing_ids,
        existing_hashes,
        source_name,
        fields.id,
        on_progress,
        on_existing,
    )
    del existing_ids, existing_hashes
    if seed is None:
        seed = int((sha256 or "0")[:12], 16) ^ project_id
    rng = np.random.default_rng(seed)

    try:
        with db.transaction() as session:
            project_row = resolve_project(session, project_id)
            media_root = (
                settings.get("media_root") if fmt == "media" or task_type == "boxes" else None
            )
            if media_root is not None and project_row.settings.get("media_root") != media_root:
                project_row.settings = {**effective_settings(project_row), "media_root": media_root}
            n_eval = write_plan(session, project_row, plan, rng, actor, on_progress)
            # Items added after a round wait, unscored, for its model (rule 4 of the scale).
            ranked_by = ranking_model(session, project_id)
            scored_by = ranked_by[1] if ranked_by and plan.n_new > plan.n_labelled else None
            if scored_by is not None:
                add_job(
                    session,
                    project_id=project_id,
                    kind="score_new",
                    actor=actor,
                    why=f"{plan.n_new - plan.n_labelled} new items to score",
                )
            n_updated = write_updates(
                session, project_id, plan, actor=actor, source=source_name, on_progress=on_progress
            )
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
                on_existing=on_existing,
                n_skipped=plan.n_skipped + plan.n_update_candidates - n_updated,
                n_updated=n_updated,
                scored_by=scored_by,
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
                    "on_existing": on_existing,
                    "existing_skipped": report.n_skipped,
                    "updated": report.n_updated,
                    "duplicate_examples": [d.external_id for d in report.duplicates[:5]],
                    "media_root": media_root,
                },
            )
        if report.n_imported:
            # PostgreSQL plans the queue's statements from table statistics: left as they
            # were before a bulk import, they lead it to loop over the new tasks.
            db.refresh_statistics("items", "tasks")
        return report
    except IntegrityError as exc:
        raise ConflictError(
            f"items with the same ids were added to project {project_id} while this import "
            "ran; nothing was imported: run the import again"
        ) from exc
    finally:
        plan.close()
