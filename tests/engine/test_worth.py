"""What labelling is worth: the rounds' random curves, the forecast, the savings, the settings."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from labelloop.engine.annotate import record_annotation
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.engine.rounds import list_rounds, project_worth, train
from labelloop.engine.rounds.worth import (
    MAX_RANDOM_CURVE_ITEMS,
    MIN_RANDOM_CURVE_ITEMS,
    random_sampling_curve,
)
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.tables import ItemRow

ACTOR = "cli:tester"
POSITIVE = ["good", "great", "excellent", "lovely", "superb", "fine"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "dull", "horrid"]


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def _noisy_project(db, *, target: float | None = 0.99, flip: float = 0.25) -> dict[str, str]:
    """Reviews whose words say their label, a quarter of labels flipped: a ceiling near 0.75."""
    settings = {"batch_size": 20, "eval_share": 0.3, "eval_min": 0, "eval_min_labels": 30}
    if target is not None:
        settings["target_score"] = target
    create_project(
        db, actor=ACTOR, name="noisy", task_type="classification", labels=["pos", "neg"],
        settings=settings,
    )  # fmt: skip
    rng = random.Random(0)
    records, truth = [], {}
    for i in range(300):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(POSITIVE if label == "pos" else NEGATIVE, k=2)
        words += rng.choices(POSITIVE + NEGATIVE, k=3) + [f"w{i}"]
        records.append({"id": f"r{i}", "text": " ".join(words)})
        if rng.random() < flip:
            label = "neg" if label == "pos" else "pos"
        truth[f"r{i}"] = label
    import_items(db, actor=ACTOR, project="noisy", records=records)
    return truth


def _items(db, *, is_eval: bool) -> list[str]:
    with db.read() as session:
        return list(
            session.execute(
                select(ItemRow.external_id).where(ItemRow.is_eval.is_(is_eval)).order_by(ItemRow.id)
            ).scalars()
        )


def _label(db, truth: dict[str, str], ids: list[str]) -> None:
    for external_id in ids:
        record_annotation(
            db, actor=ACTOR, project="noisy", external_id=external_id, label=truth[external_id]
        )


def _rounds(db, truth: dict[str, str], *, n_rounds: int, step: int = 25) -> None:
    _label(db, truth, _items(db, is_eval=True))
    pool = _items(db, is_eval=False)
    for k in range(n_rounds):
        _label(db, truth, pool[k * step : (k + 1) * step])
        train(db, actor=ACTOR, project="noisy")


def test_every_fitted_round_records_random_samplings_curve(db) -> None:
    truth = _noisy_project(db)
    _rounds(db, truth, n_rounds=1)
    (entry,) = list_rounds(db, "noisy")
    curve = entry.metrics["random_curve"]
    assert len(curve["n_labels"]) == len(curve["macro_f1"]) == len(curve["accuracy"]) >= 4
    assert curve["n_labels"] == sorted(curve["n_labels"])
    assert max(curve["n_labels"]) < entry.metrics["n_eval_labelled"]
    worth = project_worth(db, "noisy")
    stored = worth.savings
    assert len(_items(db, is_eval=True)) >= MIN_RANDOM_CURVE_ITEMS
    assert stored is not None and stored.n_labels == 25
    assert stored.metric == "macro-F1"


def test_a_young_project_says_what_the_forecast_still_needs(db) -> None:
    _noisy_project(db)
    worth = project_worth(db, "noisy")
    assert worth.forecast is None and worth.at_double is None and worth.band == ()
    assert worth.curve == ()
    assert any("the forecast needs 4 rounds" in note for note in worth.notes)
    assert any("savings against random sampling need" in note for note in worth.notes)
    assert worth.sentences == worth.notes


def test_a_target_above_the_curves_ceiling_is_not_reachable(db) -> None:
    truth = _noisy_project(db, target=0.99)
    _rounds(db, truth, n_rounds=4)
    worth = project_worth(db, "noisy")
    assert [n for n, _ in worth.curve] == [25, 50, 75, 100]
    assert worth.forecast is not None and not worth.forecast.reachable
    assert worth.forecast.labels_left is None and worth.forecast.hours_left is None
    assert any("not reachable at this rate" in s for s in worth.sentences)
    assert len(worth.band) == 8 and worth.band[0][0] == 100 and worth.band[-1][0] == 200
    for _, score, low, high in worth.band:
        assert low <= score <= high
    # Labels were given moments apart: the pace counts them over one hour at least.
    assert worth.pace is not None and worth.pace >= 1
    assert worth.savings is not None and worth.savings.n_labels == 100


def test_a_reachable_target_gives_the_labels_left_and_the_time_at_the_pace(db) -> None:
    truth = _noisy_project(db, target=0.05)
    _rounds(db, truth, n_rounds=4)
    worth = project_worth(db, "noisy")
    assert worth.forecast is not None and worth.forecast.reachable
    assert worth.forecast.labels_left == 0
    assert "reached" in worth.forecast.sentence


def test_without_a_target_the_forecast_gives_the_score_at_twice_the_labels(db) -> None:
    truth = _noisy_project(db, target=None)
    _rounds(db, truth, n_rounds=4)
    worth = project_worth(db, "noisy")
    assert worth.forecast is None and worth.at_double is not None
    score, low, high = worth.at_double
    assert low <= score <= high
    assert any("with 200 labels the model should score about" in s for s in worth.sentences)
    assert "set the target_score setting to forecast the labels left" in worth.notes
    update_settings(db, actor=ACTOR, project="noisy", changes={"target_score": 0.99})
    assert project_worth(db, "noisy").forecast is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_score": 0}, "target_score"),
        ({"target_score": 1.5}, "target_score"),
        ({"target_score": "high"}, "target_score"),
        ({"target_metric": "f1"}, "target_metric"),
    ],
)
def test_bad_targets_are_refused_naming_the_setting(db, changes: dict, field: str) -> None:
    _noisy_project(db)
    with pytest.raises(ValidationError) as error:
        update_settings(db, actor=ACTOR, project="noisy", changes=changes)
    assert error.value.field == field


def test_the_worth_of_a_missing_project_is_not_found(db) -> None:
    with pytest.raises(NotFoundError):
        project_worth(db, "nope")


def test_a_large_evaluation_set_traces_random_sampling_on_a_random_subset() -> None:
    from labelloop.models.builtin import ItemInput, build_model, check_model_spec

    model = build_model(
        "classification", labels=["pos", "neg"], multi_label=False, spec=check_model_spec(None)
    )
    rng = random.Random(1)
    labels = ["pos" if i % 2 == 0 else "neg" for i in range(MAX_RANDOM_CURVE_ITEMS + 500)]
    inputs = [
        ItemInput({"text": " ".join(rng.choices(POSITIVE if lab == "pos" else NEGATIVE, k=3))})
        for lab in labels
    ]
    model.featurizer.fit(inputs)
    X = model.featurizer.transform(inputs)
    curve = random_sampling_curve(model, X, model.encode_labels(labels), seed=3)
    assert curve is not None
    assert max(curve["n_labels"]) == int(0.7 * MAX_RANDOM_CURVE_ITEMS)
    few = random_sampling_curve(model, X[:20], model.encode_labels(labels[:20]), seed=3)
    assert few is None  # below MIN_RANDOM_CURVE_ITEMS


def test_a_round_carries_the_random_curve_over_while_the_evaluation_set_stands(db) -> None:
    truth = _noisy_project(db)
    _rounds(db, truth, n_rounds=2)
    first, second = list_rounds(db, "noisy")
    assert first.metrics["n_eval_labelled"] == second.metrics["n_eval_labelled"]
    assert second.metrics["random_curve"] == first.metrics["random_curve"]
