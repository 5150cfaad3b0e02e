"""Hugging Face ``datasets``, in and out, on local disk only (the optional ``[hf]`` extra).

Rules
-----
1. Two local forms: a directory written by ``Dataset.save_to_disk`` and a Parquet file
   (``Dataset.to_parquet``, or any Parquet file; the ``datasets`` features kept in its
   schema metadata are used when present). Nothing is fetched from the Hugging Face Hub:
   a path that does not exist is refused, naming it, whatever it looks like.
2. Rows are records in the import's keys (`labelloop.io.records`). A ``ClassLabel``
   column (or a list of them) is read as its class names; -1 or null is no label. A
   ``meta`` column may be a struct or a JSON string.
3. The writer stores the label as a ``ClassLabel`` over the project's labels (a list of
   them for multi-label projects, spans as ``{start, end, label}`` structs for entity
   projects), ``meta`` as a JSON string (its keys differ from item to item), so that the
   dataset reads back to the records it was written from.
4. ``datasets`` is imported only when one of these functions runs; without it they
   raise `ValidationError` saying how to install it.
5. A box project's dataset has the columns ``id``, ``image`` (the image file's path,
   relative to the media root, as box JSONL has it), ``width`` and ``height`` (pixels)
   and ``objects``, the layout of Hugging Face detection sets, in one of two
   ``bbox_format`` layouts, chosen explicitly (the numbers alone cannot tell them apart):

   - ``xyxy`` (the default): ``{"bbox": [[x1, y1, x2, y2], ...], "label": [...]}``,
     corners in pixels;
   - ``xywh`` (COCO's): ``{"bbox": [[x, y, width, height], ...], "category": [...]}``,
     the top-left corner and the size in pixels; the box is ``[x, y, x + width,
     y + height]`` snapped to 1e-6 pixel (`labelloop.io.numbers.snap`), so written boxes
     read back exactly.

   Either layout is read with its classes in ``label``, or in ``category`` when there
   is no ``label``; other keys of ``objects`` (``id``, ``area``, ``iscrowd``) are not
   read. Classes are a list of ``ClassLabel`` over the project's labels (class names as
   strings are read too). The writer writes ``label`` in the xyxy layout and
   ``category`` in the xywh one. A null ``objects`` is an unlabelled image; empty lists
   are an image with nothing in it. `box_rows` turns such rows into box records'
   ``boxes``, naming the row and the field (``objects.bbox.<i>``, ``objects.label``,
   ``objects.category.<i>``) of what it cannot read; an xyxy box whose second corner is
   not right of and below its first says so and points to ``bbox_format`` xywh.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.io.numbers import snap

__all__ = [
    "BBOX_FORMATS",
    "BOX_COLUMN",
    "box_rows",
    "check_bbox_format",
    "check_local_dataset",
    "read_hf",
    "write_hf",
]

#: The column of a box project's boxes (rule 5).
BOX_COLUMN = "objects"
#: The layouts of a box in ``objects.bbox`` (rule 5): corners, or corner and size.
BBOX_FORMATS = ("xyxy", "xywh")

_BATCH_ROWS = 10_000
_KNOWN_STRINGS = ("id", "label_source", "meta")
_KNOWN_LISTS = ("annotators", "reviewers")


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ValidationError(
            "the Hugging Face format needs the datasets package: pip install 'labelloop[hf]'",
            field="format",
        ) from None
    return datasets


def check_local_dataset(path: str | Path) -> Path:
    """``path`` as a `Path` when it exists on disk (rule 1); a Hub name is refused.

    Raises
    ------
    ImportDataError
        Naming the path, and saying nothing is fetched from the Hub.
    """
    if not Path(path).exists():
        raise ImportDataError(
            "no such local dataset: labelloop reads Hugging Face datasets saved on disk "
            "(save_to_disk) or as Parquet, and never fetches one from the Hub "
            "(download it yourself, then import the local copy)",
            path=str(path),
        )
    return Path(path)


def read_hf(path: str | Path, *, meta_field: str = "meta") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row number, row)`` for each row of a local Hugging Face dataset.

    Parameters
    ----------
    path : str or Path
        A ``save_to_disk`` directory of one split, or a Parquet file.
    meta_field : str
        The metadata column (a JSON string is parsed).

    Raises
    ------
    ImportDataError
        Naming the path, the row and the field: a path that is not local, a dataset
        dictionary (name one split's directory), a class index out of range, a meta
        cell that is not a JSON object.

    Examples
    --------
    >>> import datasets, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "reviews"
    >>> features = datasets.Features({"id": datasets.Value("string"),
    ...     "text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    >>> data = {"id": ["a"], "text": ["great"], "label": [1]}
    >>> datasets.Dataset.from_dict(data, features=features).save_to_disk(folder)
    >>> list(read_hf(folder))
    [(1, {'id': 'a', 'text': 'great', 'label': 'pos'})]
    """
    name = str(path)
    path = check_local_dataset(path)
    datasets = _datasets()
    if path.is_dir():
        if (path / "dataset_dict.json").is_file():
            splits = sorted(p.name for p in path.iterdir() if p.is_dir())
            raise ImportDataError(
                "a dataset dictionary: import one split's directory "
                f"({', '.join(str(path / s) for s in splits) or 'none found'})",
                path=name,
            )
        try:
            dataset = datasets.load_from_disk(name)
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise ImportDataError(
                f"not a dataset saved with save_to_disk: {exc}", path=name
            ) from None
        features = dataset.features
        batches = (
            dataset.data.slice(start, _BATCH_ROWS).to_pylist()
            for start in range(0, dataset.num_rows, _BATCH_ROWS)
        )
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet_file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise ImportDataError(f"not a readable Parquet file: {exc}", path=name) from None
        features = datasets.Features.from_arrow_schema(parquet_file.schema_arrow)
        batches = (b.to_pylist() for b in parquet_file.iter_batches(batch_size=_BATCH_ROWS))
    decoders = {column: _decoder(datasets, feature) for column, feature in features.items()}
    decoders = {column: decode for column, decode in decoders.items() if decode is not None}
    number = 0
    for rows in batches:
        for row in rows:
            number += 1
            for column, decode in decoders.items():
                try:
                    row[column] = decode(row[column])
                except (IndexError, ValueError) as exc:
                    raise ImportDataError(str(exc), path=name, line=number, field=column) from None
            meta = row.get(meta_field)
            if isinstance(meta, str):
                try:
                    row[meta_field] = json.loads(meta)
                except json.JSONDecodeError as exc:
                    raise ImportDataError(
                        f"meta must be a JSON object: {exc.msg}",
                        path=name,
                        line=number,
                        field=meta_field,
                    ) from None
            yield number, row


def _decoder(datasets: Any, feature: Any) -> Any:
    """A function from stored values to class names, for ClassLabel features (rule 2)."""
    if isinstance(feature, datasets.ClassLabel):
        names = list(feature.names)

        def name_of(index: Any) -> str | None:
            if index is None or index == -1:
                return None
            if not isinstance(index, int) or not 0 <= index < len(names):
                raise ValueError(f"class index {index!r} is not one of 0..{len(names) - 1}")
            return names[index]

        return name_of
    inner = getattr(feature, "feature", None)
    if inner is None and isinstance(feature, list) and len(feature) == 1:
        inner = feature[0]
    if inner is not None:
        decode = _decoder(datasets, inner)
        if decode is not None:
            return lambda values: None if values is None else [decode(v) for v in values]
        if isinstance(inner, dict):
            return _struct_decoder(datasets, inner)
    if isinstance(feature, dict):
        return _struct_decoder(datasets, feature)
    return None


def _struct_decoder(datasets: Any, fields: Mapping[str, Any]) -> Any:
    decoders = {k: _decoder(datasets, f) for k, f in fields.items()}
    decoders = {k: d for k, d in decoders.items() if d is not None}
    if not decoders:
        return None

    def decode(value: Any) -> Any:
        if isinstance(value, list):
            return [decode(v) for v in value]
        if isinstance(value, dict):
            return {k: decoders[k](v) if k in decoders else v for k, v in value.items()}
        return value

    return decode


def check_bbox_format(bbox_format: str) -> str:
    """``bbox_format`` when it is one of `BBOX_FORMATS` (rule 5).

    Raises
    ------
    ValidationError
        Naming the field ``bbox_format`` and the layouts there are.
    """
    if bbox_format not in BBOX_FORMATS:
        raise ValidationError(
            f"unknown bbox_format {bbox_format!r}: use xyxy ([x1, y1, x2, y2]) or xywh "
            "([x, y, width, height], COCO's)",
            field="bbox_format",
        )
    return bbox_format


def box_rows(
    rows: Iterable[tuple[int, dict[str, Any]]], *, source: str, bbox_format: str = "xyxy"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rule 5: rows read by `read_hf` with their ``objects`` turned into ``boxes``.

    Parameters
    ----------
    rows : iterable of (int, dict)
        ``(row number, row)``, as `read_hf` yields them.
    source : str
        The dataset's name in errors.
    bbox_format : {"xyxy", "xywh"}, default "xyxy"
        The layout of ``objects.bbox``: corners, or COCO's corner and size.

    Raises
    ------
    ValidationError
        An unknown ``bbox_format``.
    ImportDataError
        Naming the source, the row and the field of a malformed ``objects`` cell.
    """
    check_bbox_format(bbox_format)
    return _box_rows(rows, source, bbox_format)


def _box_rows(
    rows: Iterable[tuple[int, dict[str, Any]]], source: str, bbox_format: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    shape = "[x1, y1, x2, y2]" if bbox_format == "xyxy" else "[x, y, width, height]"
    for number, row in rows:

        def fail(message: str, field: str, number: int = number) -> ImportDataError:
            return ImportDataError(message, path=source, line=number, field=field)

        if "boxes" in row:
            raise fail(
                f"a box dataset holds its boxes in {BOX_COLUMN!r} "
                f"({{bbox: [{shape}, ...], label: [...]}}), not 'boxes'",
                "boxes",
            )
        if BOX_COLUMN not in row:
            yield number, row
            continue
        objects = row.pop(BOX_COLUMN)
        if objects is None:
            row["boxes"] = None
            yield number, row
            continue
        key = "label" if isinstance(objects, Mapping) and "label" in objects else "category"
        if not isinstance(objects, Mapping) or "bbox" not in objects or key not in objects:
            raise fail(
                f"{BOX_COLUMN} must be {{bbox: [{shape}, ...], label: [...]}} (or category "
                f"instead of label), got {objects!r}",
                BOX_COLUMN,
            )
        bboxes, labels = objects["bbox"] or [], objects[key] or []
        if not isinstance(bboxes, list) or not isinstance(labels, list):
            raise fail(f"bbox and {key} must be lists", BOX_COLUMN)
        if len(bboxes) != len(labels):
            raise fail(
                f"{len(bboxes)} boxes but {len(labels)} {key}s: one {key} per box",
                f"{BOX_COLUMN}.{key}",
            )
        boxes = []
        for position, (bbox, label) in enumerate(zip(bboxes, labels, strict=True)):
            where = f"{BOX_COLUMN}.bbox.{position}"
            if (
                not isinstance(bbox, list)
                or len(bbox) != 4
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
            ):
                raise fail(f"box {position} must be {shape} in pixels, got {bbox!r}", where)
            if not isinstance(label, str):
                raise fail(
                    f"box {position} has no class name, got {label!r}",
                    f"{BOX_COLUMN}.{key}.{position}",
                )
            if bbox_format == "xywh":
                x, y, w, h = (float(v) for v in bbox)
                if w < 0 or h < 0:
                    raise fail(f"box {position} has a negative width or height: {bbox!r}", where)
                bbox = [snap(x), snap(y), snap(x + w), snap(y + h)]
            elif bbox[2] <= bbox[0] or bbox[3] <= bbox[1]:
                raise fail(
                    f"box {position} does not end right of and below where it starts: "
                    f"{bbox!r} is not [x1, y1, x2, y2]; if the dataset stores "
                    "[x, y, width, height] (COCO's layout), import it with bbox_format xywh",
                    where,
                )
            boxes.append({"bbox": bbox, "label": label})
        row["boxes"] = boxes
        yield number, row


def write_hf(
    records: Iterable[Mapping[str, Any]],
    path: str | Path,
    *,
    columns: Sequence[str],
    label_key: str,
    label_names: Sequence[str],
    parquet: bool = False,
    bbox_format: str = "xyxy",
) -> int:
    """Write export records as a Hugging Face dataset; return how many rows.

    Parameters
    ----------
    records : iterable of mapping
        Records in the import's keys plus the export's provenance.
    path : str or Path
        A directory to ``save_to_disk`` to, or the Parquet file to write.
    columns : sequence of str
        The columns, in order.
    label_key : {"label", "labels", "spans", "boxes"}
        The label's column: one class, several classes, entity spans, or boxes (written
        as ``objects``, rule 5).
    label_names : sequence of str
        The project's labels, the ``ClassLabel`` names.
    parquet : bool, default False
        Write a Parquet file instead of a ``save_to_disk`` directory.
    bbox_format : {"xyxy", "xywh"}, default "xyxy"
        The layout of a box project's ``objects`` (rule 5): corners with ``label``, or
        COCO's corner and size with ``category``.

    The rows are gathered in memory before the dataset is written.
    """
    check_bbox_format(bbox_format)
    datasets = _datasets()
    names = list(label_names)
    index = {name: i for i, name in enumerate(names)}
    named = {column: BOX_COLUMN if column == "boxes" == label_key else column for column in columns}
    data: dict[str, list[Any]] = {named[column]: [] for column in columns}
    for record in records:
        for column in columns:
            value = record.get(column)
            if column == label_key:
                value = _encode(value, label_key, index, bbox_format)
            elif column == "meta":
                value = json.dumps(value or {}, ensure_ascii=False, sort_keys=True)
            data[named[column]].append(value)
    features = _features(
        datasets,
        data,
        named[label_key],
        names,
        boxes=label_key == "boxes",
        class_key="label" if bbox_format == "xyxy" else "category",
    )
    dataset = datasets.Dataset.from_dict(data, features=features)
    if parquet:
        dataset.to_parquet(str(path))
    else:
        dataset.save_to_disk(str(path))
    return dataset.num_rows


def _encode(value: Any, label_key: str, index: Mapping[str, int], bbox_format: str) -> Any:
    if value is None:
        return None if label_key != "label" else -1
    if label_key == "label":
        return index[value]
    if label_key == "labels":
        return [index[v] for v in value]
    if label_key == "boxes":
        bboxes = [[float(v) for v in box["bbox"]] for box in value]
        if bbox_format == "xyxy":
            return {"bbox": bboxes, "label": [index[box["label"]] for box in value]}
        return {
            "bbox": [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in bboxes],
            "category": [index[box["label"]] for box in value],
        }
    return [{"start": s["start"], "end": s["end"], "label": index[s["label"]]} for s in value]


def _features(
    datasets: Any,
    data: Mapping[str, list[Any]],
    label_key: str,
    names: list[str],
    *,
    boxes: bool = False,
    class_key: str = "label",
) -> Any:
    import pyarrow as pa

    classes = datasets.ClassLabel(names=names)
    string = datasets.Value("string")
    features: dict[str, Any] = {}
    for column, values in data.items():
        if column == label_key and boxes:
            corners = datasets.List(datasets.Value("float64"))
            features[column] = {"bbox": datasets.List(corners), class_key: datasets.List(classes)}
        elif boxes and column in ("width", "height"):
            features[column] = datasets.Value("int64")
        elif boxes and column == "image":
            features[column] = string
        elif column == label_key:
            if label_key == "label":
                features[column] = classes
            elif label_key == "labels":
                features[column] = datasets.List(classes)
            else:
                span = {"start": datasets.Value("int64"), "end": datasets.Value("int64")}
                features[column] = datasets.List({**span, "label": classes})
        elif column in _KNOWN_STRINGS:
            features[column] = string
        elif column in _KNOWN_LISTS:
            features[column] = datasets.List(string)
        elif column == "dataset_version":
            features[column] = datasets.Value("int64")
        else:
            kind = pa.array(values).type if values else pa.null()
            features[column] = string if kind == pa.null() else datasets.Value(str(kind))
    return datasets.Features(features)
