"""Rounds: train, score the pool, re-prioritise the queue; query, status, model artifacts."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from _service_setup import make_user
from PIL import Image
from sqlalchemy import select

from labelloop.engine import queue
from labelloop.engine.annotate import record_annotation, submit_annotation
from labelloop.engine.audit import verify_chain
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.engine.rounds import (
    list_rounds,
    load_project_model,
    project_dir,
    project_status,
    query,
    scoring,
    status,
    train,
)
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.models.artifacts import load_model
from labelloop.models.builtin import ItemInput, wilson_interval
from labelloop.store.tables import AuditEventRow, ItemRow, PredictionRow, TaskRow

ACTOR = "cli:tester"
POSITIVE = ["good", "great", "excellent", "lovely", "superb", "fine"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "dull", "horrid"]


def text_records(n: int, *, n_labelled: int, seed: int = 0) -> list[dict]:
    """Reviews whose label follows their words, the first ``n_labelled`` labelled."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(POSITIVE if label == "pos" else NEGATIVE, k=3)
        words += rng.choices(POSITIVE + NEGATIVE, k=2) + [f"w{i}"]
        record = {"id": f"r{i}", "text": " ".join(words)}
        if i < n_labelled:
            record["label"] = label
        records.append(record)
    return records


@pytest.fixture
def db(database, tmp_path):
    # Artifacts in the test's own directory, for PostgreSQL as for SQLite.
    database.artifact_dir = tmp_path / "artifacts"
    return database


def make_text_project(
    db, *, n: int = 240, n_labelled: int = 40, strategy: str = "auto", **settings
) -> str:
    create_project(
        db,
        actor=ACTOR,
        name="reviews",
        task_type="classification",
        labels=["pos", "neg"],
        strategy=strategy,
        settings={"batch_size": 10, "eval_min": 20, **settings},
    )
    import_items(db, actor=ACTOR, project="reviews", records=text_records(n, n_labelled=n_labelled))
    return "reviews"


def open_tasks(db) -> list[TaskRow]:
    with db.read() as session:
        return list(
            session.execute(
                select(TaskRow).where(TaskRow.queue == "label", TaskRow.status == "open")
            ).scalars()
        )


def test_train_numbers_rounds_and_versions_and_audits_them(db):
    project = make_text_project(db)
    first = train(db, actor=ACTOR, project=project)
    second = train(db, actor=ACTOR, project=project)
    assert (first.number, first.dataset_version, first.model_version) == (1, 1, 1)
    assert (second.number, second.dataset_version, second.model_version) == (2, 2, 2)
    assert first.n_labels == second.n_labels > 0
    assert 0 <= first.metrics["cv"]["accuracy"] <= 1
    assert first.metrics["eval"]["n"] >= 1
    assert len(first.batch) == 10
    assert [r.number for r in list_rounds(db, project)] == [1, 2]
    with db.read() as session:
        actions = list(session.execute(select(AuditEventRow.action)).scalars())
    assert actions.count("model.trained") == 2
    assert actions.count("round.completed") == 2
    assert verify_chain(db, project).ok


def test_batch_comes_first_in_pick_order_and_eval_items_are_never_picked(db):
    project = make_text_project(db)
    info = train(db, actor=ACTOR, project=project)
    rows = query(db, project, 15)
    assert [r.external_id for r in rows[:10]] == list(info.batch)
    assert all(r.priority >= 2 for r in rows[:10])
    assert all(r.priority < 1 for r in rows[10:])
    assert [r.priority for r in rows] == sorted((r.priority for r in rows), reverse=True)
    assert all(r.reason for r in rows)
    assert all(r.score is not None for r in rows)
    with db.read() as session:
        eval_ids = set(
            session.execute(select(ItemRow.external_id).where(ItemRow.is_eval.is_(True))).scalars()
        )
        eval_priorities = {
            t.priority
            for t in session.execute(select(TaskRow).where(TaskRow.is_eval.is_(True))).scalars()
        }
    assert eval_ids and not eval_ids & set(info.batch)
    assert not eval_ids & {r.external_id for r in query(db, project, 500)}
    # Evaluation tasks keep the priority the import gave them.
    assert all(p < 1 for p in eval_priorities)
    # Every open pool task was re-prioritised by the round.
    assert all(t.reason != "cold start: random order" for t in open_tasks(db) if not t.is_eval)


def test_every_leased_task_carries_the_reason_query_gives(db):
    # No minimum of evaluation labels: the first lease is not an evaluation item.
    project = make_text_project(db, eval_share=0.25, eval_min_labels=0)
    first = queue.lease_next_task(db, project_id=project, user=make_user(db, "early"))
    assert first.reason == "cold start: random order"
    info = train(db, actor=ACTOR, project=project)
    expected = {r.external_id: r.reason for r in query(db, project, 500)}
    users = [make_user(db, f"u{n}") for n in range(13)]
    leased = [queue.lease_next_task(db, project_id=project, user=u) for u in users]
    assert {t.item.external_id for t in leased if t.priority >= 2} <= set(info.batch)
    for task in leased:
        assert task.reason == expected[task.item.external_id]
    # Outside the batch the CLI explains the rank; the lease says the same, not None.
    assert leased[-1].priority < 1
    assert leased[-1].reason == "ranked by informativeness under model version 1"
    labeller = users[0]
    task = leased[0]
    while not task.is_eval:
        submit_annotation(db, task_id=task.id, user=labeller, label="pos")
        task = queue.lease_next_task(db, project_id=project, user=labeller)
    assert task.reason.startswith("evaluation set")


def test_predictions_cover_the_pool_and_the_eval_set(sqlite_db):
    db = sqlite_db
    project = make_text_project(db)
    info = train(db, actor=ACTOR, project=project)
    with db.read() as session:
        predicted = set(session.execute(select(PredictionRow.item_id)).scalars())
        open_or_eval = set(
            session.execute(
                select(ItemRow.id).where((ItemRow.status == "open") | ItemRow.is_eval.is_(True))
            ).scalars()
        )
        probabilities = session.execute(select(PredictionRow.probabilities)).scalars().first()
        n_pool = len(
            session.execute(
                select(ItemRow.id).where(ItemRow.status == "open", ItemRow.is_eval.is_(False))
            ).all()
        )
    assert predicted == open_or_eval
    assert set(probabilities) == {"pos", "neg"}
    assert info.metrics["pool_size"] == n_pool


def test_cold_start_round_orders_the_queue_without_a_model(sqlite_db):
    db = sqlite_db
    project = make_text_project(db, n_labelled=0)
    info = train(db, actor=ACTOR, project=project)
    assert info.model_version is None
    assert info.dataset_version == 1 and info.n_labels == 0
    assert len(info.batch) == 10
    rows = query(db, project, 10)
    assert [r.external_id for r in rows] == list(info.batch)
    assert all(r.score is None for r in rows)
    with pytest.raises(NotFoundError):
        load_project_model(db, project)


def test_strategy_state_is_carried_to_the_next_round(db):
    project = make_text_project(db)
    first = train(db, actor=ACTOR, project=project)
    for external_id in first.batch:
        number = int(external_id[1:])
        record_annotation(
            db,
            actor="ann",
            project=project,
            external_id=external_id,
            label="pos" if number % 2 == 0 else "neg",
        )
    second = train(db, actor=ACTOR, project=project)
    assert first.metrics["strategy_state"]
    assert second.metrics["strategy_state"] != first.metrics["strategy_state"]
    assert second.n_labels == first.n_labels + len(first.batch)
    assert not set(second.batch) & set(first.batch)


def test_artifact_is_checksummed_and_a_tampered_one_is_refused(sqlite_db, tmp_path):
    sqlite_db.artifact_dir = tmp_path / "artifacts"
    project = make_text_project(sqlite_db)
    train(sqlite_db, actor=ACTOR, project=project)
    info, model = load_project_model(sqlite_db, project)
    assert info.version == 1 and len(info.artifact_sha256) == 64
    path = sqlite_db.artifact_dir / info.artifact_path
    assert path.parent == project_dir(sqlite_db, 1)
    item = ItemInput({"text": "great lovely film"})
    assert model.predict_labels(model.featurizer.transform([item])).tolist() == ["pos"]
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValidationError, match="modified"):
        load_project_model(sqlite_db, project)
    outside = tmp_path / "elsewhere.skops"
    outside.write_bytes(b"")
    with pytest.raises(ValidationError, match="outside"):
        load_model(outside, project_dir=path.parent, sha256=info.artifact_sha256)


def test_status_counts_rounds_and_stopping_verdict(sqlite_db):
    db = sqlite_db
    # The import labels 4 of the 20 evaluation items: the minimum is met, the model's
    # criteria are read (the next test reads status below the minimum).
    project = make_text_project(db, eval_min_labels=4)
    before = project_status(db, project)
    assert before.n_items == 240 and before.rounds == ()
    assert before.n_labelled == 40 and before.n_open == 200 and before.n_in_review == 0
    assert before.verdict.startswith("keep labelling") and not before.should_stop
    train(db, actor=ACTOR, project=project)
    train(db, actor=ACTOR, project=project)
    after = project_status(db, project)
    assert [r.number for r in after.rounds] == [1, 2]
    # A retrain on the same labels predicts the eval set alike, but that alone is no
    # evidence of diminishing returns: stability must hold over retrains that add labels.
    assert not after.should_stop
    assert after.verdict.startswith("keep labelling")
    assert "stable over 3 retrains" in after.verdict
    for _ in range(3):
        item = query(db, project, 1)[0].external_id
        record_annotation(db, actor=ACTOR, project=project, external_id=item, label="pos")
        train(db, actor=ACTOR, project=project)
    stable = project_status(db, project)
    kappas = [r.metrics["stopping"]["stabilizing_predictions"]["stop"] for r in stable.rounds[-3:]]
    assert stable.should_stop == all(kappas)
    if stable.should_stop:
        assert stable.verdict.startswith("diminishing returns:")
        assert "stabilised" in stable.verdict


def test_below_the_evaluation_minimum_status_says_so_instead_of_a_verdict(sqlite_db):
    db = sqlite_db
    project = make_text_project(db, eval_min_labels=5)
    for _ in range(2):
        train(db, actor=ACTOR, project=project)
    below = project_status(db, project)
    note = "not enough evaluation labels yet (4 of 5)"
    assert below.n_eval_labelled == 4 and below.eval_needed == 5
    assert below.eval_note == note
    assert below.verdict == f"keep labelling: {note}" and not below.should_stop
    # Each round's metrics carry their n and a 95% interval around the accuracy.
    metrics = below.rounds[-1].metrics["eval"]
    low, high = metrics["accuracy_ci"]
    assert metrics["n"] == 4 and low <= metrics["accuracy"] <= high
    assert metrics["accuracy_ci"] == [
        round(b, 6) for b in wilson_interval(round(metrics["accuracy"] * 4), 4)
    ]
    # One more evaluation label reaches the minimum: the model's criteria are read again.
    with db.read() as session:
        item = (
            session.execute(
                select(ItemRow.external_id).where(
                    ItemRow.is_eval.is_(True), ItemRow.status == "open"
                )
            )
            .scalars()
            .first()
        )
    record_annotation(db, actor=ACTOR, project=project, external_id=item, label="pos")
    above = project_status(db, project)
    assert above.eval_note is None and above.eval_needed == 5
    assert "not enough evaluation labels" not in above.verdict
    assert "stable over 3 retrains" in above.verdict


def test_the_evaluation_minimum_is_at_most_the_evaluation_set(sqlite_db):
    project = make_text_project(sqlite_db, eval_min_labels=1000)
    info = project_status(sqlite_db, project)
    assert info.eval_needed == info.n_eval == 20
    assert info.eval_note == "not enough evaluation labels yet (4 of 20)"


def test_status_names_the_project_after_rounds_with_stopping_criteria(sqlite_db):
    project = make_text_project(sqlite_db)
    assert project_status(sqlite_db, project).project == "reviews"
    for _ in range(2):
        train(sqlite_db, actor=ACTOR, project=project)
    status_ = project_status(sqlite_db, project)
    # The verdict read every criterion of the last round, and the name survived it.
    assert set(status_.rounds[-1].metrics["stopping"]) == {
        "stabilizing_predictions",
        "max_uncertainty",
    }
    assert status_.project == "reviews"


@pytest.mark.parametrize(
    ("n_labels", "stable", "expected"),
    [
        ([10, 20, 30, 40], [True, True, True], True),
        ([10, 20, 30], [True, True], False),  # too few retrains yet
        ([10, 20, 20, 30], [True, True, True], False),  # one retrain added no labels
        ([10, 20, 30, 40], [True, False, True], False),  # one retrain moved predictions
    ],
)
def test_stabilising_needs_a_window_of_retrains_that_add_labels(n_labels, stable, expected):
    from types import SimpleNamespace

    verdicts = [None, *stable]
    modelled = [
        SimpleNamespace(
            n_labels=n,
            metrics={}
            if verdict is None
            else {"stopping": {"stabilizing_predictions": {"stop": verdict}}},
        )
        for n, verdict in zip(n_labels, verdicts, strict=True)
    ]
    assert status._stable_over_window(modelled) is expected


def test_query_and_train_validate_their_arguments(sqlite_db):
    project = make_text_project(sqlite_db, n=60, n_labelled=10)
    with pytest.raises(ValidationError):
        query(sqlite_db, project, 0)
    with pytest.raises(ValidationError):
        train(sqlite_db, actor="", project=project)
    with pytest.raises(NotFoundError):
        train(sqlite_db, actor=ACTOR, project="nope")


def test_tabular_models_by_setting(sqlite_db, tmp_path):
    sqlite_db.artifact_dir = tmp_path / "artifacts"
    create_project(
        sqlite_db,
        actor=ACTOR,
        name="rows",
        task_type="tabular",
        strategy="margin",
        labels=["a", "b"],
        settings={"batch_size": 5, "eval_min": 10},
    )
    rng = np.random.default_rng(0)
    records = []
    for i in range(120):
        x, z = rng.normal(size=2)
        record = {"id": f"t{i}", "x": float(x), "z": float(z), "meta": {"g": "n"}}
        if i < 40:
            record["label"] = "a" if x > 0 else "b"
        records.append(record)
    import_items(sqlite_db, actor=ACTOR, project="rows", records=records)
    first = train(sqlite_db, actor=ACTOR, project="rows")
    assert first.metrics["cv"]["accuracy"] > 0.8
    update_settings(
        sqlite_db,
        actor=ACTOR,
        project="rows",
        changes={"model": {"name": "gradient_boosting", "params": {"max_iter": 20}}},
    )
    second = train(sqlite_db, actor=ACTOR, project="rows")
    info, model = load_project_model(sqlite_db, "rows")
    assert info.version == second.model_version == 2
    assert "HistGradientBoosting" in info.params["classifier"]["estimator"]
    update_settings(
        sqlite_db,
        actor=ACTOR,
        project="rows",
        changes={
            "model": {
                "estimator": "sklearn.ensemble:RandomForestClassifier",
                "params": {"n_estimators": 5, "random_state": 0},
            }
        },
    )
    train(sqlite_db, actor=ACTOR, project="rows")
    info, model = load_project_model(sqlite_db, "rows")
    assert "RandomForest" in info.params["classifier"]["estimator"]
    rows = [ItemInput({"x": 2.0, "z": 0.0}), ItemInput({"x": -2.0, "z": 0.0})]
    assert model.predict_labels(model.featurizer.transform(rows)).tolist() == ["a", "b"]
    with pytest.raises(ValidationError, match="model"):
        update_settings(sqlite_db, actor=ACTOR, project="rows", changes={"model": "os:system"})


def test_image_project_learns_from_pixels(sqlite_db, tmp_path):
    sqlite_db.artifact_dir = tmp_path / "artifacts"
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(30):
        shade = 30 + i if i % 2 else 220 - i
        Image.new("L", (20, 20), color=shade).save(folder / f"img{i:02d}.png")
    create_project(
        sqlite_db,
        actor=ACTOR,
        name="pics",
        task_type="image",
        labels=["dark", "bright"],
        settings={"batch_size": 4, "eval_min": 0, "eval_share": 0.0},
    )
    import_items(sqlite_db, actor=ACTOR, project="pics", path=folder)
    cold = train(sqlite_db, actor=ACTOR, project="pics")
    assert cold.model_version is None and len(cold.batch) == 4
    with sqlite_db.read() as session:
        names = list(session.execute(select(ItemRow.external_id).order_by(ItemRow.id)).scalars())
    for name in names[:10]:
        number = int(Path(name).stem[-2:])
        record_annotation(
            sqlite_db,
            actor="ann",
            project="pics",
            external_id=name,
            label="dark" if number % 2 else "bright",
        )
    info = train(sqlite_db, actor=ACTOR, project="pics")
    assert info.model_version == 1
    assert info.metrics["cv"]["accuracy"] == 1.0


def test_multi_label_project_trains_one_vs_rest(sqlite_db, tmp_path):
    sqlite_db.artifact_dir = tmp_path / "artifacts"
    create_project(
        sqlite_db,
        actor=ACTOR,
        name="tags",
        task_type="classification",
        labels=["pos", "neg", "long"],
        multi_label=True,
        settings={"batch_size": 5, "eval_min": 10},
    )
    records = text_records(100, n_labelled=30)
    for i, record in enumerate(records):
        if "label" in record:
            record["labels"] = [record.pop("label")] + (["long"] if i % 3 == 0 else [])
    import_items(sqlite_db, actor=ACTOR, project="tags", records=records)
    info = train(sqlite_db, actor=ACTOR, project="tags")
    assert info.model_version == 1 and len(info.batch) == 5
    with sqlite_db.read() as session:
        probabilities = session.execute(select(PredictionRow.probabilities)).scalars().first()
    assert set(probabilities) == {"pos", "neg", "long"}


def test_pool_scored_in_chunks_picks_one_batch_across_them(sqlite_db, monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK_SIZE", 50)
    project = make_text_project(sqlite_db, strategy="margin")
    info = train(sqlite_db, actor=ACTOR, project=project)
    assert info.strategy == "margin" and len(info.batch) == 10
    rows = query(sqlite_db, project, 10)
    assert [r.external_id for r in rows] == list(info.batch)
    # Margin picks the least certain items of the whole pool, whichever chunk they are in.
    with sqlite_db.read() as session:
        pool_scores = sorted(
            session.execute(
                select(PredictionRow.score)
                .join(ItemRow, ItemRow.id == PredictionRow.item_id)
                .where(ItemRow.is_eval.is_(False))
            ).scalars(),
            reverse=True,
        )
    assert len(pool_scores) == info.metrics["pool_size"] > 150
    assert min(r.score for r in rows) >= pool_scores[len(rows) - 1] - 1e-9


def test_budget_spent_says_diminishing_returns(sqlite_db):
    project = make_text_project(sqlite_db, n=60, n_labelled=20)
    update_settings(sqlite_db, actor=ACTOR, project=project, changes={"label_budget": 20})
    status = project_status(sqlite_db, project)
    assert status.should_stop and "budget" in status.verdict


@pytest.mark.parametrize("strategy", ["vote_entropy", "kl_disagreement"])
def test_a_committee_strategy_the_settings_accept_trains(sqlite_db, tmp_path, strategy):
    sqlite_db.artifact_dir = tmp_path / "artifacts"
    forest = {"estimator": "sklearn.ensemble:RandomForestClassifier", "params": {"n_estimators": 5}}
    project = make_text_project(sqlite_db, strategy=strategy, model=forest)
    info = train(sqlite_db, actor=ACTOR, project=project)
    assert (info.strategy, info.model_version, len(info.batch)) == (strategy, 1, 10)
