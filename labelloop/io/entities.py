"""Entity documents: the record every entity format reads to and writes from, and its JSONL.

An entity document is a plain dict ``{"id": str | None, "text": str, "spans": [{start,
end, label}, ...]}``: character offsets into ``text``, ``end`` exclusive. ``spans`` is
absent for an unlabelled text and ``[]`` for a text labelled as having no entity. Any
other field of a JSONL line is kept as it is, so a file round-trips without loss.

:func:`check_entity_document` keeps the rules of :func:`labelloop.ner.check_spans` (in the
text, no overlap) and names the file, line and field of any break as an
:class:`~labelloop.exceptions.ImportDataError` (``spans.1.start``, say).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from labelloop.exceptions import RECORDS_SOURCE, ImportDataError, ValidationError
from labelloop.io.jsonl import read_jsonl
from labelloop.ner import check_spans

__all__ = [
    "check_entity_document",
    "check_entity_documents",
    "read_entity_jsonl",
    "write_entity_jsonl",
]


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def check_entity_document(
    raw: Any,
    *,
    path: str | None = None,
    line: int | None = None,
    text_field: str = "text",
    spans_field: str = "spans",
    labels: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Validate one entity document and return it with spans as sorted ``{start, end, label}``.

    Parameters
    ----------
    raw : mapping
        ``{"id": ..., text_field: str, spans_field: [...]}``; other fields are kept.
    path, line : optional
        Where the document came from, named in errors.
    text_field, spans_field : str
        The names of the text and spans fields in the source.
    labels : iterable of str, optional
        The allowed entity types.

    Raises
    ------
    ImportDataError
        Naming ``path``, ``line`` and the field at fault.
    """
    if not isinstance(raw, Mapping):
        raise ImportDataError(
            f"a document must be an object, got {_type_name(raw)}", path=path, line=line
        )
    text = raw.get(text_field)
    if not isinstance(text, str):
        raise ImportDataError(
            f"the text must be a string, got {_type_name(text)}",
            path=path,
            line=line,
            field=text_field,
        )
    identifier = raw.get("id")
    if identifier is not None and not isinstance(identifier, str | int):
        raise ImportDataError(
            f"the id must be a string or an integer, got {_type_name(identifier)}",
            path=path,
            line=line,
            field="id",
        )
    document = {k: v for k, v in raw.items() if k not in (text_field, spans_field)}
    document["id"] = None if identifier is None else str(identifier)
    document["text"] = text
    if spans_field in raw and raw[spans_field] is not None:
        document["spans"] = _checked_spans(
            raw[spans_field], text, labels, path=path, line=line, spans_field=spans_field
        )
    return document


def _checked_spans(
    spans: Any,
    text: str,
    labels: Iterable[str] | None,
    *,
    path: str | None,
    line: int | None,
    spans_field: str,
) -> list[dict[str, Any]]:
    try:
        checked = check_spans(spans, text=text, labels=labels)
    except ValidationError as error:
        field = (error.field or "spans").replace("spans", spans_field, 1)
        raise ImportDataError(str(error), path=path, line=line, field=field) from None
    return [span.as_dict() for span in checked]


def read_entity_jsonl(
    path: str | Path,
    *,
    text_field: str = "text",
    spans_field: str = "spans",
    labels: Iterable[str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, document)`` for each line of an entity JSONL file, validated.

    Each line is ``{"id": ..., "text": "...", "spans": [{"start": 0, "end": 5, "label":
    "PER"}, ...]}``; a span may also be written ``[start, end, label]``.

    Raises
    ------
    ImportDataError
        Naming the file, the line and the field of the first bad document.
    """
    name = str(path)
    for line, raw in read_jsonl(path):
        yield (
            line,
            check_entity_document(
                raw,
                path=name,
                line=line,
                text_field=text_field,
                spans_field=spans_field,
                labels=labels,
            ),
        )


def write_entity_jsonl(documents: Iterable[Mapping[str, Any]], handle: IO[str]) -> int:
    """Write entity documents one JSON object a line; return how many were written.

    Every document is checked before anything is written (:func:`check_entity_documents`),
    so a bad one leaves ``handle`` untouched.
    """
    checked = check_entity_documents(documents)
    for document in checked:
        handle.write(json.dumps(document, ensure_ascii=False))
        handle.write("\n")
    return len(checked)


def check_entity_documents(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check documents given in memory; an error names ``records.<index>.<field>``."""
    return [
        check_entity_document(raw, path=RECORDS_SOURCE, line=index)
        for index, raw in enumerate(documents, start=1)
    ]
