"""Label Studio for entity and box projects in the engine, on SQLite and PostgreSQL:
region controls chosen, predictions from the items' latest structure, events read."""

from __future__ import annotations

import pytest

from labelloop.engine import label_studio
from labelloop.engine.ingest import import_items
from labelloop.engine.predictions import push_predictions
from labelloop.engine.projects import create_project
from labelloop.exceptions import ValidationError

TEXT = "Anna Smith flew to Paris"
NER = (
    '<View><Text name="t" value="$text"/><Labels name="e" toName="t">'
    '<Label value="PER"/><Label value="LOC"/></Labels></View>'
)
BOXES = (
    '<View><Image name="i" value="$image"/><RectangleLabels name="r" toName="i">'
    '<Label value="cat"/></RectangleLabels></View>'
)


def test_region_controls_are_chosen_by_task_type():
    assert label_studio.choose_region_control(NER, task_type="ner", labels=["PER"]).name == "e"
    assert label_studio.choose_region_control(BOXES, task_type="boxes", labels=["cat"]).type == (
        "rectanglelabels"
    )
    with pytest.raises(ValidationError, match="no <RectangleLabels>") as raised:
        label_studio.choose_region_control(NER, task_type="boxes", labels=["cat"])
    assert raised.value.field == "label_config"
    misplaced = NER.replace('<Text name="t"', '<Image name="t"')
    with pytest.raises(ValidationError, match="labels a <image>, not a <Text>"):
        label_studio.choose_region_control(misplaced, task_type="ner", labels=["PER"])
    with pytest.raises(ValidationError, match="lacks 'ORG'"):
        label_studio.choose_region_control(NER, task_type="ner", labels=["PER", "ORG"])


def test_region_predictions_come_from_the_latest_structure(database):
    project = create_project(
        database, actor="cli:test", name="p", task_type="ner", labels=["PER", "LOC"]
    ).id
    import_items(
        database, actor="cli:test", project=project, records=[{"id": "ls-1", "text": TEXT}]
    )
    for version, end in (("old", 4), ("new", 10)):
        push_predictions(
            database,
            project_id=project,
            actor="model:m",
            model_version=version,
            predictions=[
                {
                    "item_id": "ls-1",
                    "spans": [{"start": 0, "end": end, "label": "PER", "score": 0.5}],
                }
            ],
        )
    control = label_studio.choose_region_control(NER, task_type="ner", labels=["PER", "LOC"])
    tasks = [{"id": 1, "data": {"text": TEXT}}, {"id": 2, "data": {"text": "x"}}]
    results, name = label_studio.predict_region_tasks(
        database, tasks, project_id=project, control=control, id_field=None
    )
    assert name == "new"
    assert results[0]["result"][0]["value"] == {
        "start": 0, "end": 10, "text": "Anna Smith", "labels": ["PER"]
    }  # fmt: skip
    assert results[1] == {"model_version": "labelloop-untrained", "result": []}


def test_region_events_name_the_result_and_field():
    body = {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": 3, "result": [
            {"type": "choices", "from_name": "other", "value": {"choices": ["x"]}},
            {"type": "labels", "from_name": "e", "to_name": "t",
             "value": {"start": 0, "end": 4, "labels": ["PER"]}},
            {"type": "labels", "from_name": "e", "to_name": "t",
             "value": {"start": 19, "end": 99, "labels": ["LOC"]}},
        ]},
        "task": {"id": 8, "data": {"text": TEXT}},
        "project": {"label_config": NER},
    }  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        label_studio.read_event(
            body, labels=["PER", "LOC"], multi_label=False, id_field=None, task_type="ner"
        )
    assert raised.value.field.startswith("annotation.result.2")
    body["annotation"]["result"][2]["value"]["end"] = 24
    event = label_studio.read_event(
        body, labels=["PER", "LOC"], multi_label=False, id_field=None, task_type="ner"
    )
    assert event.action == "label" and event.external_id == "ls-8"
    assert event.label == [
        {"start": 0, "end": 4, "label": "PER"},
        {"start": 19, "end": 24, "label": "LOC"},
    ]
    body["annotation"]["was_cancelled"] = True
    assert (
        label_studio.read_event(
            body, labels=["PER", "LOC"], multi_label=False, id_field=None, task_type="ner"
        ).action
        == "withdraw"
    )
