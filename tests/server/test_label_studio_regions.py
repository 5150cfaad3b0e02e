"""labelloop as the Label Studio ML backend of entity and box projects, against a real
``labelloop serve`` on loopback: ``labels`` and ``rectanglelabels`` predictions from the
items' latest spans and boxes, and annotations of those types recorded as spans and boxes.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from loopback import serving
from PIL import Image
from sqlalchemy import select

from labelloop.engine import ingest, projects, users
from labelloop.engine.predictions import push_predictions
from labelloop.store.db import Database
from labelloop.store.tables import AnnotationRow, ItemRow

TEXT = "Anna Smith flew to Paris"
NER_CONFIG = """<View>
  <Labels name="entity" toName="doc">
    <Label value="PER"/>
    <Label value="LOC"/>
    <Label value="MISC"/>
  </Labels>
  <Text name="doc" value="$body"/>
</View>"""
BOX_CONFIG = """<View>
  <Image name="img" value="$image"/>
  <RectangleLabels name="shape" toName="img">
    <Label value="cat"/>
    <Label value="dog"/>
  </RectangleLabels>
</View>"""
CHOICES_CONFIG = """<View><Text name="doc" value="$body"/>
  <Choices name="kind" toName="doc"><Choice value="PER"/><Choice value="LOC"/></Choices>
</View>"""
HTTP = httpx.Client(timeout=120)


@dataclass
class Backend:
    url: str
    db: Database
    ner: int
    boxes: int
    token: str

    def base(self, project_id: int) -> str:
        return f"{self.url}/label-studio/{project_id}"

    def auth(self) -> dict[str, str]:
        secret = base64.b64encode(f"label-studio:{self.token}".encode()).decode()
        return {"Authorization": f"Basic {secret}"}


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, _sqlite_template) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("label-studio-regions")
    path = root / "labelloop.db"
    shutil.copyfile(_sqlite_template, path)
    images = root / "media"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        pixels = rng.integers(0, 255, size=(50, 200, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / name)
    db = Database(f"sqlite:///{path}")
    settings = {"eval_share": 0, "eval_min": 0, "retrain_every": 0, "eval_min_labels": 0}
    ner = projects.create_project(
        db,
        actor="cli:test",
        name="people",
        task_type="ner",
        labels=["PER", "LOC"],
        settings=settings,
    )
    boxes = projects.create_project(
        db,
        actor="cli:test",
        name="pets",
        task_type="boxes",
        labels=["cat", "dog"],
        settings={**settings, "media_root": str(root), "label_studio_id_field": "labelloop_id"},
    )
    ingest.import_items(
        db,
        actor="cli:test",
        project=ner.id,
        records=[{"id": "ls-1", "text": TEXT}, {"id": "ls-2", "text": "nothing at all"}],
    )
    ingest.import_items(db, actor="cli:test", project=boxes.id, path=images)
    push_predictions(
        db,
        project_id=ner.id,
        actor="model:crf",
        model_version="crf-7",
        predictions=[
            {
                "item_id": "ls-1",
                "spans": [
                    {"start": 0, "end": 10, "label": "PER", "score": 0.9},
                    {"start": 19, "end": 24, "label": "LOC", "score": 0.6},
                ],
                "score": 0.4,
            }
        ],
    )
    push_predictions(
        db,
        project_id=boxes.id,
        actor="model:detector",
        model_version="det-1",
        predictions=[
            {
                "item_id": "a.png",
                "boxes": [{"bbox": [20, 5, 120, 30], "label": "dog", "score": 0.7}],
            }
        ],
    )
    _info, token = users.create_user(
        db, actor="cli:test", name="ls", role="model", projects=[ner.id, boxes.id]
    )
    try:
        with serving(f"sqlite:///{path}", root / "serve.log") as url:
            yield Backend(url, db, ner.id, boxes.id, token)
    finally:
        db.dispose()


def _body(tasks: list[dict], config: str) -> dict:
    return {
        "tasks": tasks,
        "model_version": None,
        "project": "7.1733300000",
        "label_config": config,
        "params": {"login": None, "password": None, "context": None},
    }


def _event(action: str, annotation_id: int, task: dict, result: list[dict], config: str) -> dict:
    return {
        "action": action,
        "annotation": {"id": annotation_id, "result": result, "was_cancelled": False},
        "task": task,
        "project": {"id": 7, "label_config": config},
    }


def _span(start: int, end: int, label: str, text: str) -> dict:
    return {
        "from_name": "entity",
        "to_name": "doc",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
    }


def _labels(db: Database, project_id: int, external_id: str) -> list:
    with db.read() as session:
        return list(
            session.execute(
                select(AnnotationRow.label)
                .join(ItemRow, ItemRow.id == AnnotationRow.item_id)
                .where(
                    ItemRow.project_id == project_id,
                    ItemRow.external_id == external_id,
                    AnnotationRow.status == "active",
                )
            ).scalars()
        )


def test_setup_checks_the_region_control(backend: Backend) -> None:
    ok = HTTP.post(
        f"{backend.base(backend.ner)}/setup",
        headers=backend.auth(),
        json={"project": "7.1", "schema": NER_CONFIG},
    )
    assert ok.status_code == 200, ok.text
    wrong = HTTP.post(
        f"{backend.base(backend.ner)}/setup",
        headers=backend.auth(),
        json={"project": "7.1", "schema": CHOICES_CONFIG},
    )
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "label_config"
    assert "<Labels>" in wrong.json()["detail"] and "Choices kind" in wrong.json()["detail"]


def test_ner_predict_gives_labels_results_with_span_scores(backend: Backend) -> None:
    tasks = [
        {"id": 1, "data": {"body": TEXT}},
        {"id": 2, "data": {"body": "nothing at all"}},
        {"id": 99, "data": {"body": "unknown task"}},
    ]
    answer = HTTP.post(
        f"{backend.base(backend.ner)}/predict",
        headers=backend.auth(),
        json=_body(tasks, NER_CONFIG),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == "crf-7"
    first, second, third = body["results"]
    assert first["score"] == pytest.approx(0.4) and first["model_version"] == "crf-7"
    assert [r["value"] for r in first["result"]] == [
        {"start": 0, "end": 10, "text": "Anna Smith", "labels": ["PER"]},
        {"start": 19, "end": 24, "text": "Paris", "labels": ["LOC"]},
    ]
    assert [r["score"] for r in first["result"]] == [0.9, 0.6]
    assert {(r["from_name"], r["to_name"], r["type"]) for r in first["result"]} == {
        ("entity", "doc", "labels")
    }
    # No model structure for these items yet: said as classification says it.
    assert second == third == {"model_version": "labelloop-untrained", "result": []}


def test_box_predict_gives_rectanglelabels_in_percent(backend: Backend) -> None:
    tasks = [
        {"id": 5, "data": {"image": "http://x/a.png", "labelloop_id": "a.png"}},
        {"id": 6, "data": {"image": "http://x/b.png", "labelloop_id": "b.png"}},
    ]
    answer = HTTP.post(
        f"{backend.base(backend.boxes)}/predict",
        headers=backend.auth(),
        json=_body(tasks, BOX_CONFIG),
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    (result,) = first["result"]
    assert result["type"] == "rectanglelabels" and result["from_name"] == "shape"
    assert result["to_name"] == "img" and result["score"] == pytest.approx(0.7)
    assert result["original_width"] == 200 and result["original_height"] == 50
    value = result["value"]
    assert value["rectanglelabels"] == ["dog"] and value["rotation"] == 0
    assert (value["x"], value["y"]) == pytest.approx((10.0, 10.0))
    assert (value["width"], value["height"]) == pytest.approx((50.0, 50.0))
    assert isinstance(first["score"], float)
    assert second == {"model_version": "labelloop-untrained", "result": []}


@pytest.mark.parametrize(
    ("project", "config", "words"),
    [
        ("ner", CHOICES_CONFIG, ["<Labels>", "Choices kind"]),
        ("ner", NER_CONFIG.replace('<Label value="LOC"/>', ""), ["'LOC'", "entity"]),
        ("boxes", NER_CONFIG, ["<RectangleLabels>"]),
        ("boxes", BOX_CONFIG.replace('<Label value="cat"/>', ""), ["'cat'", "shape"]),
    ],
)
def test_configs_that_do_not_fit_are_a_clear_422(
    backend: Backend, project: str, config: str, words: list[str]
) -> None:
    project_id = backend.ner if project == "ner" else backend.boxes
    answer = HTTP.post(
        f"{backend.base(project_id)}/predict",
        headers=backend.auth(),
        json=_body([{"id": 1, "data": {"body": TEXT}}], config),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "label_config"
    for word in words:
        assert word in answer.json()["detail"]


def test_ner_webhook_records_spans_and_imports_new_tasks(backend: Backend) -> None:
    hook = f"{backend.base(backend.ner)}/webhook"
    task = {"id": 1, "data": {"body": TEXT}}
    result = [_span(0, 10, "PER", TEXT), _span(19, 24, "LOC", TEXT)]
    created = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_event("ANNOTATION_CREATED", 41, task, result, NER_CONFIG),
    )
    assert created.status_code == 201, created.text
    assert _labels(backend.db, backend.ner, "ls-1") == [
        [
            {"start": 0, "end": 10, "label": "PER"},
            {"start": 19, "end": 24, "label": "LOC"},
        ]
    ]
    updated = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_event("ANNOTATION_UPDATED", 41, task, result[:1], NER_CONFIG),
    )
    assert updated.status_code == 201, updated.text
    assert _labels(backend.db, backend.ner, "ls-1") == [[{"start": 0, "end": 10, "label": "PER"}]]
    # A task labelloop does not hold becomes an item with the text its object tag shows.
    text = "Bob went to Rome"
    fresh = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_event(
            "ANNOTATION_CREATED",
            42,
            {"id": 77, "data": {"body": text}},
            [_span(0, 3, "PER", text)],
            NER_CONFIG,
        ),
    )
    assert fresh.status_code == 201, fresh.text
    assert "item imported" in fresh.json()["result"]
    assert _labels(backend.db, backend.ner, "ls-77") == [[{"start": 0, "end": 3, "label": "PER"}]]


@pytest.mark.parametrize(
    ("result", "field", "word"),
    [
        ([_span(0, 10, "PER", TEXT), _span(0, 4, "MISC", TEXT)], "annotation.result.1", "MISC"),
        (
            [{**_span(0, 10, "PER", TEXT), "value": {"start": 0, "end": 10, "text": "Anna",
                                                      "labels": ["PER"]}}],
            "annotation.result.0.value.text",
            "Anna",
        ),
        ([_span(0, 10, "PER", TEXT), _span(3, 12, "LOC", TEXT)], "annotation.result", "overlap"),
    ],
)  # fmt: skip
def test_bad_span_annotations_name_the_result_and_change_nothing(
    backend: Backend, result: list, field: str, word: str
) -> None:
    before = _labels(backend.db, backend.ner, "ls-2")
    answer = HTTP.post(
        f"{backend.base(backend.ner)}/webhook",
        headers=backend.auth(),
        json=_event(
            "ANNOTATION_CREATED", 50, {"id": 2, "data": {"body": TEXT}}, result, NER_CONFIG
        ),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"].startswith(field)
    assert word in answer.json()["detail"]
    assert _labels(backend.db, backend.ner, "ls-2") == before


def _rect(x: float, y: float, w: float, h: float, label: str, **extra) -> dict:
    return {
        "from_name": "shape",
        "to_name": "img",
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 50,
        "image_rotation": 0,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0,
                  "rectanglelabels": [label], **extra},
    }  # fmt: skip


def test_box_webhook_records_boxes_in_pixels(backend: Backend) -> None:
    hook = f"{backend.base(backend.boxes)}/webhook"
    task = {"id": 5, "data": {"image": "http://x/b.png", "labelloop_id": "b.png"}}
    answer = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_event("ANNOTATION_CREATED", 61, task, [_rect(10, 20, 25, 40, "cat")], BOX_CONFIG),
    )
    assert answer.status_code == 201, answer.text
    (label,) = _labels(backend.db, backend.boxes, "b.png")
    assert label == [{"bbox": [20.0, 10.0, 70.0, 30.0], "label": "cat"}]
    rotated = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_event(
            "ANNOTATION_UPDATED", 61, task, [_rect(1, 1, 5, 5, "dog", rotation=30)], BOX_CONFIG
        ),
    )
    assert rotated.status_code == 422
    assert rotated.json()["field"] == "annotation.result.0.value.rotation"
    assert _labels(backend.db, backend.boxes, "b.png") == [label]
    unknown = HTTP.post(
        hook,
        headers=backend.auth(),
        json=_event("ANNOTATION_CREATED", 62, {"id": 9, "data": {"labelloop_id": "zzz.png"}},
                    [_rect(1, 1, 5, 5, "dog")], BOX_CONFIG),
    )  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["field"] == "task"
    assert "media root" in unknown.json()["detail"]
