"""COCO object detection files, in and out: ``images``, ``annotations``, ``categories``.

A file is one JSON object. Each image is one box record (`labelloop.io.boxes`):

1. ``images[i]``: ``file_name`` is the image's path (relative to the project's media
   root), ``width`` and ``height`` its size, ``id`` the COCO image id. The record's id is
   ``external_id`` when the image has one (labelloop's exports write it), else the
   COCO id as a string; ``meta``, when present, is the record's meta.
2. ``annotations[j]``: ``image_id`` names an image, ``category_id`` a category,
   ``bbox`` is ``[x, y, width, height]`` in pixels; the box is ``[x, y, x + width,
   y + height]`` snapped to 1e-6 pixel (`labelloop.io.numbers.snap`), so written boxes
   read back exactly. ``iscrowd`` 1 (a crowd region, often a mask) and
   ``segmentation``-only annotations without a ``bbox`` are refused rather than dropped.
3. ``categories[k]``: ``id`` and ``name``; a name must be one of the project's labels
   (the import checks each box's label).
4. An image with annotations is labelled with their boxes; one without is labelled
   "nothing in the image" when the file has an ``annotations`` list, unless it carries
   ``"labelled": false`` (what the writer gives an unlabelled item); a file without
   ``annotations`` is images only, unlabelled.
5. Errors name the file, the image (its 1-based position in ``images``, as the line) or
   the entry (``annotations.<j>.<field>``); the whole file is read before anything is
   written.
6. The writer numbers images and categories from 1 (categories in the project's label
   order), writes each annotation's ``area`` (``width * height``) and ``iscrowd`` 0,
   and keeps what COCO has no place for on the image: ``external_id``, ``meta`` and
   ``labelled``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from labelloop.exceptions import ImportDataError
from labelloop.io.numbers import snap

__all__ = ["read_coco", "write_coco"]


def _load(path: str | Path) -> Any:
    name = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except UnicodeDecodeError as exc:
        raise ImportDataError(f"not UTF-8 text ({exc.reason})", path=name) from None
    except json.JSONDecodeError as exc:
        raise ImportDataError(
            f"malformed JSON: {exc.msg} at column {exc.colno}", path=name, line=exc.lineno
        ) from None


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def read_coco(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(image number, box record)`` for each image of a COCO file (rules 1-5).

    Raises
    ------
    ImportDataError
        Naming the file and the image or entry at fault.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "coco.json"
    >>> _ = path.write_text(json.dumps({
    ...     "images": [{"id": 7, "file_name": "a.png", "width": 64, "height": 48}],
    ...     "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [2, 3, 10, 5]}],
    ...     "categories": [{"id": 1, "name": "cat"}]}))
    >>> list(read_coco(path))
    [(1, {'id': '7', 'image': 'a.png', 'width': 64, 'height': 48, 'boxes': [{'bbox': [2.0, 3.0, 12.0, 8.0], 'label': 'cat'}]})]
    """  # noqa: E501
    name = str(path)
    data = _load(path)

    def fail(message: str, field: str | None, line: int | None = None) -> ImportDataError:
        return ImportDataError(message, path=name, line=line, field=field)

    if not isinstance(data, Mapping):
        raise fail("a COCO file is a JSON object with images, annotations, categories", None)
    images = data.get("images")
    if not isinstance(images, list):
        raise fail("a COCO file needs an 'images' list", "images")
    categories: dict[Any, str] = {}
    given = data.get("categories") or []
    if not isinstance(given, list):
        raise fail("categories must be a list", "categories")
    for k, category in enumerate(given):
        if not isinstance(category, Mapping) or not isinstance(category.get("name"), str):
            raise fail("a category needs an id and a name", f"categories.{k}.name")
        if category.get("id") in categories:
            raise fail(f"category id {category.get('id')!r} appears twice", f"categories.{k}.id")
        categories[category.get("id")] = category["name"]
    by_image: dict[Any, int] = {}
    for i, image in enumerate(images):
        if not isinstance(image, Mapping):
            raise fail("an image must be an object", "images", i + 1)
        if image.get("id") is None:
            raise fail("an image needs an id", "id", i + 1)
        if image["id"] in by_image:
            raise fail(f"image id {image['id']!r} appears twice", "id", i + 1)
        by_image[image["id"]] = i
    annotated = "annotations" in data
    annotations = data.get("annotations") or []
    if not isinstance(annotations, list):
        raise fail("annotations must be a list", "annotations")
    boxes: list[list[dict[str, Any]]] = [[] for _ in images]
    for j, annotation in enumerate(annotations):
        where = f"annotations.{j}"
        if not isinstance(annotation, Mapping):
            raise fail("an annotation must be an object", where)
        if annotation.get("image_id") not in by_image:
            raise fail(f"no image with id {annotation.get('image_id')!r}", f"{where}.image_id")
        if annotation.get("category_id") not in categories:
            raise fail(
                f"no category with id {annotation.get('category_id')!r}", f"{where}.category_id"
            )
        if annotation.get("iscrowd"):
            raise fail("a crowd region (iscrowd 1) is not a box: not kept", f"{where}.iscrowd")
        bbox = annotation.get("bbox")
        if not isinstance(bbox, Sequence) or len(bbox) != 4 or not all(map(_number, bbox)):
            raise fail(f"bbox must be [x, y, width, height], got {bbox!r}", f"{where}.bbox")
        x, y, w, h = (float(v) for v in bbox)
        boxes[by_image[annotation["image_id"]]].append(
            {
                "bbox": [snap(x), snap(y), snap(x + w), snap(y + h)],
                "label": categories[annotation["category_id"]],
            }
        )
    for i, image in enumerate(images):
        file_name = image.get("file_name")
        if not isinstance(file_name, str) or not file_name:
            raise fail("an image needs its file_name", "file_name", i + 1)
        external = image.get("external_id", image["id"])
        record: dict[str, Any] = {"id": external if isinstance(external, str) else str(external)}
        if isinstance(external, bool) or not isinstance(external, str | int):
            raise fail(f"an image id must be a string or a number, got {external!r}", "id", i + 1)
        record["image"] = file_name
        for key in ("width", "height"):
            if image.get(key) is not None:
                record[key] = image[key]
        if image.get("meta") is not None:
            record["meta"] = image["meta"]
        labelled = image.get("labelled", True)
        if not isinstance(labelled, bool):
            raise fail("labelled must be true or false", "labelled", i + 1)
        if boxes[i] or (annotated and labelled):
            if boxes[i] and not labelled:
                raise fail("an image with annotations cannot be labelled: false", "labelled", i + 1)
            record["boxes"] = boxes[i]
        yield i + 1, record


def write_coco(
    records: Iterable[Mapping[str, Any]], handle: IO[str], *, labels: Sequence[str]
) -> int:
    """Write box export records as one COCO file (rule 6); return how many images."""
    category = {name: k for k, name in enumerate(labels, start=1)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for number, record in enumerate(records, start=1):
        image: dict[str, Any] = {"id": number, "file_name": record["image"]}
        for key in ("width", "height"):
            if record.get(key) is not None:
                image[key] = record[key]
        image["external_id"] = record["id"]
        if record.get("meta"):
            image["meta"] = record["meta"]
        boxes = record.get("boxes")
        if boxes is None:
            image["labelled"] = False
        images.append(image)
        for box in boxes or ():
            x1, y1, x2, y2 = box["bbox"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": number,
                    "category_id": category[box["label"]],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    document = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k, "name": name} for name, k in category.items()],
    }
    json.dump(document, handle, ensure_ascii=False)
    handle.write("\n")
    return len(images)
