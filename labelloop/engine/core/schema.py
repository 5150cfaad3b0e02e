"""The label schema: which labels a project has, and what a valid label for it is.

Rules
-----
1. A schema is a list of unique, non-empty names without commas, at most
   `MAX_LABELS` of them, each at most `MAX_NAME` characters; a single-label project
   needs two labels at least, a multi-label one one.
2. A single-label project takes one ``label``, one of its names; a multi-label project
   takes ``labels``, a list of its names (possibly empty: none applies), stored sorted
   and de-duplicated. Anything else is refused with ``field="label"``.
3. An entity project (task type ``ner``) names its entity types as its labels (one at
   least) and takes as ``label`` the item's spans, a list of ``{start, end, label}``
   inside the item's text, of its entity types, never overlapping (possibly empty: no
   entity), stored sorted by start (`labelloop.ner.check_spans`); ``field`` is
   ``label.<span>.<key>``.
4. A box project (task type ``boxes``) names its object classes as its labels (one at
   least) and takes as ``label`` the image's boxes, a list of ``{bbox: [x1, y1, x2, y2],
   label}`` in image pixels, inside the image when its size is known (the item's
   ``width`` and ``height``), of its classes (possibly empty: nothing in the image),
   stored sorted by position (x1, y1, x2, y2, then label) so the same boxes drawn in
   another order are the same label (`labelloop.boxes.check_boxes`); ``field`` is
   ``label.<box>.<key>`` with the box's position as given.
"""

from __future__ import annotations

from typing import Any

from labelloop.boxes import check_boxes
from labelloop.exceptions import ValidationError
from labelloop.ner import check_spans
from labelloop.store.tables import ProjectRow

__all__ = ["MAX_LABELS", "MAX_NAME", "check_labels", "validate_label"]

MAX_LABELS = 1000
MAX_NAME = 200


def check_labels(labels: Any, *, multi_label: bool) -> list[str]:
    """Rule 1: the clean list of label names (a comma-separated string is split)."""
    if isinstance(labels, str):
        labels = labels.split(",")
    if not isinstance(labels, list | tuple):
        raise ValidationError("labels must be a list of names", field="labels")
    clean: list[str] = []
    for position, label in enumerate(labels, start=1):
        if not isinstance(label, str):
            raise ValidationError(
                f"label {position} is {type(label).__name__}, not a string", field="labels"
            )
        label = label.strip()
        if not label:
            raise ValidationError(f"label {position} is empty", field="labels")
        if "," in label:
            raise ValidationError(f"label {label!r} contains a comma", field="labels")
        if len(label) > MAX_NAME:
            raise ValidationError(
                f"label {label[:40]!r}... is longer than {MAX_NAME} characters", field="labels"
            )
        if label in clean:
            raise ValidationError(f"label {label!r} is given twice", field="labels")
        clean.append(label)
    minimum = 1 if multi_label else 2
    if len(clean) < minimum:
        raise ValidationError(
            f"a {'multi-label' if multi_label else 'single-label'} project needs at least "
            f"{minimum} labels, got {len(clean)}",
            field="labels",
        )
    if len(clean) > MAX_LABELS:
        raise ValidationError(f"at most {MAX_LABELS} labels", field="labels")
    return clean


def validate_label(
    project_row: ProjectRow,
    label: Any = None,
    labels: Any = None,
    *,
    text: Any = None,
    payload: Any = None,
) -> str | list[str] | list[dict[str, Any]]:
    """Check a label against the project's schema and return its stored JSON form.

    Parameters
    ----------
    project_row : ProjectRow
        The project (its ``labels`` and ``multi_label``).
    label : str, optional
        The label of a single-label project.
    labels : list of str, optional
        The labels of a multi-label project (may be empty: none applies).
    text : str, optional
        The item's text: an entity project's spans are checked against it.
    payload : dict, optional
        The item's payload: its ``text`` when ``text`` is not given, and an image's
        ``width`` and ``height``, which a box project's boxes must lie inside.

    Returns
    -------
    str or list of str
        The label for a single-label project; the sorted, de-duplicated labels for a
        multi-label one.

    Raises
    ------
    ValidationError
        With ``field="label"`` when the label is missing, of the wrong kind or unknown.
    """
    known = project_row.labels
    if text is None and isinstance(payload, dict):
        text = payload.get("text")
    if project_row.task_type == "boxes":
        return _validate_boxes(known, label, labels, payload)
    if project_row.task_type == "ner":
        return _validate_spans(known, label, labels, text)
    if project_row.multi_label:
        if label is not None:
            raise ValidationError(
                "this project is multi-label: give 'labels' as a list", field="label"
            )
        if not isinstance(labels, list | tuple):
            raise ValidationError(
                "this project is multi-label: 'labels' must be a list of label names",
                field="label",
            )
        for name in labels:
            if not isinstance(name, str) or name not in known:
                raise ValidationError(
                    f"unknown label {name!r}: the project's labels are {', '.join(known)}",
                    field="label",
                )
        return sorted(set(labels))
    if labels is not None:
        raise ValidationError("this project is single-label: give one 'label'", field="label")
    if not isinstance(label, str):
        raise ValidationError(
            f"a label must be one of {', '.join(known)}, got {label!r}", field="label"
        )
    if label not in known:
        raise ValidationError(
            f"unknown label {label!r}: the project's labels are {', '.join(known)}",
            field="label",
        )
    return label


def _validate_spans(known: list[str], label: Any, labels: Any, text: Any) -> list[dict[str, Any]]:
    """Rule 3: an entity project's label is the item's spans, checked against its text."""
    if labels is not None:
        raise ValidationError(
            "this is an entity project: give 'label' as a list of {start, end, label} spans",
            field="label",
        )
    if not isinstance(label, list | tuple):
        raise ValidationError(
            "an entity label is a list of {start, end, label} spans (empty: no entity), "
            f"got {label!r}",
            field="label",
        )
    try:
        spans = check_spans(label, text=text if isinstance(text, str) else None, labels=known)
    except ValidationError as error:
        raise ValidationError(str(error), field=f"label{(error.field or '')[5:]}") from None
    return [span.as_dict() for span in spans]


def _size(payload: Any, key: str) -> float | None:
    value = payload.get(key) if isinstance(payload, dict) else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _validate_boxes(
    known: list[str], label: Any, labels: Any, payload: Any
) -> list[dict[str, Any]]:
    """Rule 4: a box project's label is the image's boxes, inside the image when known."""
    if labels is not None:
        raise ValidationError(
            "this is a box project: give 'label' as a list of {bbox, label} boxes",
            field="label",
        )
    if not isinstance(label, list | tuple):
        raise ValidationError(
            "a box label is a list of {bbox: [x1, y1, x2, y2], label} boxes (empty: nothing "
            f"in the image), got {label!r}",
            field="label",
        )
    try:
        boxes = check_boxes(
            label, labels=known, width=_size(payload, "width"), height=_size(payload, "height")
        )
    except ValidationError as error:
        raise ValidationError(str(error), field=f"label{(error.field or '')[5:]}") from None
    return [box.as_dict() for box in sorted(boxes)]
