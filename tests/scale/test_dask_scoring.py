"""Scoring on a real Dask LocalCluster equals the one-process chunked selection."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from _dying_estimators import DiesOnce
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from labelloop.exceptions import ValidationError
from labelloop.selection import select_batch, select_chunked
from labelloop.selection._named import UNCERTAINTY

distributed = pytest.importorskip("distributed")

from labelloop.scale import (  # noqa: E402
    DASK_ENV,
    dask_address,
    dask_client,
    select_on_dask,
)

STRATEGIES = ["margin", "entropy", "auto", "k_center", "cluster_margin", "badge", "random"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as connected:
        yield connected


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=900, n_features=8, n_informative=5, n_classes=3, random_state=3
    )
    labelled = np.concatenate([np.flatnonzero(y == c)[:5] for c in range(3)])
    pool = np.setdiff1d(np.arange(len(y)), labelled)
    model = LogisticRegression(max_iter=500).fit(X[labelled], y[labelled])
    return X[labelled], y[labelled], X[pool], model


def partitions(X_pool, size, *, sparse=False):
    rows = sp.csr_matrix(X_pool) if sparse else X_pool
    return [
        (np.arange(start, min(start + size, X_pool.shape[0])) + 10_000, rows[start : start + size])
        for start in range(0, X_pool.shape[0], size)
    ]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("sparse", [False, True])
def test_the_batch_equals_the_one_process_chunked_batch(client, data, strategy, sparse):
    X_lab, y_lab, X_pool, model = data
    parts = partitions(X_pool, 200, sparse=sparse)
    one = select_chunked(strategy, model, X_lab, y_lab, parts, 12, random_state=5)
    many = select_on_dask(client, strategy, model, X_lab, y_lab, parts, 12, random_state=5)
    assert many.batch_ids.tolist() == one.batch_ids.tolist()
    assert many.reasons == one.reasons
    assert (many.strategy, many.state) == (one.strategy, one.state)
    assert many.n_pool == X_pool.shape[0] and many.n_partitions == len(parts)
    # Candidates only: k per partition at most, never a score per row.
    assert many.candidate_ids.size <= 12 * len(parts) < X_pool.shape[0]
    assert set(many.batch_ids.tolist()) <= set(many.candidate_ids.tolist())
    expected, _ = np.histogram(np.clip(one.scores, 0, 1), bins=np.linspace(0, 1, 21))
    assert many.histogram.tolist() == expected.tolist()
    assert many.max_informativeness == pytest.approx(one.scores.max())


def test_exact_ties_are_broken_as_in_one_process(client, data):
    X_lab, y_lab, X_pool, model = data
    tied = np.repeat(X_pool[:60], 10, axis=0)  # every row ten times: scores tie exactly
    parts = partitions(tied, 150)
    for seed in (0, 1, 2):
        one = select_chunked("margin", model, X_lab, y_lab, parts, 15, random_state=seed)
        many = select_on_dask(client, "margin", model, X_lab, y_lab, parts, 15, random_state=seed)
        assert many.batch_ids.tolist() == one.batch_ids.tolist()


@pytest.mark.parametrize("strategy", UNCERTAINTY)
def test_uncertainty_strategies_are_exact_against_the_whole_pool(client, data, strategy):
    X_lab, y_lab, X_pool, model = data
    whole = select_batch(strategy, model, X_lab, y_lab, X_pool, 20, random_state=0)
    many = select_on_dask(
        client, strategy, model, X_lab, y_lab, partitions(X_pool, 100), 20, random_state=0
    )
    assert (many.batch_ids - 10_000).tolist() == np.asarray(whole.indices).tolist()


def test_a_committee_strategy_is_exact_against_the_whole_pool(client, data):
    X_lab, y_lab, X_pool, _ = data
    forest = RandomForestClassifier(n_estimators=7, random_state=0).fit(X_lab, y_lab)
    whole = select_batch("vote_entropy", forest, X_lab, y_lab, X_pool, 10, random_state=0)
    many = select_on_dask(
        client, "vote_entropy", forest, X_lab, y_lab, partitions(X_pool, 100), 10,
        random_state=0,
    )  # fmt: skip
    # Votes tie often: the picked scores are the whole pool's best, ties broken per partition.
    score_of = dict(zip(many.candidate_ids.tolist(), many.candidate_scores, strict=True))
    picked = sorted(score_of[i] for i in many.batch_ids.tolist())
    assert picked == pytest.approx(sorted(whole.scores[whole.indices]))


def test_auto_carries_its_state_from_round_to_round(client, data):
    X_lab, y_lab, X_pool, model = data
    parts = partitions(X_pool, 300)
    first = select_chunked("auto", model, X_lab, y_lab, parts, 10, random_state=1)
    one = select_chunked("auto", model, X_lab, y_lab, parts, 10, state=first.state, random_state=2)
    many = select_on_dask(
        client, "auto", model, X_lab, y_lab, parts, 10, state=first.state, random_state=2
    )
    assert many.batch_ids.tolist() == one.batch_ids.tolist()
    assert many.state == one.state


def _probabilities_and_margin(model):
    def measure(X):
        proba = model.predict_proba(X)
        top = np.sort(proba, axis=1)
        return proba, 1 - (top[:, -1] - top[:, -2])

    return measure


def test_measure_gives_the_candidates_probabilities_and_the_histogram(client, data):
    X_lab, y_lab, X_pool, model = data
    parts = partitions(X_pool, 250)
    measure = _probabilities_and_margin(model)
    many = select_on_dask(
        client, "entropy", model, X_lab, y_lab, parts, 8, random_state=0, measure=measure,
        edges=np.linspace(0, 1, 11),
    )  # fmt: skip
    _, everything = measure(X_pool)
    assert many.histogram.sum() == X_pool.shape[0] and many.histogram.size == 10
    assert many.max_informativeness == pytest.approx(everything.max())
    rows = many.candidate_ids - 10_000
    np.testing.assert_allclose(many.candidate_proba, model.predict_proba(X_pool[rows]))
    np.testing.assert_allclose(many.candidate_informativeness, everything[rows])


def _load_saved(path):
    flaky = Path(f"{path}.failed-once")
    if not flaky.exists() and path.endswith("1.npy"):
        flaky.touch()
        raise RuntimeError(f"{path}: the disk was busy")
    rows = np.load(path)
    start = 10_000 + 250 * int(path[-5])
    return np.arange(start, start + rows.shape[0]), rows


def test_a_failing_partition_is_retried_alone(client, data, tmp_path):
    X_lab, y_lab, X_pool, model = data
    paths = []
    for i, (_, rows) in enumerate(partitions(X_pool, 250)):
        paths.append(str(tmp_path / f"part-{i}.npy"))
        np.save(paths[-1], rows)
    one = select_chunked("margin", model, X_lab, y_lab, partitions(X_pool, 250), 9, random_state=4)
    seen = []
    many = select_on_dask(
        client, "margin", model, X_lab, y_lab, paths, 9, random_state=4, load=_load_saved,
        retries=1, on_partition=lambda result: seen.append(result.index),
    )  # fmt: skip
    assert (tmp_path / "part-1.npy.failed-once").exists()  # partition 1 failed, then ran again
    assert sorted(seen) == list(range(len(paths)))  # every partition came back once
    assert many.batch_ids.tolist() == one.batch_ids.tolist()
    (tmp_path / "part-1.npy.failed-once").unlink()
    with pytest.raises(RuntimeError, match="the disk was busy"):
        select_on_dask(
            client, "margin", model, X_lab, y_lab, paths, 9, random_state=4, load=_load_saved,
            retries=0,
        )  # fmt: skip


@pytest.mark.slow
def test_work_resumes_after_a_worker_dies(data, tmp_path):
    X_lab, y_lab, X_pool, model = data
    parts = partitions(X_pool, 150)
    one = select_chunked("margin", model, X_lab, y_lab, parts, 10, random_state=0)
    dying = DiesOnce(max_iter=500).fit(X_lab, y_lab)
    dying.marker_ = str(tmp_path / "died")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        distributed.Client(local, set_as_default=False) as connected,
    ):
        many = select_on_dask(
            connected, "margin", dying, X_lab, y_lab, parts, 10, random_state=0, retries=0
        )
    assert (tmp_path / "died").exists()  # a worker process was killed mid-run ...
    assert many.batch_ids.tolist() == one.batch_ids.tolist()  # ... and nothing was lost
    assert many.n_pool == X_pool.shape[0]


def test_a_generator_cannot_be_shared_between_workers(client, data):
    X_lab, y_lab, X_pool, model = data
    with pytest.raises(ValidationError) as caught:
        select_on_dask(
            client, "margin", model, X_lab, y_lab, partitions(X_pool, 300), 5,
            random_state=np.random.default_rng(0),
        )  # fmt: skip
    assert caught.value.field == "random_state"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"edges": [1, 0]}, "edges"),
        ({"retries": -1}, "retries"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"load": "not callable"}, "load"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(client, data, kwargs, field):
    X_lab, y_lab, X_pool, model = data
    with pytest.raises(ValidationError) as caught:
        select_on_dask(client, "margin", model, X_lab, y_lab, [], 5, **kwargs)
    assert caught.value.field == field


def test_a_partition_with_mismatched_ids_names_itself(client, data):
    X_lab, y_lab, X_pool, model = data
    with pytest.raises(ValidationError, match="partition 0 has 3 item ids for 10 rows"):
        select_on_dask(client, "margin", model, X_lab, y_lab, [([1, 2, 3], X_pool[:10])], 2)


def test_an_empty_pool_gives_an_empty_batch(client, data):
    X_lab, y_lab, _, model = data
    many = select_on_dask(client, "auto", model, X_lab, y_lab, [], 5, state={"a": 1})
    assert many.batch_ids.size == 0 and many.n_pool == 0 and many.state == {"a": 1}


def test_no_scheduler_at_the_address_is_a_clear_error():
    with (
        pytest.raises(ValidationError, match="no Dask scheduler answered at") as caught,
        dask_client("tcp://127.0.0.1:9", timeout=1),
    ):
        pass
    assert caught.value.field == "dask"


def test_the_address_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(DASK_ENV, raising=False)
    assert dask_address() is None
    monkeypatch.setenv(DASK_ENV, "tcp://10.1.2.3:8786")
    assert dask_address() == "tcp://10.1.2.3:8786"
    assert dask_address("tcp://other:8786") == "tcp://other:8786"
    monkeypatch.setenv(DASK_ENV, "")
    assert dask_address() is None
    assert os.environ[DASK_ENV] == ""
