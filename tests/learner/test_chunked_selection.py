"""select_chunked: each chunk of the pool proposes a batch, the proposals compete."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from labelloop.exceptions import ValidationError
from labelloop.selection import (
    ChunkProposal,
    pool_chunks,
    select_batch,
    select_chunked,
)

STRATEGIES = ["auto", "random", "margin", "k_center", "cluster_margin", "badge"]


def _labelled(digits, n=60):
    X, y = digits
    labelled = np.arange(n)
    model = LogisticRegression(max_iter=300).fit(X[labelled], y[labelled])
    return model, X[labelled], y[labelled], X[n:]


def _db_chunks(X, size, first_id=1000):
    """(item ids, rows) pages as a database would give them: ids that are not positions."""
    for start in range(0, X.shape[0], size):
        rows = X[start : start + size]
        yield list(range(first_id + start, first_id + start + rows.shape[0])), rows


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_one_chunk_is_select_batch_on_the_whole_pool(strategy, digits):
    model, X_lab, y_lab, X_pool = _labelled(digits)
    whole = select_batch(strategy, model, X_lab, y_lab, X_pool, 10, random_state=4)
    chunked = select_chunked(
        strategy, model, X_lab, y_lab, pool_chunks(X_pool), 10, random_state=4
    ).to_selection()
    np.testing.assert_array_equal(chunked.indices, whole.indices)
    np.testing.assert_array_equal(chunked.scores, whole.scores)
    assert chunked.reasons == whole.reasons
    assert chunked.strategy == whole.strategy
    assert json.dumps(chunked.state) == json.dumps(whole.state)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_proposals_of_the_chunks_compete(strategy, digits):
    model, X_lab, y_lab, X_pool = _labelled(digits)
    proposals: list[ChunkProposal] = []
    picked = select_chunked(
        strategy,
        model,
        X_lab,
        y_lab,
        _db_chunks(X_pool, 150),
        10,
        random_state=4,
        on_chunk=proposals.append,
    )
    assert [len(p.item_ids) for p in proposals] == [150, 150, 150, X_pool.shape[0] - 450]
    # An int seed starts afresh in every chunk: a chunk's proposal is its own selection.
    for number, proposal in enumerate(proposals):
        alone = select_batch(
            strategy, model, X_lab, y_lab, X_pool[number * 150 : (number + 1) * 150], 10,
            random_state=4,
        )  # fmt: skip
        np.testing.assert_array_equal(proposal.proposed_ids, 1000 + number * 150 + alone.indices)
        np.testing.assert_array_equal(proposal.scores, alone.scores)
    candidates = np.concatenate([p.proposed_ids for p in proposals])
    rows = np.vstack([X_pool[p.proposed_ids - 1000] for p in proposals])
    final = select_batch(strategy, model, X_lab, y_lab, rows, 10, random_state=4)
    np.testing.assert_array_equal(picked.batch_ids, candidates[final.indices])
    assert picked.reasons == final.reasons
    assert picked.strategy == final.strategy
    assert json.dumps(picked.state) == json.dumps(final.state)
    np.testing.assert_array_equal(picked.item_ids, np.arange(1000, 1000 + X_pool.shape[0]))
    np.testing.assert_array_equal(picked.scores, np.concatenate([p.scores for p in proposals]))


def test_each_chunk_is_seen_before_the_next_is_read(digits):
    model, X_lab, y_lab, X_pool = _labelled(digits)
    events: list[str] = []

    def chunks():
        for number, chunk in enumerate(_db_chunks(X_pool, 200)):
            events.append(f"read {number}")
            yield chunk

    def seen(proposal: ChunkProposal) -> None:
        events.append(f"scored {int(proposal.item_ids[0] - 1000) // 200}")

    select_chunked("margin", model, X_lab, y_lab, chunks(), 5, random_state=0, on_chunk=seen)
    assert events == ["read 0", "scored 0", "read 1", "scored 1", "read 2", "scored 2"]


def test_chunks_smaller_than_k_propose_all_their_items(digits):
    model, X_lab, y_lab, X_pool = _labelled(digits)
    picked = select_chunked(
        "margin", model, X_lab, y_lab, _db_chunks(X_pool[:25], 4), 20, random_state=0
    )
    assert picked.batch_ids.shape == (20,)
    assert len(set(picked.batch_ids.tolist())) == 20
    small = select_chunked("margin", model, X_lab, y_lab, _db_chunks(X_pool[:3], 2), 20)
    assert sorted(small.batch_ids.tolist()) == [1000, 1001, 1002]


def test_sparse_chunks(texts):
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs, y = texts
    X = TfidfVectorizer().fit_transform(docs)
    model = LogisticRegression().fit(X[:40], y[:40])
    for strategy in ("auto", "k_center", "margin"):
        proposals: list[ChunkProposal] = []
        picked = select_chunked(
            strategy, model, X[:40], y[:40], _db_chunks(X[40:], 70), 8, random_state=0,
            on_chunk=proposals.append,
        )  # fmt: skip
        assert picked.batch_ids.shape == (8,)
        assert set(picked.batch_ids) <= set(np.concatenate([p.proposed_ids for p in proposals]))
        assert picked.scores.shape == (X.shape[0] - 40,)
        assert all(sp.issparse(p.X) for p in proposals)


def test_an_empty_pool_gives_an_empty_batch_and_keeps_the_state(digits):
    model, X_lab, y_lab, _ = _labelled(digits)
    state = {"strategy": "auto", "version": 1}
    picked = select_chunked("auto", model, X_lab, y_lab, iter(()), 5, state=state)
    assert picked.batch_ids.size == 0 and picked.item_ids.size == 0 and picked.scores.size == 0
    assert picked.reasons == [] and picked.strategy == "auto" and picked.state == state


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"strategy": "uncertain"}, "strategy"),
        ({"k": 0}, "k"),
        ({"k": 2.5}, "k"),
        ({"state": [1]}, "state"),
        ({"random_state": -1}, "random_state"),
        ({"chunks": [([1, 2], np.zeros((3, 64)))]}, "chunks"),
        ({"chunks": [([1], np.zeros(64))]}, "X_pool"),
        ({"on_chunk": "write"}, "on_chunk"),
        ({"chunks": 5}, "chunks"),
        ({"chunks": [np.zeros((3, 64))]}, "chunks"),
    ],
)
def test_bad_arguments_name_their_field_before_any_chunk_is_seen(kwargs, field, digits):
    model, X_lab, y_lab, X_pool = _labelled(digits)
    seen: list[ChunkProposal] = []
    arguments = {
        "strategy": "margin",
        "estimator": model,
        "X_labelled": X_lab,
        "y_labelled": y_lab,
        "chunks": _db_chunks(X_pool, 400),
        "k": 3,
        "on_chunk": seen.append,
    }
    arguments.update(kwargs)
    with pytest.raises(ValidationError) as error:
        select_chunked(**arguments)
    assert error.value.field == field
    assert seen == []


@pytest.mark.parametrize("chunk_size", [0, -5, 2.0, True])
def test_pool_chunks_refuses_a_bad_chunk_size(chunk_size):
    with pytest.raises(ValidationError) as error:
        pool_chunks(np.zeros((5, 2)), chunk_size=chunk_size)
    assert error.value.field == "chunk_size"


def test_pool_chunks_cover_the_pool_in_order():
    X = np.arange(14.0).reshape(7, 2)
    chunks = list(pool_chunks(X, chunk_size=3))
    assert [ids.tolist() for ids, _ in chunks] == [[0, 1, 2], [3, 4, 5], [6]]
    np.testing.assert_array_equal(np.vstack([rows for _, rows in chunks]), X)
    (ids, rows), *rest = list(pool_chunks(X))
    assert rest == [] and rows is X and ids.tolist() == list(range(7))
