"""Tokens with offsets, span validation and BIO/BIOES conversion."""

from __future__ import annotations

import doctest
import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelloop.exceptions import ValidationError
from labelloop.ner import (
    RegexTokenizer,
    Span,
    Token,
    check_spans,
    span_f1,
    spans_to_tags,
    tags_to_spans,
    tokenize,
)


def test_default_tokenizer_keeps_offsets_and_tweet_tokens() -> None:
    text = "RT @anna: see https://x.co/a1 #NYC, don't!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == [
        "RT", "@anna", ":", "see", "https://x.co/a1", "#NYC", ",", "don't", "!",
    ]  # fmt: skip
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_tokenizer_is_pluggable_with_offsets_or_tokens() -> None:
    def whitespace(text: str) -> list[tuple[int, int]]:
        import re

        return [m.span() for m in re.finditer(r"\S+", text)]

    assert [t.text for t in tokenize("a,b c", tokenizer=whitespace)] == ["a,b", "c"]
    assert [t.text for t in tokenize("ab cd", tokenizer=RegexTokenizer(r"\w"))] == list("abcd")


@pytest.mark.parametrize(
    ("produced", "message"),
    [
        ([(0, 2), (1, 3)], "overlaps"),
        ([(0, 9)], "outside"),
        ([(2, 2)], "empty"),
        ([(0, 3)], "whitespace"),
        (["ab"], "pair"),
        ([(0.0, 1)], "integers"),
    ],
)
def test_a_tokenizer_that_breaks_a_rule_is_named(produced: list, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        tokenize("ab cd", tokenizer=lambda _text: produced)
    assert raised.value.field.startswith("tokens.")


def test_bad_pattern_and_bad_text_are_refused() -> None:
    with pytest.raises(ValidationError, match="regular expression"):
        RegexTokenizer("(")
    with pytest.raises(ValidationError, match="string"):
        tokenize(None)  # type: ignore[arg-type]


def test_check_spans_sorts_and_accepts_three_shapes() -> None:
    spans = check_spans(
        [Span(6, 9, "B"), {"start": 0, "end": 2, "label": "A"}, (3, 5, "A")],
        text="ab cd efg",
        labels=["A", "B"],
    )
    assert spans == [Span(0, 2, "A"), Span(3, 5, "A"), Span(6, 9, "B")]


def test_overlapping_spans_name_the_item_and_both_spans() -> None:
    with pytest.raises(ValidationError) as raised:
        check_spans([(0, 5, "PER"), (3, 8, "LOC")], item="doc-7")
    message = str(raised.value)
    assert "doc-7" in message
    assert "(0, 5, 'PER')" in message and "(3, 8, 'LOC')" in message
    assert "overlap" in message
    assert raised.value.field == "spans.1"


@pytest.mark.parametrize(
    ("spans", "field"),
    [
        ([{"start": 0, "label": "A"}], "spans.0.end"),
        ([(0, 1.5, "A")], "spans.0.end"),
        ([(0, 1, "")], "spans.0.label"),
        ([(0, 1, "A"), (3, 3, "A")], "spans.1"),
        ([(0, 20, "A")], "spans.0"),
        ([(0, 1, "C")], "spans.0.label"),
        (["x"], "spans.0"),
        ("abc", "spans"),
    ],
)
def test_bad_spans_name_the_field(spans: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_spans(spans, text="ab cd", labels=["A", "B"], item=3)
    assert raised.value.field == field
    if field != "spans":
        assert "item 3" in str(raised.value)


def test_bio_and_bioes_tags() -> None:
    tokens = tokenize("Ann Lee met New York Times staff")
    spans = [Span(0, 7, "PER"), Span(12, 26, "ORG")]
    assert spans_to_tags(spans, tokens) == [
        "B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG", "O",
    ]  # fmt: skip
    assert spans_to_tags(spans, tokens, scheme="BIOES") == [
        "B-PER", "E-PER", "O", "B-ORG", "I-ORG", "E-ORG", "O",
    ]  # fmt: skip
    assert spans_to_tags([Span(8, 11, "X")], tokens, scheme="BIOES")[2] == "S-X"


def test_a_span_off_token_boundaries_is_refused() -> None:
    with pytest.raises(ValidationError, match="token boundaries"):
        spans_to_tags([(1, 7, "PER")], tokenize("Ann Lee"), item="a")


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        (["I-A", "O"], "BIO"),
        (["B-A", "I-B"], "BIO"),
        (["B-A", "O"], "BIOES"),
        (["B-A", "I-A"], "BIOES"),
        (["S-A", "E-A"], "BIOES"),
        (["E-A", "O"], "BIO"),
        (["X", "O"], "BIO"),
    ],
)
def test_strict_reading_refuses_ill_formed_tags(tags: list[str], scheme: str) -> None:
    tokens = tokenize("a b")
    with pytest.raises(ValidationError) as raised:
        tags_to_spans(tags, tokens, scheme=scheme)
    assert raised.value.field.startswith("tags.")


def test_lenient_reading_opens_a_span_at_a_stray_inside_tag() -> None:
    tokens = tokenize("a b c")
    assert tags_to_spans(["I-A", "I-A", "I-B"], tokens, strict=False) == [
        Span(0, 3, "A"),
        Span(4, 5, "B"),
    ]
    assert tags_to_spans(["B-A", "I-A", "O"], tokens, scheme="BIOES", strict=False) == [
        Span(0, 3, "A")
    ]


def test_tag_count_must_match_tokens_and_scheme_must_exist() -> None:
    with pytest.raises(ValidationError, match="2 tags for 3 tokens"):
        tags_to_spans(["O", "O"], tokenize("a b c"))
    with pytest.raises(ValidationError) as raised:
        spans_to_tags([], tokenize("a"), scheme="IOB2")  # type: ignore[arg-type]
    assert raised.value.field == "scheme"


@st.composite
def tokens_and_spans(draw: st.DrawFn) -> tuple[list[Token], list[Span]]:
    words = draw(st.lists(st.text("abcXYZ1", min_size=1, max_size=4), min_size=1, max_size=12))
    tokens = tokenize(" ".join(words))
    spans = []
    i = 0
    while i < len(tokens):
        length = draw(st.integers(0, 3))
        if length and i + length <= len(tokens):
            label = draw(st.sampled_from(["PER", "LOC", "B-X"]))
            spans.append(Span(tokens[i].start, tokens[i + length - 1].end, label))
            i += length
        else:
            i += 1
    return tokens, spans


@settings(max_examples=150, deadline=None)
@given(tokens_and_spans(), st.sampled_from(["BIO", "BIOES"]))
def test_spans_survive_tags_both_ways(case: tuple, scheme: str) -> None:
    tokens, spans = case
    tags = spans_to_tags(spans, tokens, scheme=scheme)
    assert tags_to_spans(tags, tokens, scheme=scheme) == spans
    assert spans_to_tags(tags_to_spans(tags, tokens, scheme=scheme), tokens, scheme=scheme) == tags


def test_span_f1_is_exact_match_micro_average() -> None:
    truth = [[(0, 3, "A"), (4, 7, "B")], []]
    guess = [[(0, 3, "A")], [(0, 1, "A")]]
    assert span_f1(truth, guess) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert span_f1([[]], [[]])["f1"] == 0.0
    with pytest.raises(ValidationError):
        span_f1([[]], [])


@pytest.mark.parametrize("module_name", ["labelloop.ner.tokens", "labelloop.ner.spans"])
def test_docstring_examples_run(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0
