"""Box projects' items: images by reference, with their size, and their boxes.

Rules
-----
1. An image's payload is ``{"path": <relative to the media root>, "width", "height"}``;
   the size is read from the file's header when the file can be read (Pillow), else
   taken from the record, else left out (boxes are then checked without it).
2. A box JSONL line is ``{"id", "image", "boxes"?, "width"?, "height"?, "meta"?}``:
   ``image`` is the file's path relative to the media root (or absolute inside it);
   ``boxes`` is the list of ``{bbox: [x1, y1, x2, y2], label}`` in pixels (absent or
   null: unlabelled; ``[]``: labelled, nothing in the image). A given size must be
   positive integers and agree with the file's.
3. The content hash is the SHA-256 of the file's bytes, or of its path when the file is
   not there (an image to be copied in later).
   The fields an export adds (who labelled, the dataset version) are ignored, so a box
   JSONL export imports again as it is.
4. Errors name the file, the line and the field; the whole file is read before
   anything is written (the importer's all-or-nothing rule).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from labelloop.exceptions import ImportDataError
from labelloop.io.jsonl import read_jsonl
from labelloop.io.media import media_ref, read_media_dir
from labelloop.io.records import EXPORT_ONLY_FIELDS, Record, file_sha256

__all__ = ["BOX_FIELDS", "box_records", "image_size", "read_box_jsonl", "read_box_media_dir"]

BOX_FIELDS = frozenset({"id", "image", "boxes", "width", "height", "meta"})


def image_size(path: str | Path) -> tuple[int, int] | None:
    """Rule 1: ``(width, height)`` from the image's header, None when it cannot be read."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return None
    try:
        with Image.open(path) as image:
            return int(image.width), int(image.height)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def read_box_media_dir(
    directory: str | Path, *, media_root: str | Path
) -> tuple[list[Record], list[str]]:
    """A directory of images as box-project records, each payload with its size."""
    records, ignored = read_media_dir(directory, task_type="image", media_root=media_root)
    root = Path(media_root)
    sized = []
    for record in records:
        size = image_size(root / record.payload["path"])
        payload = dict(record.payload)
        if size is not None:
            payload["width"], payload["height"] = size
        sized.append(record._replace(payload=payload))
    return sized, ignored


def _positive(raw: Mapping[str, Any], key: str, fail: Any) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise fail(f"{key} must be a positive whole number of pixels, got {value!r}", key)
    return value


def box_records(
    rows: Iterator[tuple[int, Any]], *, source: str, media_root: str | Path
) -> Iterator[Record]:
    """Rules 1-3 on ``(line, mapping)`` rows read from ``source``."""
    root = Path(media_root)
    for number, raw in rows:

        def fail(message: str, field: str | None, number: int = number) -> ImportDataError:
            return ImportDataError(message, path=source, line=number, field=field)

        if not isinstance(raw, Mapping):
            raise fail(f"a record must be an object, got {type(raw).__name__}", None)
        unknown = sorted(set(raw) - BOX_FIELDS - EXPORT_ONLY_FIELDS)
        if unknown:
            raise fail(
                f"unknown fields {unknown}: a box record has {sorted(BOX_FIELDS)}", unknown[0]
            )
        external_id = raw.get("id")
        if external_id is None:
            raise fail("missing id", "id")
        if isinstance(external_id, bool) or not isinstance(external_id, str | int):
            raise fail(f"id must be a string or a whole number, got {external_id!r}", "id")
        external_id = str(external_id)
        if not external_id.strip():
            raise fail("id is empty", "id")
        image = raw.get("image")
        if not isinstance(image, str) or not image.strip():
            raise fail("image must be the image file's path", "image")
        path = Path(image) if Path(image).is_absolute() else root / image
        try:
            reference = media_ref(path, root)
        except ImportDataError as error:
            raise fail(str(error), "image") from None
        width, height = _positive(raw, "width", fail), _positive(raw, "height", fail)
        payload: dict[str, Any] = {"path": reference}
        if path.is_file():
            content_hash = file_sha256(path)
            size = image_size(path)
            if size is not None:
                if (width, height) != (None, None) and (width, height) != size:
                    raise fail(
                        f"width x height {width} x {height} differs from the image's "
                        f"{size[0]} x {size[1]}",
                        "width" if width != size[0] else "height",
                    )
                width, height = size
        else:
            content_hash = hashlib.sha256(f"image:{reference}".encode()).hexdigest()
        if width is not None:
            payload["width"] = width
        if height is not None:
            payload["height"] = height
        meta = raw.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise fail("meta must be an object", "meta")
        yield Record(
            external_id=external_id,
            payload=payload,
            label=raw.get("boxes"),
            meta=dict(meta),
            content_hash=content_hash,
            line=number,
            label_field="boxes",
            media_ref=reference,
        )


def read_box_jsonl(path: str | Path, *, media_root: str | Path) -> Iterator[Record]:
    """Rule 2: the records of a box JSONL file, read lazily."""
    return box_records(read_jsonl(path), source=str(path), media_root=media_root)
