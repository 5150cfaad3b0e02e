"""Informativeness of whole sentences from a sequence model, and picks under a token budget.

A sequence labeller (a CRF, say) gives for each sentence the log-probability of its best
tag sequence, ``log_proba`` (n_sentences,), and each token's marginal tag probabilities,
``marginals`` (n_tokens_total, n_tags) for all sentences one after the other, with
``lengths`` (n_sentences,) tokens each. Every score is higher for "ask a human first":

- :func:`sequence_least_confidence`: ``1 - P(best sequence)``; favours long sentences,
  whose best sequence is always less likely.
- :func:`mnlp`: maximum normalised log-probability (Shen et al. 2017), as the negative
  ``-log P(best) / n_tokens``, so length no longer decides alone.
- :func:`token_entropy`: the entropy of each token's marginals, aggregated over the
  sentence by ``"mean"``, ``"max"`` or ``"sum"`` (the sum, like least confidence,
  grows with length).

Labelling cost is counted in tokens: :func:`top_within_budget` takes the best-scored
sentences while their tokens fit the budget, :func:`random_within_budget` does the same in
random order (the baseline at an equal number of tokens).
:func:`distinct_top_within_budget` is :func:`top_within_budget` that passes over a
sentence nearly the same as one already taken in the batch (a retweet, a template), since
the second copy teaches the model little for its full price in tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from labelloop.exceptions import ValidationError
from labelloop.strategies._validation import check_proba, check_random_state, check_scores
from labelloop.strategies.uncertainty import _score

__all__ = [
    "distinct_top_within_budget",
    "sentence_density",
    "mnlp",
    "random_within_budget",
    "sequence_least_confidence",
    "token_entropy",
    "top_within_budget",
]


def _check_log_proba(log_proba: ArrayLike) -> np.ndarray:
    checked = check_scores(log_proba, name="log_proba")
    if (checked > 1e-9).any():
        raise ValidationError("log_proba must be <= 0 (a log-probability)", field="log_proba")
    return np.minimum(checked, 0.0)


def _check_lengths(lengths: ArrayLike, n_sentences: int | None = None) -> np.ndarray:
    array = np.asarray(lengths)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValidationError(
            "lengths must be a non-empty 1-D array of integers (tokens per sentence)",
            field="lengths",
        )
    if (array < 1).any():
        first = int(np.flatnonzero(array < 1)[0])
        raise ValidationError(
            f"lengths[{first}] is {int(array[first])}: every sentence needs a token",
            field="lengths",
        )
    if n_sentences is not None and array.size != n_sentences:
        raise ValidationError(f"{array.size} lengths for {n_sentences} sentences", field="lengths")
    return array.astype(np.intp, copy=False)


def sequence_least_confidence(log_proba: ArrayLike) -> np.ndarray:
    """One minus the probability of each sentence's best tag sequence.

    Parameters
    ----------
    log_proba : array-like of shape (n_sentences,)
        Natural log of ``P(best sequence | sentence)``.

    Returns
    -------
    scores : ndarray of shape (n_sentences,), in [0, 1]

    Examples
    --------
    >>> sequence_least_confidence([0.0, np.log(0.25)])
    array([0.  , 0.75])
    """
    # 0.0 - x, not -x: a sure sentence scores 0.0 rather than -0.0.
    return 0.0 - np.expm1(_check_log_proba(log_proba))


def mnlp(log_proba: ArrayLike, lengths: ArrayLike) -> np.ndarray:
    """Negative length-normalised log-probability of the best sequence (Shen et al. 2017).

    Parameters
    ----------
    log_proba : array-like of shape (n_sentences,)
        Natural log of ``P(best sequence | sentence)``.
    lengths : array-like of int, shape (n_sentences,)
        Tokens per sentence, each at least 1.

    Returns
    -------
    scores : ndarray of shape (n_sentences,), >= 0

    Examples
    --------
    >>> mnlp([np.log(0.25), np.log(0.25)], [1, 2])
    array([1.38629436, 0.69314718])
    """
    checked = _check_log_proba(log_proba)
    sizes = _check_lengths(lengths, checked.shape[0])
    return -checked / sizes


def token_entropy(
    marginals: ArrayLike,
    lengths: ArrayLike,
    *,
    aggregate: Literal["mean", "max", "sum"] = "mean",
) -> np.ndarray:
    """Entropy of each token's tag marginals, aggregated over each sentence.

    Parameters
    ----------
    marginals : array-like of shape (n_tokens_total, n_tags)
        Each token's tag probabilities, sentences one after the other; rows sum to 1.
    lengths : array-like of int, shape (n_sentences,)
        Tokens per sentence; they add up to ``n_tokens_total``.
    aggregate : {"mean", "max", "sum"}, default="mean"

    Returns
    -------
    scores : ndarray of shape (n_sentences,)

    Examples
    --------
    >>> token_entropy([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]], [1, 2], aggregate="sum")
    array([0.        , 1.38629436])
    """
    if aggregate not in ("mean", "max", "sum"):
        raise ValidationError(
            f"aggregate must be 'mean', 'max' or 'sum', got {aggregate!r}", field="aggregate"
        )
    checked = check_proba(marginals, name="marginals")
    sizes = _check_lengths(lengths)
    if int(sizes.sum()) != checked.shape[0]:
        raise ValidationError(
            f"lengths add up to {int(sizes.sum())} tokens but marginals has "
            f"{checked.shape[0]} rows",
            field="lengths",
        )
    per_token = _score(checked, "entropy")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if aggregate == "max":
        return np.maximum.reduceat(per_token, starts)
    sums = np.add.reduceat(per_token, starts)
    return sums / sizes if aggregate == "mean" else sums


def _check_costs(costs: ArrayLike) -> np.ndarray:
    array = np.asarray(costs)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise ValidationError("costs must be a non-empty 1-D numeric array", field="costs")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValidationError("costs must be finite and >= 0", field="costs")
    return array


def _check_budget(budget: object) -> float:
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.number):
        raise ValidationError(f"budget must be a number, got {budget!r}", field="budget")
    if not budget > 0:
        raise ValidationError(f"budget must be > 0, got {budget}", field="budget")
    return float(budget)


def _fill(order: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    """Walk ``order`` and keep each item whose cost still fits; validation is assumed done."""
    picked = []
    spent = 0.0
    for index in order:
        cost = costs[index]
        if spent + cost <= budget:
            picked.append(index)
            spent += cost
            if spent >= budget:
                break
    return np.asarray(picked, dtype=np.intp)


def top_within_budget(
    scores: ArrayLike,
    costs: ArrayLike,
    *,
    budget: float,
    random_state: None | int | np.random.Generator = None,
) -> np.ndarray:
    """The highest-scored items whose costs (tokens, say) add up to at most ``budget``.

    Items are taken best first; one that would overrun the budget is skipped and the
    next ones are still tried, so the budget is filled as far as the pool allows.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
    costs : array-like of shape (n_samples,)
        Cost of labelling each item, >= 0.
    budget : float
        Total cost allowed, > 0.
    random_state : None, int or numpy.random.Generator, default=None
        Breaks exact ties at random.

    Returns
    -------
    indices : ndarray of int, best first (empty if no item fits)

    Examples
    --------
    >>> top_within_budget([0.9, 0.8, 0.1], [5, 3, 2], budget=7)
    array([0, 2])
    """
    checked = check_scores(scores)
    price = _check_costs(costs)
    if price.shape != checked.shape:
        raise ValidationError(f"{price.size} costs for {checked.size} scores", field="costs")
    limit = _check_budget(budget)
    rng = check_random_state(random_state)
    shuffled = rng.permutation(checked.shape[0])
    order = shuffled[np.argsort(-checked[shuffled], kind="stable")]
    return _fill(order, price, limit)


def random_within_budget(
    costs: ArrayLike,
    *,
    budget: float,
    random_state: None | int | np.random.Generator = None,
) -> np.ndarray:
    """Items in random order whose costs add up to at most ``budget`` (the baseline).

    Examples
    --------
    >>> int(np.asarray([5, 3, 2])[random_within_budget([5, 3, 2], budget=10)].sum())
    10
    """
    price = _check_costs(costs)
    limit = _check_budget(budget)
    return _fill(check_random_state(random_state).permutation(price.size), price, limit)


def _word_set(sentence: Any, i: int) -> frozenset[str]:
    if isinstance(sentence, str) or not isinstance(sentence, Sequence):
        raise ValidationError(
            f"tokens[{i}] must be a list of tokens (str or Token)", field=f"tokens.{i}"
        )
    return frozenset(str(getattr(t, "text", t)).lower() for t in sentence)


def distinct_top_within_budget(
    scores: ArrayLike,
    costs: ArrayLike,
    tokens: Sequence[Sequence[Any]],
    *,
    budget: float,
    max_overlap: float = 0.6,
    random_state: None | int | np.random.Generator = None,
) -> np.ndarray:
    """Like :func:`top_within_budget`, but without near-duplicates in one batch.

    Sentences are taken best first; one whose set of (lowercased) words overlaps a
    sentence already taken by more than ``max_overlap`` (Jaccard: shared words over all
    words of the two) is passed over. Only if the budget is not filled that way are the
    passed-over sentences taken, best first, so the batch spends what it may.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
    costs : array-like of shape (n_samples,)
        Cost of labelling each sentence (its tokens), >= 0.
    tokens : sequence of sentences
        Each sentence's tokens (str or :class:`~labelloop.ner.tokens.Token`).
    budget : float
        Total cost allowed, > 0.
    max_overlap : float in [0, 1], default=0.6
        The largest word overlap two sentences of one batch may have before the later
        one waits; 1 keeps every sentence (then this is :func:`top_within_budget`).
    random_state : None, int or numpy.random.Generator, default=None
        Breaks exact ties at random.

    Returns
    -------
    indices : ndarray of int, in the order taken

    Examples
    --------
    >>> distinct_top_within_budget(
    ...     [0.9, 0.8, 0.5], [3, 3, 3],
    ...     [["big", "news", "today"], ["BIG", "news", "today"], ["quiet", "day", "here"]],
    ...     budget=6,
    ... )
    array([0, 2])
    """
    checked = check_scores(scores)
    price = _check_costs(costs)
    if price.shape != checked.shape:
        raise ValidationError(f"{price.size} costs for {checked.size} scores", field="costs")
    if isinstance(tokens, str) or len(tokens) != checked.shape[0]:
        raise ValidationError(
            f"tokens must hold one sentence per score ({checked.shape[0]})", field="tokens"
        )
    if (
        isinstance(max_overlap, bool)
        or not isinstance(max_overlap, int | float)
        or not (0.0 <= max_overlap <= 1.0)
    ):
        raise ValidationError(
            f"max_overlap must be a number in [0, 1], got {max_overlap!r}", field="max_overlap"
        )
    limit = _check_budget(budget)
    word_sets = [_word_set(sentence, i) for i, sentence in enumerate(tokens)]
    rng = check_random_state(random_state)
    shuffled = rng.permutation(checked.shape[0])
    order = shuffled[np.argsort(-checked[shuffled], kind="stable")]
    picked: list[int] = []
    taken: list[frozenset[str]] = []
    waiting: list[int] = []
    spent = 0.0
    for index in order:
        if spent >= limit:
            break
        cost = price[index]
        if spent + cost > limit:
            continue
        words = word_sets[index]
        if any(len(words & other) > max_overlap * len(words | other) for other in taken):
            waiting.append(int(index))
            continue
        picked.append(int(index))
        taken.append(words)
        spent += cost
    for index in waiting:
        if spent >= limit:
            break
        if spent + price[index] <= limit:
            picked.append(index)
            spent += price[index]
    return np.asarray(picked, dtype=np.intp)


def sentence_density(tokens: Sequence[Sequence[Any]]) -> np.ndarray:
    """How typical each sentence is of the others: mean cosine similarity of TF-IDF words.

    Information density (Settles and Craven 2008): multiplied into an uncertainty score
    (``score * density ** beta``) it keeps a pick away from odd sentences that are
    uncertain because nothing else looks like them. Words are lowercased; each value is
    in [0, 1].

    Examples
    --------
    >>> d = sentence_density([["big", "news"], ["big", "news", "today"], ["zzz"]])
    >>> bool(d[0] > d[2])
    True
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not tokens:
        raise ValidationError("tokens must be a non-empty list of sentences", field="tokens")
    words = [sorted(_word_set(sentence, i)) for i, sentence in enumerate(tokens)]
    vectorizer = TfidfVectorizer(analyzer=lambda x: x, sublinear_tf=True)
    matrix = vectorizer.fit_transform(words)  # rows L2-normalised
    mean = np.asarray(matrix.mean(axis=0)).ravel()
    return np.clip(matrix @ mean, 0.0, 1.0)
