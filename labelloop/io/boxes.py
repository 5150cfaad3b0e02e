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
5. Records whose boxes are COCO's ``[x, y, width, height]`` (``bbox_format`` xywh, as
   Hugging Face detection sets have them) become corners ``[x, y, x + width, y +
   height]`` snapped to 1e-6 pixel (`corners_from_xywh`) before these checks; a
   negative width or height is refused, naming the record and ``boxes.<j>.bbox``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from labelloop.exceptions import ImportDataError
from labelloop.io.jsonl import read_jsonl
from labelloop.io.media import media_ref, read_media_dir
from labelloop.io.numbers import snap
from labelloop.io.records import EXPORT_ONLY_FIELDS, Record, file_sha256

__all__ = [
    "BOX_FIELDS",
    "box_records",
    "corners_from_xywh",
    "image_size",
    "read_box_jsonl",
    "read_box_media_dir",
]

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


def corners_from_xywh(
    rows: Iterable[tuple[int, Mapping[str, Any]]], *, source: str
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Rule 5: records with ``[x, y, width, height]`` boxes, as records with corners.

    A box that is not four numbers is left as it is, for `box_records` to name.

    Raises
    ------
    ImportDataError
        Naming the source, the record and ``boxes.<j>.bbox`` of a negative size.

    Examples
    --------
    >>> rows = [(1, {"id": "a", "image": "a.png", "boxes": [{"bbox": [2, 3, 10, 5], "label": "cat"}]})]
    >>> [r["boxes"] for _, r in corners_from_xywh(rows, source="<records>")]
    [[{'bbox': [2.0, 3.0, 12.0, 8.0], 'label': 'cat'}]]
    """  # noqa: E501
    for number, raw in rows:
        boxes = raw.get("boxes") if isinstance(raw, Mapping) else None
        if not isinstance(boxes, list):
            yield number, raw
            continue
        converted = []
        for j, box in enumerate(boxes):
            bbox = box.get("bbox") if isinstance(box, Mapping) else None
            if (
                not isinstance(bbox, list)
                or len(bbox) != 4
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
            ):
                converted.append(box)
                continue
            x, y, w, h = (float(v) for v in bbox)
            if w < 0 or h < 0:
                raise ImportDataError(
                    f"a negative width or height in [x, y, width, height]: {bbox!r}",
                    path=source,
                    line=number,
                    field=f"boxes.{j}.bbox",
                )
            converted.append({**box, "bbox": [snap(x), snap(y), snap(x + w), snap(y + h)]})
        yield number, {**raw, "boxes": converted}


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
