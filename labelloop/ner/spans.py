"""Entity spans over a text, and their token tags in the BIO and BIOES schemes.

A span is ``{start, end, label}``: character offsets into the item's text, ``end``
exclusive. :func:`check_spans` keeps these rules, naming the item and the spans at fault:

1. ``0 <= start < end <= len(text)``; ``label`` is a non-empty string (one of the
   project's entity types when they are given).
2. Spans never overlap: two spans sharing a character are refused (nested entities are
   not labelled in this scheme). Spans come back sorted by ``start``.

Tags: in BIO a span's first token is ``B-<label>`` and the rest ``I-<label>``; BIOES also
marks a one-token span ``S-<label>`` and a span's last token ``E-<label>``; every other
token is ``O``. :func:`spans_to_tags` needs each span to cover whole tokens.
:func:`tags_to_spans` reads a tag sequence back; ``strict=True`` refuses an ill-formed
sequence (``I-`` without ``B-``), ``strict=False`` reads it the way CoNLL's scorer does
(a stray inside tag opens a new span), which is what a model's predictions need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from labelloop.exceptions import ValidationError
from labelloop.ner.tokens import Token

__all__ = [
    "TAG_SCHEMES",
    "Span",
    "TagScheme",
    "check_spans",
    "span_f1",
    "spans_to_tags",
    "tags_to_spans",
]

TagScheme = Literal["BIO", "BIOES"]
TAG_SCHEMES: tuple[str, ...] = ("BIO", "BIOES")


class Span(NamedTuple):
    """One entity: characters ``[start, end)`` of the text, of type ``label``."""

    start: int
    end: int
    label: str

    def as_dict(self) -> dict[str, Any]:
        """The span as the ``{start, end, label}`` mapping of the formats and the API."""
        return {"start": self.start, "end": self.end, "label": self.label}


def _where(item: Any) -> str:
    return f"item {item!r}: " if item is not None else ""


def _as_span(value: Any, position: int, item: Any) -> Span:
    if isinstance(value, Span):
        return value
    if isinstance(value, Mapping):
        missing = [k for k in ("start", "end", "label") if k not in value]
        if missing:
            raise ValidationError(
                f"{_where(item)}span {position} has no {', '.join(missing)}",
                field=f"spans.{position}.{missing[0]}",
            )
        start, end, label = value["start"], value["end"], value["label"]
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        start, end, label = value
    else:
        raise ValidationError(
            f"{_where(item)}span {position} must be {{start, end, label}}, got {value!r}",
            field=f"spans.{position}",
        )
    for name, offset in (("start", start), ("end", end)):
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise ValidationError(
                f"{_where(item)}span {position} {name} must be an integer, got {offset!r}",
                field=f"spans.{position}.{name}",
            )
    if not isinstance(label, str) or not label.strip():
        raise ValidationError(
            f"{_where(item)}span {position} label must be a non-empty string, got {label!r}",
            field=f"spans.{position}.label",
        )
    return Span(start, end, label)


def check_spans(
    spans: Iterable[Any],
    *,
    text: str | None = None,
    labels: Iterable[str] | None = None,
    item: Any = None,
) -> list[Span]:
    """Validate entity spans and return them as :class:`Span`, sorted by start.

    Parameters
    ----------
    spans : iterable of Span, mapping ``{start, end, label}`` or (start, end, label)
        The entities of one item.
    text : str, optional
        The item's text; offsets must fall inside it.
    labels : iterable of str, optional
        The allowed entity types.
    item : any, optional
        The item's id, named in every error.

    Raises
    ------
    ValidationError
        Naming the item, the span (its 0-based position in the input) and the rule broken;
        for an overlap, both spans.

    Examples
    --------
    >>> check_spans([{"start": 6, "end": 11, "label": "LOC"}, (0, 5, "PER")], text="Alice Paris")
    [Span(start=0, end=5, label='PER'), Span(start=6, end=11, label='LOC')]
    """
    if isinstance(spans, str | bytes | Mapping) or not isinstance(spans, Iterable):
        raise ValidationError(
            f"{_where(item)}spans must be a list of {{start, end, label}}, "
            f"not {type(spans).__name__}",
            field="spans",
        )
    allowed = None if labels is None else set(labels)
    checked = [_as_span(value, position, item) for position, value in enumerate(spans)]
    for position, span in enumerate(checked):
        limit = len(text) if text is not None else None
        if span.start < 0 or span.end <= span.start or (limit is not None and span.end > limit):
            inside = f" inside a text of {limit} characters" if limit is not None else ""
            raise ValidationError(
                f"{_where(item)}span {position} ({span.start}, {span.end}) must have "
                f"0 <= start < end{inside}",
                field=f"spans.{position}",
            )
        if allowed is not None and span.label not in allowed:
            raise ValidationError(
                f"{_where(item)}span {position} label {span.label!r} is not one of "
                f"{sorted(allowed)}",
                field=f"spans.{position}.label",
            )
    order = sorted(range(len(checked)), key=lambda i: (checked[i].start, checked[i].end))
    for before, after in zip(order, order[1:], strict=False):
        a, b = checked[before], checked[after]
        if b.start < a.end:
            raise ValidationError(
                f"{_where(item)}spans {before} ({a.start}, {a.end}, {a.label!r}) and "
                f"{after} ({b.start}, {b.end}, {b.label!r}) overlap; entities may not overlap",
                field=f"spans.{after}",
            )
    return [checked[i] for i in order]


def _check_scheme(scheme: Any) -> str:
    if scheme not in TAG_SCHEMES:
        raise ValidationError(
            f"scheme must be one of {list(TAG_SCHEMES)}, got {scheme!r}", field="scheme"
        )
    return scheme


def spans_to_tags(
    spans: Iterable[Any],
    tokens: Sequence[Token],
    *,
    scheme: TagScheme = "BIO",
    item: Any = None,
) -> list[str]:
    """One tag per token for ``spans``, which must each cover whole tokens.

    Raises
    ------
    ValidationError
        If a span overlaps another, or starts or ends inside a token or on no token.

    Examples
    --------
    >>> from labelloop.ner.tokens import tokenize
    >>> spans_to_tags([(0, 8, "LOC")], tokenize("New York is big"), scheme="BIOES")
    ['B-LOC', 'E-LOC', 'O', 'O']
    """
    scheme = _check_scheme(scheme)
    checked = check_spans(spans, item=item)
    starts = {token.start: i for i, token in enumerate(tokens)}
    ends = {token.end: i for i, token in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    for position, span in enumerate(checked):
        first, last = starts.get(span.start), ends.get(span.end)
        if first is None or last is None or last < first:
            raise ValidationError(
                f"{_where(item)}span ({span.start}, {span.end}, {span.label!r}) does not "
                "start and end on token boundaries",
                field=f"spans.{position}",
            )
        if scheme == "BIOES" and first == last:
            tags[first] = f"S-{span.label}"
            continue
        tags[first] = f"B-{span.label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{span.label}"
        if scheme == "BIOES":
            tags[last] = f"E-{span.label}"
    return tags


def _split_tag(tag: Any, position: int, scheme: str, item: Any) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    prefixes = "BI" if scheme == "BIO" else "BIES"
    if isinstance(tag, str) and len(tag) > 2 and tag[0] in prefixes and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValidationError(
        f"{_where(item)}tag {position} {tag!r} is not O or one of "
        f"{', '.join(p + '-<type>' for p in prefixes)} ({scheme})",
        field=f"tags.{position}",
    )


def tags_to_spans(
    tags: Sequence[str],
    tokens: Sequence[Token],
    *,
    scheme: TagScheme = "BIO",
    strict: bool = True,
    item: Any = None,
) -> list[Span]:
    """The spans a tag sequence marks, at the tokens' character offsets.

    Parameters
    ----------
    tags : sequence of str
        One tag per token.
    tokens : sequence of Token
        The tokens, with offsets.
    scheme : {"BIO", "BIOES"}, default="BIO"
    strict : bool, default=True
        Refuse an inside/end tag that continues no span of its type (and, in BIOES, a
        span left open); with False such a tag starts a span and an open span ends at
        its last inside tag.
    item : any, optional
        Named in errors.

    Examples
    --------
    >>> from labelloop.ner.tokens import tokenize
    >>> tags_to_spans(["B-LOC", "I-LOC", "O"], tokenize("New York rocks"))
    [Span(start=0, end=8, label='LOC')]
    """
    scheme = _check_scheme(scheme)
    if len(tags) != len(tokens):
        raise ValidationError(
            f"{_where(item)}{len(tags)} tags for {len(tokens)} tokens", field="tags"
        )
    spans: list[Span] = []
    open_label: str | None = None
    open_start = open_end = 0

    def close() -> None:
        nonlocal open_label
        if open_label is not None:
            spans.append(Span(open_start, open_end, open_label))
        open_label = None

    for position, (tag, token) in enumerate(zip(tags, tokens, strict=True)):
        prefix, label = _split_tag(tag, position, scheme, item)
        continues = prefix in "IE" and open_label == label
        if prefix in "IE" and not continues:
            if strict:
                raise ValidationError(
                    f"{_where(item)}tag {position} {tag!r} continues no {label!r} span",
                    field=f"tags.{position}",
                )
            close()
            open_label, open_start = label, token.start
        elif prefix in "BSO":
            if strict and scheme == "BIOES" and open_label is not None:
                raise ValidationError(
                    f"{_where(item)}the {open_label!r} span before tag {position} has no E- tag",
                    field=f"tags.{position}",
                )
            close()
            if prefix != "O":
                open_label, open_start = label, token.start
        open_end = token.end
        if prefix in "SE":
            close()
    if strict and scheme == "BIOES" and open_label is not None:
        raise ValidationError(
            f"{_where(item)}the last {open_label!r} span has no E- tag",
            field=f"tags.{len(tags) - 1}",
        )
    close()
    return spans


def span_f1(
    true_spans: Sequence[Iterable[Any]], predicted_spans: Sequence[Iterable[Any]]
) -> dict[str, float]:
    """Exact-match span precision, recall and F1 over many items (micro-averaged).

    A predicted span counts only if its start, end and label all equal a true span's.

    Examples
    --------
    >>> span_f1([[(0, 5, "PER"), (6, 11, "LOC")]], [[(0, 5, "PER"), (6, 11, "ORG")]])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5}
    """
    if len(true_spans) != len(predicted_spans):
        raise ValidationError(
            f"{len(true_spans)} true and {len(predicted_spans)} predicted items",
            field="predicted_spans",
        )
    n_true = n_predicted = n_correct = 0
    for truth, guess in zip(true_spans, predicted_spans, strict=True):
        true_set = {tuple(s) for s in check_spans(truth)}
        guess_set = {tuple(s) for s in check_spans(guess)}
        n_true += len(true_set)
        n_predicted += len(guess_set)
        n_correct += len(true_set & guess_set)
    precision = n_correct / n_predicted if n_predicted else 0.0
    recall = n_correct / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
