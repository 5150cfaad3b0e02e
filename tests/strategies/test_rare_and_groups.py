"""Rare-class expansion and group quotas: the rules, on small pools built to show them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from labelloop.exceptions import ValidationError
from labelloop.selection import select_batch
from labelloop.strategies.groups import group_quotas
from labelloop.strategies.rare import feature_relevance, rare_class_labels, rare_neighbours


def test_rare_classes_are_few_among_labels_or_unlabelled() -> None:
    y = ["a"] * 10 + ["b"] * 9 + ["c"]
    assert rare_class_labels(y, ["a", "b", "c", "d"]) == ["c", "d"]


def test_a_class_rare_in_the_pool_predictions_is_rare() -> None:
    y = [0] * 5 + [1] * 5
    proba = np.tile([0.98, 0.02], (50, 1))
    assert rare_class_labels(y, [0, 1], pool_proba=proba) == [1]
    assert rare_class_labels(y, [0, 1]) == []


def test_rare_share_checked() -> None:
    with pytest.raises(ValidationError) as raised:
        rare_class_labels([0, 1], [0, 1], share=0)
    assert raised.value.field == "share"


@pytest.mark.parametrize("sparse", [False, True])
def test_neighbours_are_the_nearest_pool_items_of_each_example(sparse) -> None:
    pool = np.array([[0.0, 0], [0.1, 0], [5, 5], [5.1, 5], [9, 9], [20, 20]])
    examples = np.array([[0.05, 0], [5.05, 5]])
    if sparse:
        pool, examples = sp.csr_matrix(pool), sp.csr_matrix(examples)
    indices, distances = rare_neighbours(pool, examples, n_neighbors=2)
    assert indices.tolist() == [0, 1, 2, 3]
    assert np.all(distances < 0.1)


def test_neighbours_of_no_example_are_none() -> None:
    indices, _ = rare_neighbours(np.zeros((3, 2)), np.zeros((0, 2)))
    assert indices.size == 0


def test_weights_let_the_dimensions_the_model_uses_decide_who_is_near() -> None:
    # Column 0 separates the examples; column 1 is wide noise that decides raw distances.
    pool = np.array([[0.0, 30.0], [0.2, -25.0], [5.0, 0.5], [5.2, -0.5]])
    example = np.array([[0.1, 0.0]])
    unweighted, _ = rare_neighbours(pool, example, n_neighbors=2)
    assert unweighted.tolist() == [2, 3]
    weighted, distances = rare_neighbours(pool, example, n_neighbors=2, weights=[1.0, 0.0])
    assert weighted.tolist() == [0, 1]
    assert np.allclose(distances, [0.1, 0.1])
    sparse, _ = rare_neighbours(
        sp.csr_matrix(pool), sp.csr_matrix(example), n_neighbors=2, weights=[1.0, 0.0]
    )
    assert sparse.tolist() == [0, 1]


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [1.0, np.nan]])
def test_bad_weights_refused(weights) -> None:
    with pytest.raises(ValidationError) as raised:
        rare_neighbours(np.zeros((3, 2)), np.zeros((1, 2)), weights=weights)
    assert raised.value.field == "weights"


def test_feature_relevance_reads_coefficients_importances_or_nothing() -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = np.column_stack([np.repeat([0.0, 3.0], 50), rng.normal(0, 1, 100)])
    X[:, 0] += rng.normal(0, 0.3, 100)
    y = np.repeat([0, 1], 50)
    linear = feature_relevance(LogisticRegression().fit(X, y), 2)
    assert linear is not None and linear[0] > 5 * linear[1]
    piped = feature_relevance(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), 2)
    assert piped is not None and piped[0] > piped[1]
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    assert np.allclose(feature_relevance(forest, 2), forest.feature_importances_)
    assert feature_relevance(DummyClassifier().fit(X, y), 2) is None
    assert feature_relevance(LogisticRegression().fit(X, y), 3) is None  # another space
    assert feature_relevance(None, 2) is None

    class OwnEmbedding(LogisticRegression):
        def embed(self, X):
            return np.asarray(X)[:, :1]

    assert feature_relevance(OwnEmbedding().fit(X, y), 2) is None  # not the embedding's space


def test_rare_mode_looks_past_columns_the_model_ignores() -> None:
    X, y, labelled, pool = _rare_pool()
    # A wide noise column: raw distances are mostly noise, the model's weight on it small.
    noise = np.random.default_rng(1).normal(0, 40, (y.size, 1))
    X = np.hstack([X, noise])
    near = _rare_picks(X, y, labelled, pool)
    assert len(near) == 5
    assert set(y[pool[near]]) == {2}


def _rare_picks(X, y, labelled, pool) -> list[int]:
    """The pool positions auto's rare mode picks near rare examples in a batch of 10."""
    model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    picked = select_batch(
        "auto", model, X[labelled], y[labelled], X[pool], 10,
        classes=[0, 1, 2], random_state=0, rare_classes="on",
    )  # fmt: skip
    return [
        i for i, why in zip(picked.indices, picked.reasons, strict=True) if "near a rare" in why
    ]


def _rare_pool(seed: int = 0):
    """Two common classes in two blobs, a rare class in a far third blob."""
    rng = np.random.default_rng(seed)
    common = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal((6, 0), 1, (300, 2))])
    rare = rng.normal((3, 12), 0.3, (8, 2))
    X = np.vstack([common, rare])
    y = np.array([0] * 300 + [1] * 300 + [2] * 8)
    labelled = np.concatenate([rng.choice(600, size=40, replace=False), [600]])
    pool = np.setdiff1d(np.arange(y.size), labelled)
    return X, y, labelled, pool


def test_rare_mode_picks_neighbours_of_the_rare_examples_and_says_so() -> None:
    X, y, labelled, pool = _rare_pool()
    model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    near = _rare_picks(X, y, labelled, pool)
    assert len(near) == 5  # half of the batch
    assert set(y[pool[near]]) == {2}
    off = select_batch(
        "auto", model, X[labelled], y[labelled], X[pool], 10, classes=[0, 1, 2], random_state=0
    )
    assert not any("near a rare" in why for why in off.reasons)


def test_rare_mode_hands_the_batch_back_when_neighbours_stop_yielding() -> None:
    X, y, labelled, pool = _rare_pool()
    model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    first = select_batch(
        "auto", model, X[labelled], y[labelled], X[pool], 10,
        classes=[0, 1, 2], random_state=0, rare_classes="on",
    )  # fmt: skip
    # Pretend every rare pick came back a common class: the next batch holds one.
    picked = pool[first.indices]
    labelled2 = np.concatenate([labelled, picked])
    y2 = y.copy()
    y2[picked] = 0
    pool2 = np.setdiff1d(pool, picked)
    model2 = LogisticRegression(max_iter=500).fit(X[labelled2], y2[labelled2])
    second = select_batch(
        "auto", model2, X[labelled2], y2[labelled2], X[pool2], 10,
        classes=[0, 1, 2], random_state=0, rare_classes="on", state=first.state,
    )  # fmt: skip
    assert sum("near a rare" in why for why in second.reasons) == 1


def test_quotas_minmax_go_to_the_worst_group() -> None:
    quotas = group_quotas(
        ["a"] * 5 + ["b"] * 5, ["a", "b"], 4, mode="minmax", group_scores={"a": 0.9, "b": 0.7}
    )
    assert quotas == {"b": 4}


def test_quotas_balance_even_the_labels() -> None:
    quotas = group_quotas(["a"] * 5 + ["b"] * 5 + [None], ["a"] * 4, 6, mode="balance")
    assert quotas == {"b": 5, "a": 1}


def test_quotas_capped_by_the_group_in_the_pool() -> None:
    assert group_quotas(["a", "b"], [], 5, mode="minmax", group_scores={"b": 0.1}) == {"b": 1}


def test_minmax_draws_more_from_the_worst_group() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    groups = np.where(np.arange(400) % 4 == 0, "small", "large")
    labelled = np.arange(40)
    pool = np.arange(40, 400)
    model = LogisticRegression().fit(X[labelled], y[labelled])

    def drawn(mode: str) -> int:
        picked = select_batch(
            "auto", model, X[labelled], y[labelled], X[pool], 20, random_state=0,
            group_sampling=mode, pool_groups=groups[pool].tolist(),
            labelled_groups=groups[labelled].tolist(),
            group_scores={"small": 0.6, "large": 0.9},
        )  # fmt: skip
        return int(np.sum(groups[pool[picked.indices]] == "small"))

    assert drawn("minmax") >= 10 > drawn("off")


def test_minmax_without_scores_and_bad_groups_refused() -> None:
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.array([0, 1] * 5)
    model = LogisticRegression().fit(X[:10], y)
    with pytest.raises(ValidationError) as raised:
        select_batch("auto", model, X[:10], y, X[10:], 2, group_sampling="minmax",
                     pool_groups=["a"] * 10)  # fmt: skip
    assert raised.value.field == "group_scores"
    with pytest.raises(ValidationError) as raised:
        select_batch("auto", model, X[:10], y, X[10:], 2, group_sampling="balance",
                     pool_groups=["a"] * 3)  # fmt: skip
    assert raised.value.field == "pool_groups"
    with pytest.raises(ValidationError) as raised:
        select_batch("auto", model, X[:10], y, X[10:], 2, rare_classes="yes")
    assert raised.value.field == "rare_classes"


def test_chunked_selection_reads_groups_by_item_id() -> None:
    from labelloop.selection import pool_chunks, select_chunked

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X[:40], y[:40])
    groups = {i: ("small" if i % 5 == 0 else "large") for i in range(300)}
    picked = select_chunked(
        "auto", model, X[:40], y[:40], pool_chunks(X, chunk_size=100), 10, random_state=0,
        group_sampling="minmax", pool_groups=groups, labelled_groups=[groups[i] for i in range(40)],
        group_scores={"small": 0.5, "large": 0.95},
    )  # fmt: skip
    assert sum(groups[int(i)] == "small" for i in picked.batch_ids) >= 5
    with pytest.raises(ValidationError) as raised:
        select_chunked("auto", model, X[:40], y[:40], pool_chunks(X), 2, pool_groups=["a"])
    assert raised.value.field == "pool_groups"
