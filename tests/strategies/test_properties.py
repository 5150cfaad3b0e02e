"""Property tests: shapes, ranges, symmetries and ties, on generated probabilities."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labelloop import strategies

FAST = settings(max_examples=40, deadline=None)


@st.composite
def probabilities(draw, min_classes: int = 2) -> np.ndarray:
    n_samples = draw(st.integers(1, 25))
    n_classes = draw(st.integers(min_classes, 6))
    raw = draw(arrays(np.float64, (n_samples, n_classes), elements=st.floats(0, 1, width=32)))
    raw[raw.sum(axis=1) == 0] = 1.0
    return raw / raw.sum(axis=1, keepdims=True)


@st.composite
def committees(draw) -> np.ndarray:
    n_members = draw(st.integers(1, 4))
    first = draw(probabilities())
    members = [first]
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    for _ in range(n_members - 1):
        members.append(rng.dirichlet(np.full(first.shape[1], 0.5), size=first.shape[0]))
    return np.stack(members)


UPPER = {
    "least_confidence": lambda c: 1 - 1 / c,
    "margin": lambda c: 1.0,
    "ratio": lambda c: 1.0,
    "entropy": math.log,
}


@FAST
@given(probabilities(), st.sampled_from(sorted(UPPER)))
def test_shape_and_range(proba: np.ndarray, name: str) -> None:
    scores = getattr(strategies, name)(proba)
    assert scores.shape == (proba.shape[0],)
    assert (scores >= -1e-9).all()
    assert (scores <= UPPER[name](proba.shape[1]) + 1e-9).all()


@FAST
@given(probabilities(), st.sampled_from(sorted(UPPER)), st.integers(0, 2**32 - 1))
def test_row_permutation_equivariance(proba: np.ndarray, name: str, seed: int) -> None:
    score = getattr(strategies, name)
    order = np.random.default_rng(seed).permutation(proba.shape[0])
    np.testing.assert_allclose(score(proba[order]), score(proba)[order], atol=1e-12)


@FAST
@given(probabilities(), st.sampled_from(sorted(UPPER)), st.integers(0, 2**32 - 1))
def test_class_permutation_invariance(proba: np.ndarray, name: str, seed: int) -> None:
    score = getattr(strategies, name)
    order = np.random.default_rng(seed).permutation(proba.shape[1])
    np.testing.assert_allclose(score(proba[:, order]), score(proba), atol=1e-12)


@FAST
@given(st.integers(1, 20), st.integers(2, 8), st.sampled_from(sorted(UPPER)))
def test_uniform_rows_score_highest(n: int, n_classes: int, name: str) -> None:
    scores = getattr(strategies, name)(np.full((n, n_classes), 1 / n_classes))
    np.testing.assert_allclose(scores, UPPER[name](n_classes), atol=1e-12)


@FAST
@given(committees())
def test_committee_ranges(proba: np.ndarray) -> None:
    n_members, n_samples, n_classes = proba.shape
    votes = strategies.vote_entropy(proba)
    kl = strategies.kl_disagreement(proba)
    mutual = strategies.bald(proba)
    for scores in (votes, kl, mutual):
        assert scores.shape == (n_samples,)
        assert (scores >= 0).all()
    assert (votes <= math.log(min(n_members, n_classes)) + 1e-9).all()
    assert (mutual <= math.log(n_classes) + 1e-9).all()
    np.testing.assert_allclose(kl, mutual, atol=1e-9)


@FAST
@given(
    arrays(np.float64, st.integers(1, 40), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0])),
    st.data(),
)
def test_top_k_takes_a_highest_set_despite_ties(scores: np.ndarray, data) -> None:
    k = data.draw(st.integers(1, scores.size))
    picks = strategies.top_k(scores, k, random_state=data.draw(st.integers(0, 100)))
    assert np.unique(picks).size == k
    rest = np.setdiff1d(np.arange(scores.size), picks)
    if rest.size:
        assert scores[picks].min() >= scores[rest].max()
    assert (np.diff(scores[picks]) <= 0).all()
