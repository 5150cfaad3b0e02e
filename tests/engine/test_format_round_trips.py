"""Label Studio JSON and Hugging Face datasets through the engine, on SQLite and PostgreSQL:
round trips project -> file -> project, predictions out, all-or-nothing imports."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from labelloop.engine import predictions
from labelloop.engine.export import export_items, iter_export_records
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project
from labelloop.exceptions import ImportDataError, ValidationError
from labelloop.store.tables import ItemRow, PredictionRow

RECORDS = [
    {"id": "a", "text": "great film", "source": "web", "label": "pos", "meta": {"lang": "en"}},
    {"id": "b", "text": "dull, long", "source": "shop", "label": "neg", "meta": {}},
    {"id": "c", "text": "no opinion yet", "source": "web", "label": None, "meta": {"g": 2}},
]
MULTI = [
    {"id": "1", "text": "one", "labels": ["z", "x"], "meta": {}},
    {"id": "2", "text": "two", "labels": [], "meta": {}},
    {"id": "3", "text": "three", "labels": None, "meta": {"k": [1, 2]}},
]
SPANS = [
    {
        "id": "s1",
        "text": "Ada in Paris",
        "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 7, "end": 12, "label": "LOC"}],
        "meta": {"source": "wiki"},
    },
    {"id": "s2", "text": "nothing here", "spans": []},
    {"id": "s3", "text": "unlabelled Rome", "spans": None},
]
FORMATS = [("label-studio", "tasks.json"), ("hf", "saved"), ("hf", "data.parquet")]


def _project(db, name, **kwargs):
    kwargs.setdefault("task_type", "classification")
    kwargs.setdefault("labels", ["pos", "neg"])
    return create_project(db, actor="cli:tester", name=name, **kwargs)


def _items(db, name):
    return [
        {k: v for k, v in r.items() if k != "prediction"} for r in iter_export_records(db, name)
    ]


def _round_trip(db, tmp_path, fmt, target, records, **project):
    _project(db, "first", **project)
    import_items(db, actor="cli:tester", project="first", records=records)
    first = tmp_path / "1" / target
    first.parent.mkdir()
    report = export_items(db, project="first", format=fmt, out=first)
    assert report.n_records == len(records)
    _project(db, "second", **project)
    import_items(db, actor="cli:tester", project="second", path=first, format=fmt)
    assert _items(db, "second") == _items(db, "first")
    return first


@pytest.mark.parametrize(("fmt", "target"), FORMATS)
def test_classification_round_trip(database, tmp_path, fmt, target):
    pytest.importorskip("datasets") if fmt == "hf" else None
    _round_trip(database, tmp_path, fmt, target, RECORDS)


@pytest.mark.parametrize(("fmt", "target"), FORMATS)
def test_multi_label_round_trip(database, tmp_path, fmt, target):
    pytest.importorskip("datasets") if fmt == "hf" else None
    _round_trip(database, tmp_path, fmt, target, MULTI, labels=["x", "y", "z"], multi_label=True)


@pytest.mark.parametrize(("fmt", "target"), FORMATS)
def test_entity_round_trip(database, tmp_path, fmt, target):
    pytest.importorskip("datasets") if fmt == "hf" else None
    _round_trip(database, tmp_path, fmt, target, SPANS, task_type="ner", labels=["PER", "LOC"])


def test_tabular_round_trip_through_label_studio(sqlite_db, tmp_path):
    rows = [
        {"id": "r1", "x": 1.5, "y": 2, "label": "pos", "meta": {}},
        {"id": "r2", "x": 0.5, "y": 3, "label": None, "meta": {}},
    ]
    _round_trip(sqlite_db, tmp_path, "label_studio", "t.json", rows, task_type="tabular")


def test_label_studio_export_carries_the_latest_prediction_and_its_informativeness(
    database, tmp_path
):
    _project(database, "p")
    import_items(database, actor="cli:tester", project="p", records=RECORDS)
    predictions.push_predictions(
        database,
        project_id="p",
        actor="model:client",
        model_version="client-7",
        predictions=[{"item_id": "c", "probabilities": {"pos": 0.6, "neg": 0.4}}],
    )
    with database.read() as session:
        score = session.scalar(select(PredictionRow.score))
    path = tmp_path / "p.json"
    export_items(database, project="p", format="label_studio", out=path)
    tasks = {t["data"]["id"]: t for t in json.loads(path.read_text())}
    assert "predictions" not in tasks["a"]
    (prediction,) = tasks["c"]["predictions"]
    assert prediction["model_version"] == "client-7"
    assert prediction["score"] == pytest.approx(score)
    assert prediction["result"][0]["value"] == {"choices": ["pos"]}
    assert tasks["a"]["annotations"][0]["result"][0]["value"] == {"choices": ["pos"]}
    assert tasks["a"]["labelloop"]["label_source"] == "import"
    # The prediction is the model's, not data: it is not imported with the items.
    _project(database, "q")
    import_items(database, actor="cli:tester", project="q", path=path)
    assert _items(database, "q") == _items(database, "p")


def _count(db):
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ItemRow))


def test_a_bad_label_studio_task_writes_nothing(database, tmp_path):
    _project(database, "p")
    good = {"data": {"id": "a", "text": "fine"}}
    bad = {
        "data": {"id": "b", "text": "meh"},
        "annotations": [{"result": [{"type": "choices", "value": {"choices": ["maybe"]}}]}],
    }
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([good, good | {"data": {"id": "c", "text": "ok"}}, bad]))
    with pytest.raises(ImportDataError) as caught:
        import_items(database, actor="cli:tester", project="p", path=path)
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert "maybe" in str(caught.value)
    assert _count(database) == 0


def test_a_bad_hf_row_writes_nothing(database, tmp_path):
    datasets = pytest.importorskip("datasets")
    data = {"id": ["a", "b", "c"], "text": ["x", "y", "  "], "label": ["pos", None, None]}
    datasets.Dataset.from_dict(data).save_to_disk(tmp_path / "d")
    _project(database, "p")
    with pytest.raises(ImportDataError) as caught:
        import_items(database, actor="cli:tester", project="p", path=tmp_path / "d")
    assert (caught.value.line, caught.value.field) == (3, "text")
    assert _count(database) == 0


def test_a_hub_name_is_refused(sqlite_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _project(sqlite_db, "p")
    with pytest.raises(ImportDataError, match="no such"):
        import_items(
            sqlite_db, actor="cli:tester", project="p", path="stanfordnlp/imdb", format="hf"
        )


def test_hf_export_needs_a_path_and_conll_is_for_entities(sqlite_db):
    _project(sqlite_db, "p")
    with pytest.raises(ValidationError, match="give its path"):
        export_items(sqlite_db, project="p", format="hf")
    with pytest.raises(ValidationError, match="does not export conll"):
        export_items(sqlite_db, project="p", format="conll")


def test_workspace_moves_a_project_through_both_formats(tmp_path):
    pytest.importorskip("datasets")
    from labelloop.engine.workspace import Workspace

    with Workspace(f"sqlite:///{tmp_path / 'w.db'}", actor="cli:test") as workspace:
        first = workspace.create_project("first", task_type="classification", labels=["pos", "neg"])
        first.add_items(RECORDS)
        first.export(tmp_path / "tasks.json", format="label-studio")
        first.export(tmp_path / "saved", format="hf")
        for name, source in (("from_ls", "tasks.json"), ("from_hf", "saved")):
            copy = workspace.create_project(name, task_type="classification", labels=["pos", "neg"])
            copy.add_items(path=tmp_path / source)
        db = workspace.db
        assert _items(db, "from_ls") == _items(db, "first") == _items(db, "from_hf")


def test_label_studio_refuses_media_projects_before_writing(sqlite_db, tmp_path):
    _project(sqlite_db, "photos", task_type="image")
    out = tmp_path / "photos.json"
    with pytest.raises(ValidationError, match="image projects are not mapped yet") as caught:
        export_items(sqlite_db, project="photos", format="label_studio", out=out)
    assert caught.value.field == "format"
    assert not out.exists()
