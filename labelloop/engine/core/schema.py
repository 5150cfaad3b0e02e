"""The label schema: which labels a project has, and what a valid label for it is.

Rules
-----
1. A schema is a list of unique, non-empty names without commas, at most
   `MAX_LABELS` of them, each at most `MAX_NAME` characters; a single-label project
   needs two labels at least, a multi-label one one.
2. A single-label project takes one ``label``, one of its names; a multi-label project
   takes ``labels``, a list of its names (possibly empty: none applies), stored sorted
   and de-duplicated. Anything else is refused with ``field="label"``.
"""

from __future__ import annotations

from typing import Any

from labelloop.exceptions import ValidationError
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
    project_row: ProjectRow, label: Any = None, labels: Any = None
) -> str | list[str]:
    """Check a label against the project's schema and return its stored JSON form.

    Parameters
    ----------
    project_row : ProjectRow
        The project (its ``labels`` and ``multi_label``).
    label : str, optional
        The label of a single-label project.
    labels : list of str, optional
        The labels of a multi-label project (may be empty: none applies).

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
