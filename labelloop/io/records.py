"""The normalised record every reader's rows become, and content hashes for de-duplication.

A record in a file is ``{"id": ..., "text": ... (or payload fields), "label": ... or
"labels": [...], "meta": {...}}``. Its payload is stored as the item's ``payload``:

- text projects (``classification``): ``{"text": str, **other fields}``;
- tabular projects: the feature columns, ``{column: number | str | bool | None}``;
- media projects (image, audio, video): ``{"path": media reference}``.

Fields an export adds (`EXPORT_ONLY_FIELDS`: who labelled, the dataset version) are
ignored on import, so an export can be imported again as it is.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from labelloop.exceptions import ImportDataError

__all__ = [
    "BOX_FORMATS",
    "ENTITY_FORMATS",
    "EXPORT_ONLY_FIELDS",
    "FORMATS",
    "FORMAT_ALIASES",
    "FieldNames",
    "Record",
    "detect_format",
    "file_sha256",
    "payload_hash",
    "record_from_mapping",
    "text_hash",
]

FORMATS: tuple[str, ...] = (
    "jsonl",
    "csv",
    "parquet",
    "media",
    "conll",
    "label_studio",
    "hf",
    "coco",
)
#: The formats of box projects only (JSONL and Label Studio JSON serve every kind).
BOX_FORMATS: tuple[str, ...] = ("coco",)
#: The formats of entity projects only (JSONL and Label Studio JSON serve both kinds).
ENTITY_FORMATS: tuple[str, ...] = ("conll",)
#: Other spellings of format names (the CLI's ``--format label-studio``).
FORMAT_ALIASES: dict[str, str] = {"label-studio": "label_studio", "huggingface": "hf"}
EXPORT_ONLY_FIELDS: frozenset[str] = frozenset(
    {"annotators", "reviewers", "dataset_version", "label_source"}
)
_MAX_ID = 300
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".conll": "conll",
    ".bio": "conll",
}


@dataclass(frozen=True)
class FieldNames:
    """The names of the record's fields in the file (``--id-field`` and friends)."""

    id: str = "id"
    text: str = "text"
    label: str = "label"
    labels: str = "labels"
    meta: str = "meta"

    #: Fields that are not payload.
    reserved: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        reserved = frozenset({self.id, self.label, self.labels, self.meta}) | EXPORT_ONLY_FIELDS
        object.__setattr__(self, "reserved", reserved)


class Record(NamedTuple):
    """One validated record, before its label is checked against a project's schema.

    Attributes
    ----------
    external_id : str
        The record's id, kept as the item's external id.
    payload : dict
        What is labelled (see the module docstring).
    label : str, list of str or None
        The label as given (``label`` or ``labels`` field), None when unlabelled.
    meta : dict
        Metadata (group attributes for bias checks, anything else).
    content_hash : str
        SHA-256 hex digest of the normalised content, for de-duplication.
    line : int
        Line (JSONL, CSV), row (Parquet) or file number (media) in the source.
    label_field : str
        The field the label came from, for error messages.
    media_ref : str or None
        For media records, the file's path relative to the project's media root.
    """

    external_id: str
    payload: dict[str, Any]
    label: Any
    meta: dict[str, Any]
    content_hash: str
    line: int
    label_field: str = "label"
    media_ref: str | None = None


def detect_format(path: str | Path) -> str:
    """The format of ``path`` from its suffix (a directory is ``media``, or ``hf`` when it
    holds a Hugging Face dataset saved with ``save_to_disk``)."""
    path = Path(path)
    if path.is_dir():
        saved = (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()
        return "hf" if saved else "media"
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ImportDataError(
            f"cannot tell the format from the suffix {path.suffix!r}: "
            "pass --format jsonl, csv, parquet, conll, label_studio or hf",
            path=str(path),
        ) from None


def text_hash(text: str) -> str:
    """Content hash of a text: Unicode NFC, whitespace runs collapsed, ends stripped."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    normal = " ".join(text.split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def payload_hash(payload: Mapping[str, Any]) -> str:
    """Content hash of a payload: canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def record_from_mapping(
    raw: Mapping[str, Any],
    *,
    kind: str,
    source: str,
    line: int,
    fields: FieldNames = FieldNames(),  # noqa: B008 - frozen, so a shared default is safe
) -> Record:
    """Validate one mapping read from ``source`` and normalise it into a `Record`.

    Parameters
    ----------
    raw : mapping
        The row as read (JSON object, CSV row with typed cells, Parquet row).
    kind : {"text", "tabular"}
        Text records need a string ``text`` field; tabular ones take every other
        field as a feature column.
    source : str
        The file name, for error messages.
    line : int
        The line or row number, for error messages.
    fields : FieldNames
        The names of the id, text, label, labels and meta fields.

    Raises
    ------
    ImportDataError
        Naming the file, line and field of a missing field or a wrong type.
    """

    def fail(message: str, name: str | None) -> ImportDataError:
        return ImportDataError(message, path=source, line=line, field=name)

    if not isinstance(raw, dict):
        if not isinstance(raw, Mapping):
            raise fail(f"a record must be an object, got {_type_name(raw)}", None)
        raw = dict(raw)
    if raw.get(fields.id) is None:
        raise fail("missing id", fields.id)
    external_id = raw[fields.id]
    if type(external_id) is not str and (
        isinstance(external_id, bool) or not isinstance(external_id, int)
    ):
        raise fail(
            f"an id must be a string or an integer, got {_type_name(external_id)}", fields.id
        )
    external_id = str(external_id).strip()
    if not external_id or len(external_id) > _MAX_ID:
        raise fail(f"an id must have 1 to {_MAX_ID} characters", fields.id)

    label_field = fields.label
    label = raw.get(fields.label)
    if raw.get(fields.labels) is not None:
        if label is not None:
            raise fail(f"give {fields.label!r} or {fields.labels!r}, not both", fields.labels)
        label_field, label = fields.labels, raw[fields.labels]
        if not isinstance(label, (list, tuple)) or not all(isinstance(x, str) for x in label):
            raise fail(f"labels must be a list of strings, got {label!r}", label_field)
        label = list(label)
    elif label is not None and not isinstance(label, (str, list, tuple)):
        raise fail(f"a label must be a string, got {_type_name(label)}", label_field)

    meta = raw.get(fields.meta)
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise fail(f"meta must be an object, got {_type_name(meta)}", fields.meta)

    reserved = fields.reserved
    if kind == "text":
        text = raw.get(fields.text)
        if text is None:
            raise fail("missing text", fields.text)
        if not isinstance(text, str):
            raise fail(f"text must be a string, got {_type_name(text)}", fields.text)
        if not text.strip():
            raise fail("text is empty", fields.text)
        payload = {"text": text}
        for key, value in raw.items():
            if key not in reserved and key != fields.text:
                payload[key] = value
        content_hash = text_hash(text)
    elif kind == "tabular":
        payload = {}
        for key, value in raw.items():
            if key in reserved:
                continue
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise fail(
                    f"a feature value must be a number, string, boolean or null, "
                    f"got {_type_name(value)}",
                    key,
                )
            payload[key] = value
        if not payload:
            raise fail("no feature columns: a tabular record needs at least one", None)
        content_hash = payload_hash(payload)
    else:
        raise ValueError(f"kind must be 'text' or 'tabular', got {kind!r}")
    return Record(
        external_id=external_id,
        payload=payload,
        label=label,
        meta=dict(meta),
        content_hash=content_hash,
        line=line,
        label_field=label_field,
    )
