"""labelloop as a Label Studio ML backend, against a real ``labelloop serve`` on loopback.

The requests are shaped as Label Studio's documentation shows them: ``/setup`` with
``project``, ``schema``, ``hostname``, ``access_token``; ``/predict`` with ``tasks``,
``model_version``, ``project`` ("<id>.<timestamp>"), ``label_config`` and ``params``;
webhook events with ``action``, ``annotation``, ``task`` and ``project``; HTTP Basic
credentials as Label Studio's "Basic Authentication" sends them.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from loopback import serving
from sqlalchemy import select

from labelloop.engine import ingest, projects, rounds, users, versions
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single" showInLine="true">
    <Choice value="positive"/>
    <Choice value="negative"/>
  </Choices>
</View>"""
NER_CONFIG = """<View>
  <Labels name="label" toName="text">
    <Label value="PER"/>
    <Label value="ORG"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""
# The server's first /predict imports scikit-learn and loads the model: slow on a busy box.
HTTP = httpx.Client(timeout=120)
MULTI_CONFIG = CONFIG.replace('choice="single"', 'choice="multiple"')


@dataclass
class Backend:
    url: str
    db: Database
    project_id: int
    multi_id: int
    tokens: dict[str, str]

    def base(self, project_id: int | None = None) -> str:
        return f"{self.url}/label-studio/{project_id or self.project_id}"

    def auth(self, who: str = "model") -> dict[str, str]:
        secret = base64.b64encode(f"label-studio:{self.tokens[who]}".encode()).decode()
        return {"Authorization": f"Basic {secret}"}


def _texts(n: int) -> list[dict]:
    records = []
    for i in range(n):
        good = i % 2 == 0
        words = "good great lovely film" if good else "bad awful boring film"
        records.append(
            {"id": f"r{i}", "text": f"{words} {i}", "label": "positive" if good else "negative"}
        )
    return records


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, _sqlite_template) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("label-studio")
    path = root / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    settings = {"eval_share": 0, "eval_min": 0, "retrain_every": 0}
    project = projects.create_project(
        db,
        actor="cli:test",
        name="sentiment",
        task_type="classification",
        labels=["positive", "negative"],
        settings=settings,
    )
    multi = projects.create_project(
        db,
        actor="cli:test",
        name="topics",
        task_type="classification",
        labels=["positive", "negative"],
        multi_label=True,
        settings=settings,
    )
    ingest.import_items(db, actor="cli:test", project=project.id, records=_texts(40))
    rounds.train(db, actor="cli:test", project=project.id)
    tokens = {}
    for name, role in (("ls", "model"), ("annotator", "annotator")):
        _info, tokens[name] = users.create_user(
            db, actor="cli:test", name=name, role=role, projects=[project.id, multi.id]
        )
    _info, tokens["outsider"] = users.create_user(db, actor="cli:test", name="o", role="model")
    tokens["model"] = tokens.pop("ls")
    try:
        with serving(f"sqlite:///{path}", root / "serve.log") as url:
            yield Backend(url, db, project.id, multi.id, tokens)
    finally:
        db.dispose()


def _predict_body(tasks: list[dict], config: str = CONFIG) -> dict:
    return {
        "tasks": tasks,
        "model_version": None,
        "project": "7.1733300000",
        "label_config": config,
        "params": {"login": None, "password": None, "context": None},
    }


def _task(task_id: int, text: str) -> dict:
    return {
        "id": task_id,
        "data": {"text": text},
        "meta": {},
        "created_at": "2026-12-04T10:00:00.000000Z",
        "updated_at": "2026-12-04T10:00:00.000000Z",
        "is_labeled": False,
        "overlap": 1,
        "inner_id": task_id,
        "total_annotations": 0,
        "cancelled_annotations": 0,
        "total_predictions": 0,
        "annotations": [],
        "predictions": [],
        "project": 7,
        "file_upload": None,
    }


def _annotation_event(action: str, annotation_id: int, task: dict, choices: list[str]) -> dict:
    result = [
        {
            "value": {"choices": choices},
            "id": "aB3xYz9kLm",
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "origin": "manual",
        }
    ]
    return {
        "action": action,
        "annotation": {
            "id": annotation_id,
            "result": result,
            "was_cancelled": False,
            "ground_truth": False,
            "created_at": "2026-12-04T10:05:00.000000Z",
            "updated_at": "2026-12-04T10:05:00.000000Z",
            "lead_time": 4.2,
            "task": task["id"],
            "project": 7,
            "completed_by": 1,
            "parent_prediction": None,
            "parent_annotation": None,
        },
        "task": task,
        "project": {"id": 7, "title": "Sentiment", "label_config": CONFIG},
    }


def test_health_and_setup(backend: Backend) -> None:
    health = HTTP.get(f"{backend.base()}/health", headers=backend.auth())
    assert health.status_code == 200 and health.json()["status"] == "UP"
    setup = HTTP.post(
        f"{backend.base()}/setup",
        headers=backend.auth(),
        json={
            "project": "7.1733300000",
            "schema": CONFIG,
            "hostname": "http://localhost:8080",
            "access_token": "ls-token",
            "model_version": None,
            "extra_params": None,
        },
    )
    assert setup.status_code == 200
    assert setup.json() == {"model_version": "labelloop-v1"}


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("bad", 401), ("annotator", 403), ("outsider", 404)]
)
def test_authentication(backend: Backend, who: str | None, status: int) -> None:
    headers = (
        {}
        if who is None
        else backend.auth(who)
        if who != "bad"
        else {"Authorization": "Basic " + base64.b64encode(b"x:ll_wrong").decode()}
    )
    answer = HTTP.post(f"{backend.base()}/predict", headers=headers, content=b"{not json")
    assert answer.status_code == status
    if status == 401:
        assert "Basic Authentication" in answer.json()["detail"]


def test_bearer_and_token_headers_work_too(backend: Backend) -> None:
    for scheme in ("Bearer", "Token"):
        headers = {"Authorization": f"{scheme} {backend.tokens['model']}"}
        assert HTTP.get(f"{backend.base()}/health", headers=headers).status_code == 200


def test_predict_one_prediction_per_task_matching_the_config(backend: Backend) -> None:
    tasks = [
        _task(1, "good great lovely film"),
        _task(2, "bad awful boring film"),
        _task(3, "film"),
    ]
    answer = HTTP.post(
        f"{backend.base()}/predict", headers=backend.auth(), json=_predict_body(tasks)
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert len(results) == 3
    for prediction in results:
        assert prediction["model_version"] == "labelloop-v1"
        (result,) = prediction["result"]
        assert (result["from_name"], result["to_name"], result["type"]) == (
            "sentiment",
            "text",
            "choices",
        )
        assert result["value"]["choices"][0] in ("positive", "negative")
        assert 0 <= prediction["score"] <= 1
    assert results[0]["result"][0]["value"]["choices"] == ["positive"]
    assert results[1]["result"][0]["value"]["choices"] == ["negative"]
    # Informativeness: the text with no sentiment words is the one to label first.
    assert results[2]["score"] > max(results[0]["score"], results[1]["score"])


def test_predict_reads_the_field_the_object_tag_shows(backend: Backend) -> None:
    config = CONFIG.replace("$text", "$review")
    tasks = [{"id": 9, "data": {"review": "good great lovely film"}}]
    answer = HTTP.post(
        f"{backend.base()}/predict", headers=backend.auth(), json=_predict_body(tasks, config)
    )
    assert answer.json()["results"][0]["result"][0]["value"]["choices"] == ["positive"]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (NER_CONFIG, ["no <Choices> control", "Labels label"]),
        (CONFIG.replace('<Choice value="negative"/>', ""), ["lacks 'negative'"]),
        ("<View><Text name='text' value='$text'", ["not valid XML"]),
        ("<Foo/>", ["root tag must be <View>"]),
        (
            CONFIG.replace('toName="text"', 'toName="body"'),
            ["toName='body'", "no object tag"],
        ),
    ],
)
def test_a_config_that_does_not_match_is_a_clear_422(
    backend: Backend, config: str, words: list[str]
) -> None:
    for path, body in (
        ("predict", _predict_body([_task(1, "good")], config)),
        ("setup", {"project": "7.1", "schema": config}),
    ):
        answer = HTTP.post(f"{backend.base()}/{path}", headers=backend.auth(), json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "label_config"
        for word in words:
            assert word in answer.json()["detail"]


def test_a_multi_label_project_needs_a_multiple_choice_control(backend: Backend) -> None:
    single = HTTP.post(
        f"{backend.base(backend.multi_id)}/predict",
        headers=backend.auth(),
        json=_predict_body([_task(1, "good")]),
    )
    assert single.status_code == 422 and 'choice="multiple"' in single.json()["detail"]
    multiple = HTTP.post(
        f"{backend.base(backend.multi_id)}/predict",
        headers=backend.auth(),
        json=_predict_body([_task(1, "good")], MULTI_CONFIG),
    )
    assert multiple.status_code == 200
    assert multiple.json()["results"] == [{"model_version": "labelloop-untrained", "result": []}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"label_config": CONFIG}, "tasks"),
        ({"tasks": [{"id": 1}], "label_config": CONFIG}, "tasks.0.data"),
        ({"tasks": "x", "label_config": CONFIG}, "tasks"),
    ],
)
def test_malformed_predict_bodies_name_the_field(backend: Backend, body: dict, field: str) -> None:
    answer = HTTP.post(f"{backend.base()}/predict", headers=backend.auth(), json=body)
    assert answer.status_code == 422
    assert answer.json()["field"] == field


def _item(db: Database, project_id: int, external_id: str) -> tuple[ItemRow, list[AnnotationRow]]:
    with db.read() as session:
        item = session.execute(
            select(ItemRow).where(
                ItemRow.project_id == project_id, ItemRow.external_id == external_id
            )
        ).scalar_one()
        notes = (
            session.execute(select(AnnotationRow).where(AnnotationRow.item_id == item.id))
            .scalars()
            .all()
        )
        return item, list(notes)


def test_webhook_annotations_become_labels_and_start_training_retrains(backend: Backend) -> None:
    hook = f"{backend.base()}/webhook"
    task = _task(501, "lovely good film from the new batch")
    created = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_annotation_event("ANNOTATION_CREATED", 90, task, ["negative"]),
    )
    assert created.status_code == 201, created.text
    item, notes = _item(backend.db, backend.project_id, "ls-501")
    assert item.payload == {"text": task["data"]["text"]}
    assert item.final_label == "negative"
    assert [n.actor for n in notes] == ["label-studio:annotation-90"]

    updated = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_annotation_event("ANNOTATION_UPDATED", 90, task, ["positive"]),
    )
    assert updated.status_code == 201
    item, notes = _item(backend.db, backend.project_id, "ls-501")
    assert item.final_label == "positive"
    assert sorted(n.status for n in notes) == ["active", "undone"]

    deleted = HTTP.post(
        hook,
        headers=backend.auth(),
        json={"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 90}], "project": {"id": 7}},
    )
    assert deleted.status_code == 201 and deleted.json()["withdrawn"] == 1
    item, _notes = _item(backend.db, backend.project_id, "ls-501")
    assert item.final_label is None

    again = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_annotation_event("ANNOTATION_CREATED", 91, task, ["positive"]),
    )
    assert again.status_code == 201
    train = HTTP.post(
        hook,
        headers=backend.auth(),
        json={"action": "START_TRAINING", "project": {"id": 7, "label_config": CONFIG}},
    )
    assert train.status_code == 201 and train.json()["job_id"]
    deadline = time.monotonic() + 90
    version = None
    while time.monotonic() < deadline:
        version = HTTP.post(
            f"{backend.base()}/setup", headers=backend.auth(), json={"schema": CONFIG}
        ).json()["model_version"]
        if version == "labelloop-v2":
            break
        time.sleep(0.2)
    assert version == "labelloop-v2"
    # The retrained model learnt from the 41 labels, the webhook's one among them.
    info, _model = rounds.load_project_model(backend.db, backend.project_id)
    assert info.version == 2
    dataset = versions.get_dataset_version(backend.db, backend.project_id, info.dataset_version)
    assert dataset.n_items == 41


def test_webhook_refuses_a_choice_the_project_does_not_have(backend: Backend) -> None:
    event = _annotation_event("ANNOTATION_CREATED", 95, _task(601, "meh"), ["neutral"])
    answer = HTTP.post(f"{backend.base()}/webhook", headers=backend.auth(), json=event)
    assert answer.status_code == 422
    assert answer.json()["field"] == "annotation.result.0.value.choices"
    assert "'neutral'" in answer.json()["detail"]


def test_a_skipped_annotation_withdraws_and_other_events_are_acknowledged(
    backend: Backend,
) -> None:
    task = _task(701, "good good film")
    hook = f"{backend.base()}/webhook"
    HTTP.post(
        hook,
        headers=backend.auth(),
        json=_annotation_event("ANNOTATION_CREATED", 97, task, ["positive"]),
    )
    skipped = _annotation_event("ANNOTATION_UPDATED", 97, task, ["positive"])
    skipped["annotation"]["was_cancelled"] = True
    answer = HTTP.post(hook, headers=backend.auth(), json=skipped)
    assert answer.json()["withdrawn"] == 1
    other = HTTP.post(
        hook, headers=backend.auth(), json={"action": "PROJECT_UPDATED", "project": {"id": 7}}
    )
    assert other.status_code == 201 and other.json()["action"] == "ignore"


def test_a_new_task_becomes_an_item_with_the_text_its_object_tag_shows(backend: Backend) -> None:
    config = CONFIG.replace("$text", "$review")
    event = _annotation_event(
        "ANNOTATION_CREATED", 120, {"id": 801, "data": {"review": "dull"}}, ["negative"]
    )
    event["project"]["label_config"] = config
    answer = HTTP.post(f"{backend.base()}/webhook", headers=backend.auth(), json=event)
    assert answer.status_code == 201, answer.text
    item, _notes = _item(backend.db, backend.project_id, "ls-801")
    assert item.payload == {"review": "dull", "text": "dull"}
    assert item.final_label == "negative"


def test_a_task_that_cannot_become_an_item_is_a_clear_422(backend: Backend) -> None:
    event = _annotation_event(
        "ANNOTATION_CREATED", 121, {"id": 802, "data": {"n": 3}}, ["negative"]
    )
    answer = HTTP.post(f"{backend.base()}/webhook", headers=backend.auth(), json=event)
    assert answer.status_code == 422
    assert answer.json()["field"] == "task.data"
    assert "task 'ls-802' cannot become an item" in answer.json()["detail"]
