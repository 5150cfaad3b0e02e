"""CoNLL entity files: one token a line with its tag last, a blank line between sentences.

Reading keeps these rules:

1. A line is fields split on whitespace: the token is the first, the tag the last
   (``O``, ``B-X``, ``I-X``, and in BIOES also ``E-X``, ``S-X``); middle columns (part of
   speech, chunks) are skipped. A blank or whitespace-only line ends a sentence;
   ``-DOCSTART-`` lines are skipped; a line ``# id = <id>`` names the next sentence.
2. A sentence becomes an entity document whose text is its tokens joined by one space
   and whose spans are its tags read strictly in the scheme: an ``I-`` tag that continues
   no span is an error naming the file, line and field ``tag`` (``strict=False`` reads it
   as CoNLL's scorer does, opening a span).

Writing tokenizes each document's text (the project's tokenizer) and refuses a span that
does not cover whole tokens or a token holding whitespace, naming the document. A CoNLL
file keeps the tokens and the tags, not the spacing between tokens: a document written and
read back has the same tokens and entities, and the same text when its tokens were
separated by single spaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from labelloop.exceptions import RECORDS_SOURCE, ImportDataError, ValidationError
from labelloop.io.entities import check_entity_documents
from labelloop.ner import TAG_SCHEMES, TagScheme, Token, Tokenizer, spans_to_tags, tags_to_spans
from labelloop.ner import tokenize as run_tokenizer

__all__ = ["read_conll", "write_conll"]

_ID_PREFIX = "# id = "


def _check_scheme(scheme: Any) -> None:
    if scheme not in TAG_SCHEMES:
        raise ValidationError(
            f"scheme must be one of {list(TAG_SCHEMES)}, got {scheme!r}", field="scheme"
        )


def read_conll(
    path: str | Path, *, scheme: TagScheme = "BIO", strict: bool = True
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line of the first token, document)`` for each sentence of a CoNLL file.

    Raises
    ------
    ImportDataError
        Naming the file, the line and the field (``tag``) of the first bad line.
    """
    _check_scheme(scheme)
    name = str(path)
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    identifier: str | None = None
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportDataError(
                    f"not UTF-8 text ({exc.reason})", path=name, line=number
                ) from None
            fields = text.split()
            if text.startswith(_ID_PREFIX) and not words:
                identifier = text[len(_ID_PREFIX) :].strip() or None
                continue
            if fields and fields[0] == "-DOCSTART-":
                continue
            if fields:
                if len(fields) < 2:
                    raise ImportDataError(
                        "a token line needs the token and its tag, separated by whitespace",
                        path=name,
                        line=number,
                        field="tag",
                    )
                words.append(fields[0])
                tags.append(fields[-1])
                lines.append(number)
                continue
            if words:
                yield lines[0], _document(words, tags, lines, identifier, scheme, strict, name)
            words, tags, lines, identifier = [], [], [], None
    if words:
        yield lines[0], _document(words, tags, lines, identifier, scheme, strict, name)


def _document(
    words: list[str],
    tags: list[str],
    lines: list[int],
    identifier: str | None,
    scheme: str,
    strict: bool,
    name: str,
) -> dict[str, Any]:
    tokens = []
    offset = 0
    for word in words:
        tokens.append(Token(word, offset, offset + len(word)))
        offset += len(word) + 1
    try:
        spans = tags_to_spans(tags, tokens, scheme=scheme, strict=strict)
    except ValidationError as error:
        position = int((error.field or "tags.0").rsplit(".", 1)[1])
        message = str(error).replace(f"tag {position} ", "tag ", 1)
        raise ImportDataError(message, path=name, line=lines[position], field="tag") from None
    return {
        "id": identifier,
        "text": " ".join(words),
        "spans": [span.as_dict() for span in spans],
    }


def write_conll(
    documents: Iterable[Mapping[str, Any]],
    handle: IO[str],
    *,
    scheme: TagScheme = "BIO",
    tokenizer: Tokenizer | None = None,
) -> int:
    """Write entity documents as CoNLL sentences (``token<TAB>tag``); return how many.

    A document's id, if any, is written as a ``# id = <id>`` line before its sentence.
    Every document is checked and converted before anything is written.

    Raises
    ------
    ImportDataError
        Naming the document (``records.<index>``) whose spans miss token boundaries, or
        whose text has no token, or an id or token that would not survive the format.
    """
    _check_scheme(scheme)
    blocks = []
    for index, document in enumerate(check_entity_documents(documents), start=1):
        tokens = run_tokenizer(document["text"], tokenizer=tokenizer)
        if not tokens:
            raise ImportDataError(
                "the text has no token to write", path=RECORDS_SOURCE, line=index, field="text"
            )
        for token in tokens:
            if any(c.isspace() for c in token.text):
                raise ImportDataError(
                    f"token {token.text!r} holds whitespace, which CoNLL cannot keep",
                    path=RECORDS_SOURCE,
                    line=index,
                    field="text",
                )
        try:
            tags = spans_to_tags(document.get("spans", []), tokens, scheme=scheme)
        except ValidationError as error:
            raise ImportDataError(
                str(error), path=RECORDS_SOURCE, line=index, field=error.field
            ) from None
        identifier = document["id"]
        if identifier is not None and (identifier != identifier.strip() or "\n" in identifier):
            raise ImportDataError(
                "the id has line breaks or surrounding spaces, which CoNLL cannot keep",
                path=RECORDS_SOURCE,
                line=index,
                field="id",
            )
        head = f"{_ID_PREFIX}{identifier}\n" if identifier else ""
        body = "".join(f"{t.text}\t{tag}\n" for t, tag in zip(tokens, tags, strict=True))
        blocks.append(head + body)
    handle.write("\n".join(blocks))
    return len(blocks)
