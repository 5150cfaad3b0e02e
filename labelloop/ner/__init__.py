"""Named entities: tokens with character offsets, entity spans and their BIO/BIOES tags.

- :func:`tokenize` with a pluggable tokenizer (default :class:`RegexTokenizer`); every
  token knows its ``start`` and ``end`` in the text, and labelling cost is counted in them.
- :func:`check_spans` validates ``{start, end, label}`` spans (overlaps refused, naming
  the item and both spans); :func:`spans_to_tags` and :func:`tags_to_spans` convert
  between spans and BIO or BIOES tags; :func:`span_f1` scores predicted spans.

The built-in model is :class:`labelloop.models.crf.CrfTagger` (the ``[ner]`` extra); the
sentence scores are in :mod:`labelloop.strategies.sequence`.
"""

from __future__ import annotations

from labelloop.ner.spans import (
    TAG_SCHEMES,
    Span,
    TagScheme,
    check_spans,
    span_f1,
    spans_to_tags,
    tags_to_spans,
)
from labelloop.ner.tokens import DEFAULT_TOKEN_PATTERN, RegexTokenizer, Token, Tokenizer, tokenize

__all__ = [
    "DEFAULT_TOKEN_PATTERN",
    "TAG_SCHEMES",
    "RegexTokenizer",
    "Span",
    "TagScheme",
    "Token",
    "Tokenizer",
    "check_spans",
    "span_f1",
    "spans_to_tags",
    "tags_to_spans",
    "tokenize",
]
