"""simulate(): fair comparisons, the result's tables and plot, and auto's claim on digits."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelloop.exceptions import ValidationError
from labelloop.simulation import simulate


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def small_run(cancer):
    X, y = cancer
    calls = []
    result = simulate(
        make_pipeline(StandardScaler(), LogisticRegression()),
        X,
        y,
        strategy=["auto", "margin", "random"],
        initial=10,
        batch=10,
        budget=50,
        seeds=2,
        random_state=3,
        progress=lambda done, total, text: calls.append((done, total, text)),
    )
    return result, calls


def test_curves_are_a_tidy_table(small_run):
    result, _ = small_run
    assert result.strategies == ("auto", "margin", "random")
    assert result.seeds == (3, 4)
    assert len(result.curves) == 3 * 2 * 5
    assert set(result.curves[0]) == {"strategy", "seed", "n_labels", "score"}
    assert [r["n_labels"] for r in result.curves[:5]] == [10, 20, 30, 40, 50]


def test_every_strategy_starts_from_the_same_labels(small_run):
    result, _ = small_run
    for seed in result.seeds:
        first = {r["score"] for r in result.curves if r["seed"] == seed and r["n_labels"] == 10}
        assert len(first) == 1


def test_summary_numbers(small_run):
    result, _ = small_run
    assert set(result.aulc) == {"auto", "margin", "random"}
    assert all(0.5 < v <= 1 for v in result.aulc.values())
    assert 0.9 < result.full_score <= 1
    to_95 = result.labels_to(0.95)
    assert all(v is None or 10 <= v <= 50 for v in to_95.values())
    assert result.labels_to(1.5) == {"auto": None, "margin": None, "random": None}
    summary = result.summary()
    json.dumps(summary)
    assert summary["random"]["aulc_ratio"] == 1.0
    with pytest.raises(ValidationError):
        result.labels_to(0)


def test_progress_is_reported_for_every_round(small_run):
    _, calls = small_run
    assert [c[0] for c in calls] == list(range(1, 31))
    assert {c[1] for c in calls} == {30}
    assert "seed" in calls[0][2]


def test_csv_and_plot(small_run, tmp_path):
    result, _ = small_run
    path = result.to_csv(tmp_path / "curves.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and rows[0]["strategy"] == "auto"
    result.plot(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert result.to_frame().shape == (30, 4)


def test_fixed_test_set_seed_list_and_scorer(cancer):
    X, y = cancer
    result = simulate(
        make_pipeline(StandardScaler(), LogisticRegression()),
        X[:400],
        y[:400],
        X_test=X[400:],
        y_test=y[400:],
        strategy="margin",
        initial=0,
        batch=15,
        budget=45,
        seeds=[11, 5],
        scoring="f1_macro",
    )
    assert result.seeds == (11, 5)
    assert result.scoring == "f1_macro"
    assert [r["n_labels"] for r in result.curves[:3]] == [15, 30, 45]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"strategy": ["margin", "nope"]}, "strategy"),
        ({"scoring": "accuracyy"}, "scoring"),
        ({"budget": 5, "initial": 10}, "budget"),
        ({"seeds": 0}, "seeds"),
        ({"batch": 0}, "batch"),
        ({"test_size": 1.5}, "test_size"),
        ({"X_test": np.zeros((3, 30))}, "X_test"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"random_state": -1}, "random_state"),
        ({"random_state": "0"}, "random_state"),
        ({"seeds": [0, -1]}, "seeds"),
        ({"test_size": "0.25"}, "test_size"),
        ({"strategy": None}, "strategy"),
        ({"scoring": None}, "scoring"),
        ({"progress": "bar"}, "progress"),
    ],
)
def test_bad_arguments_name_their_field(kwargs, field, cancer):
    X, y = cancer
    with pytest.raises(ValidationError) as error:
        simulate(LogisticRegression(), X, y, **kwargs)
    assert error.value.field == field


def _labels_with_none(y: np.ndarray) -> list:
    return [None, *y[1:].tolist()]


@pytest.mark.parametrize(
    ("estimator", "data", "field"),
    [
        (
            LogisticRegression(),
            lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y),
            "X",
        ),
        (LogisticRegression(), lambda X, y: (X, _labels_with_none(y)), "y"),
        (
            LogisticRegression(),
            lambda X, y: (X, y.astype(np.float64) * np.r_[np.nan, np.ones(len(y) - 1)]),
            "y",
        ),
        (RidgeClassifier(), lambda X, y: (X, y), "estimator"),
    ],
    ids=["nan-features", "none-labels", "nan-labels", "no-predict-proba"],
)
def test_bad_library_input_is_a_validation_error(estimator, data, field, cancer):
    X, y = data(*cancer)
    with pytest.raises(ValidationError) as error:
        simulate(estimator, X, y, strategy="margin", initial=10, batch=10, budget=30, seeds=1)
    assert error.value.field == field


def test_none_labels_of_a_given_test_set_are_refused(cancer):
    X, y = cancer
    with pytest.raises(ValidationError) as error:
        simulate(
            LogisticRegression(),
            X[100:],
            y[100:],
            X_test=X[:100],
            y_test=_labels_with_none(y[:100]),
        )
    assert error.value.field == "y_test"


def test_single_class_is_refused(cancer):
    X, _ = cancer
    with pytest.raises(ValidationError) as error:
        simulate(LogisticRegression(), X, np.ones(len(X)))
    assert error.value.field == "y"


def test_auto_beats_random_on_digits_at_150_labels():
    X, y = load_digits(return_X_y=True)
    result = simulate(
        LogisticRegression(max_iter=500),
        X / 16.0,
        y,
        strategy=["auto", "random"],
        initial=10,
        batch=10,
        budget=150,
        seeds=4,
        random_state=0,
    )
    at_150 = {
        name: np.mean(
            [r["score"] for r in result.curves if r["strategy"] == name and r["n_labels"] == 150]
        )
        for name in ("auto", "random")
    }
    assert at_150["auto"] > at_150["random"]
    assert result.aulc["auto"] > result.aulc["random"]


def test_chunked_simulation_runs_the_same_rounds(cancer):
    X, y = cancer
    runs = {
        chunk_size: simulate(
            make_pipeline(StandardScaler(), LogisticRegression()),
            X,
            y,
            strategy=["auto", "margin"],
            initial=10,
            batch=10,
            budget=40,
            seeds=1,
            chunk_size=chunk_size,
        )
        for chunk_size in (None, len(y), 60)
    }
    # A chunk as large as the pool is the default; smaller ones still label batch by batch.
    assert runs[None].curves == runs[len(y)].curves
    assert [r["n_labels"] for r in runs[60].curves] == [r["n_labels"] for r in runs[None].curves]
