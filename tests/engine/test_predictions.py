"""Client-model predictions and the labels feed."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import func, select
from test_rounds import text_records

from labelloop.engine import annotate, predictions, queue
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.engine.rounds import train
from labelloop.exceptions import ValidationError
from labelloop.store.tables import ItemRow, ModelVersionRow, PredictionRow, TaskRow


def _push(db, project, probs, **kwargs):
    return predictions.push_predictions(
        db,
        project_id=project,
        actor="model:client",
        model_version=kwargs.pop("model_version", "v1"),
        predictions=[
            {"item_id": f"it{i}", "probabilities": {"pos": p, "neg": 1 - p}, **kwargs}
            for i, p in probs
        ],
    )


def test_push_scores_and_reprioritises(database):
    project = make_project(database, settings={"batch_size": 2, "eval_share": 0})
    tasks = add_items(database, project, 5, eval_ids=(4,))
    report = _push(database, project, [(0, 0.99), (1, 0.5), (2, 0.6), (3, 0.9), (4, 0.5)])
    assert report.n_predictions == 5 and report.model_version == 1
    # The most uncertain first; it4 (as uncertain as it1) is in the evaluation set.
    assert report.batch == ("it1", "it2")
    assert report.n_reprioritised == 4  # the eval task keeps its priority
    with database.read() as session:
        priority = dict(session.execute(select(TaskRow.id, TaskRow.priority)).all())
        assert session.execute(select(func.count()).select_from(PredictionRow)).scalar() == 5
    assert priority[tasks[4]] == pytest.approx(1 / 6 - 1)  # eval: untouched (add_items's value)
    assert priority[tasks[1]] > 2 and priority[tasks[0]] < 1
    ann = make_user(database, "ann")
    leased = queue.lease_next_task(database, project_id=project, user=ann)
    assert leased.id == tasks[1]
    # Same version string: same model version row; a new string: a new version.
    assert _push(database, project, [(0, 0.5)]).model_version == 1
    assert _push(database, project, [(0, 0.5)], model_version="v2").model_version == 2
    with database.read() as session:
        kinds = session.execute(select(ModelVersionRow.kind)).scalars().all()
    assert kinds == ["client", "client"]


def test_embeddings_give_a_diverse_batch(sqlite_db):
    project = make_project(sqlite_db, settings={"batch_size": 2, "eval_share": 0})
    add_items(sqlite_db, project, 6)
    near = [[0.0, 0.0], [0.01, 0.0], [0.0, 0.01], [10.0, 10.0], [10.01, 10.0], [10.0, 10.01]]
    probs = [0.5, 0.51, 0.52, 0.7, 0.75, 0.8]
    report = predictions.push_predictions(
        sqlite_db,
        project_id=project,
        actor="model:client",
        model_version="emb",
        predictions=[
            {"item_id": f"it{i}", "probabilities": {"pos": p, "neg": 1 - p}, "embedding": e}
            for i, (p, e) in enumerate(zip(probs, near, strict=True))
        ],
    )
    # Top scores alone would be it0, it1 (same cluster); diversity takes one per cluster.
    assert report.batch[0] == "it0" and report.batch[1] in ("it3", "it4", "it5")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"item_id": "nope", "probabilities": {"pos": 1.0}}, "predictions.0.item_id"),
        ({"item_id": "it0", "probabilities": {"meh": 1.0}}, "predictions.0.probabilities"),
        ({"item_id": "it0", "probabilities": {"pos": 1.5}}, "predictions.0.probabilities"),
        (
            {"item_id": "it0", "probabilities": {"pos": 0.2, "neg": 0.2}},
            "predictions.0.probabilities",
        ),
        ({"item_id": "it0", "probabilities": {"pos": 1.0}, "extra": 1}, "predictions.0.extra"),
        (
            {"item_id": "it0", "probabilities": {"pos": 1.0}, "embedding": ["x"]},
            "predictions.0.embedding",
        ),
    ],
)
def test_bad_pushes_name_the_field_and_write_nothing(sqlite_db, entry, field):
    project = make_project(sqlite_db)
    add_items(sqlite_db, project, 1)
    with pytest.raises(ValidationError) as err:
        predictions.push_predictions(
            sqlite_db, project_id=project, actor="m", model_version="v", predictions=[entry]
        )
    assert err.value.field == field
    with sqlite_db.read() as session:
        assert session.execute(select(func.count()).select_from(ModelVersionRow)).scalar() == 0


def test_labels_since_pages_and_resumes(database):
    project = make_project(database, settings={"eval_share": 0, "review_policy": "none"})
    add_items(database, project, 5)
    ann = make_user(database, "ann")
    for label in ["pos", "neg", "pos"]:
        task = queue.lease_next_task(database, project_id=project, user=ann)
        annotate.submit_annotation(database, task_id=task.id, user=ann, label=label)
    page, cursor = predictions.labels_since(database, project_id=project, limit=2)
    assert [(r["item_id"], r["label"]) for r in page] == [("it0", "pos"), ("it1", "neg")]
    page2, cursor2 = predictions.labels_since(database, project_id=project, cursor=cursor, limit=2)
    assert [(r["item_id"], r["label"]) for r in page2] == [("it2", "pos")]
    empty, cursor3 = predictions.labels_since(database, project_id=project, cursor=cursor2)
    assert empty == [] and cursor3 == cursor2
    # A label made later shows up after the saved cursor.
    annotate.record_annotation(
        database, actor="cli:lead", project=project, external_id="it3", label="neg"
    )
    newer, _ = predictions.labels_since(database, project_id=project, cursor=cursor2)
    assert [(r["item_id"], r["label"]) for r in newer] == [("it3", "neg")]
    with pytest.raises(ValidationError) as err:
        predictions.labels_since(database, project_id=project, cursor="garbage!")
    assert err.value.field == "since"


@pytest.mark.parametrize("earlier_batch", [2, 10])
def test_a_small_confident_push_never_outranks_uncertain_tasks(database, earlier_batch):
    # An earlier push of uncertain items leaves a batch on top and the rest ranked (batch
    # 2), or all ten in the batch (batch 10); then another model pushes two confident items,
    # a push smaller than the batch size.
    project = make_project(database, settings={"batch_size": earlier_batch, "eval_share": 0})
    tasks = add_items(database, project, 12)
    _push(database, project, [(i, 0.45 + 0.01 * i) for i in range(10)])
    report = _push(database, project, [(10, 0.99), (11, 0.01)], model_version="other")
    if earlier_batch == 2:
        assert report.batch == ()  # under the ranked uncertain rest, so out of the batch
    with database.read() as session:
        priority = dict(session.execute(select(TaskRow.id, TaskRow.priority)).all())
    uncertain = [priority[t] for t in tasks[:10]]
    assert max(priority[tasks[10]], priority[tasks[11]]) < min(uncertain)
    ann = make_user(database, "ann")
    for _ in range(10):
        leased = queue.lease_next_task(database, project_id=project, user=ann)
        assert leased.id in tasks[:10]
        annotate.submit_annotation(database, task_id=leased.id, user=ann, label="pos")


def test_an_uncertain_push_still_goes_to_the_top(database):
    project = make_project(database, settings={"batch_size": 2, "eval_share": 0})
    tasks = add_items(database, project, 8)
    _push(database, project, [(i, 0.7 + 0.02 * i) for i in range(6)])
    report = _push(database, project, [(6, 0.5), (7, 0.52)], model_version="other")
    assert report.batch == ("it6", "it7")
    ann = make_user(database, "ann")
    leased = []
    for _ in range(3):
        task = queue.lease_next_task(database, project_id=project, user=ann)
        leased.append(task.id)
        annotate.submit_annotation(database, task_id=task.id, user=ann, label="pos")
    # The new batch first, then the earlier batch's most uncertain item (it0).
    assert leased == [tasks[6], tasks[7], tasks[0]]


def test_a_confident_push_after_a_round_stays_under_more_informative_tasks(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    create_project(
        database,
        actor="cli:lead",
        name="reviews",
        task_type="classification",
        labels=["pos", "neg"],
        strategy="margin",
        settings={"batch_size": 10, "eval_min": 20},
    )
    import_items(
        database, actor="cli:lead", project="reviews", records=text_records(120, n_labelled=40)
    )
    train(database, actor="cli:lead", project="reviews")
    with database.read() as session:
        open_items = session.execute(
            select(ItemRow.external_id)
            .join(TaskRow, TaskRow.item_id == ItemRow.id)
            .where(TaskRow.status == "open", TaskRow.is_eval.is_(False))
            .order_by(TaskRow.priority)
        ).scalars()
        pushed = list(open_items)[:2]  # the least informative under the round
    predictions.push_predictions(
        database,
        project_id="reviews",
        actor="model:client",
        model_version="client",
        predictions=[{"item_id": i, "probabilities": {"pos": 0.99, "neg": 0.01}} for i in pushed],
    )
    with database.read() as session:
        rows = session.execute(
            select(ItemRow.external_id, TaskRow.priority, PredictionRow.probabilities)
            .join(TaskRow, TaskRow.item_id == ItemRow.id)
            .join(PredictionRow, PredictionRow.item_id == ItemRow.id)
            .where(TaskRow.status == "open", TaskRow.is_eval.is_(False))
            .order_by(PredictionRow.id)
        ).all()
    newest = {item: (p, probs) for item, p, probs in rows}  # the newest prediction wins
    ceiling = min(p for item, (p, _) in newest.items() if item in pushed)
    for item, (p, probs) in newest.items():
        if item not in pushed and abs(probs["pos"] - probs["neg"]) < 0.98 - 1e-6:
            assert p > ceiling, item
