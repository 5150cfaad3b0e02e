"""Budgeted picks that pass over near-duplicate sentences within one batch."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.exceptions import ValidationError
from labelloop.ner import Token
from labelloop.strategies.sequence import (
    distinct_top_within_budget,
    sentence_density,
    top_within_budget,
)

SENTENCES = [
    ["Big", "news", "from", "Paris", "today"],
    ["RT", "big", "news", "from", "Paris", "today"],  # nearly the first
    ["quiet", "day", "in", "Oslo"],
    ["lunch", "with", "Bob"],
]


def test_a_near_duplicate_waits_for_a_different_sentence() -> None:
    costs = [len(s) for s in SENTENCES]
    scores = [0.9, 0.8, 0.2, 0.1]
    plain = top_within_budget(scores, costs, budget=11)
    assert plain.tolist() == [0, 1]
    picked = distinct_top_within_budget(scores, costs, SENTENCES, budget=11)
    assert picked.tolist() == [0, 2]


def test_the_duplicate_still_fills_a_budget_nothing_else_can() -> None:
    costs = [len(s) for s in SENTENCES]
    picked = distinct_top_within_budget([0.9, 0.8, 0.2, 0.1], costs, SENTENCES, budget=100)
    assert sorted(picked.tolist()) == [0, 1, 2, 3]
    assert picked.tolist()[:3] == [0, 2, 3]


def test_tokens_with_offsets_and_full_overlap_allowed() -> None:
    tokens = [[Token(w, 0, len(w)) for w in s] for s in SENTENCES]
    costs = [len(s) for s in SENTENCES]
    scores = [0.9, 0.8, 0.2, 0.1]
    same = distinct_top_within_budget(scores, costs, tokens, budget=11, max_overlap=1.0)
    assert same.tolist() == top_within_budget(scores, costs, budget=11).tolist()


def test_picks_never_exceed_the_budget_nor_repeat(seed: int) -> None:
    rng = np.random.default_rng(seed)
    words = ["a", "b", "c", "d", "e", "f"]
    sentences = [list(rng.choice(words, size=rng.integers(1, 5))) for _ in range(60)]
    costs = np.array([len(s) for s in sentences])
    budget = float(rng.integers(5, 60))
    picked = distinct_top_within_budget(
        rng.random(60), costs, sentences, budget=budget, random_state=seed
    )
    assert costs[picked].sum() <= budget
    assert len(set(picked.tolist())) == picked.size


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tokens": SENTENCES[:2]}, "tokens"),
        ({"tokens": "text"}, "tokens"),
        ({"tokens": [*SENTENCES[:3], 5]}, "tokens.3"),
        ({"max_overlap": 1.5}, "max_overlap"),
        ({"max_overlap": True}, "max_overlap"),
        ({"budget": 0}, "budget"),
        ({"costs": [1, 2]}, "costs"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, field: str) -> None:
    call = {
        "scores": [0.9, 0.8, 0.2, 0.1],
        "costs": [5, 6, 4, 3],
        "tokens": SENTENCES,
        "budget": 10,
        **kwargs,
    }
    with pytest.raises(ValidationError) as error:
        distinct_top_within_budget(
            call["scores"],
            call["costs"],
            call["tokens"],
            budget=call["budget"],
            **({"max_overlap": call["max_overlap"]} if "max_overlap" in call else {}),
        )
    assert error.value.field == field


def test_density_ranks_typical_sentences_above_odd_ones() -> None:
    pool = [*SENTENCES, ["big", "news", "in", "Oslo"], ["qwerty", "zxcv"]]
    density = sentence_density(pool)
    assert density.shape == (len(pool),)
    assert ((density >= 0) & (density <= 1)).all()
    # Sharing no word with any other sentence is the least typical a sentence can be.
    assert density[-1] == pytest.approx(density.min())
    assert density[0] > density[-1]
    # Case does not matter; the same words give the same density.
    again = sentence_density([[w.upper() for w in s] for s in pool])
    np.testing.assert_allclose(again, density)


@pytest.mark.parametrize(
    ("tokens", "field"), [([], "tokens"), ("text", "tokens"), ([["a"], 3], "tokens.1")]
)
def test_density_refuses_bad_sentences(tokens, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        sentence_density(tokens)
    assert error.value.field == field
