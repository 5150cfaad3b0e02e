"""The Label Studio rules: label configs, events, predictions through `Workspace`,
and a backend's results read back as probabilities."""

from __future__ import annotations

import pytest

from labelloop.engine import label_studio
from labelloop.engine.workspace import Workspace
from labelloop.exceptions import ValidationError
from labelloop.io.label_studio import label_config_for, parse_label_config

CONFIG = (
    '<View><Header value="Rate it"/><Text name="review" value="$review"/>'
    '<Choices name="mood" toName="review" choice="multiple"><Choice value="pos"/>'
    '<Choice value="neg"/><Choice value="meh"/></Choices>'
    '<Rating name="stars" toName="review"/><TextArea name="note" toName="review"/></View>'
)


def test_parse_reads_choices_and_lists_unsupported_controls() -> None:
    config = parse_label_config(CONFIG)
    (control,) = config.choices
    assert (control.name, control.to_name, control.data_field) == ("mood", "review", "review")
    assert control.choices == ("pos", "neg", "meh") and control.multiple
    assert config.unsupported == ("Rating stars", "TextArea note")


def test_alias_is_what_results_carry() -> None:
    xml = (
        '<View><Text name="t" value="$text"/><Choices name="c" toName="t">'
        '<Choice value="Positive" alias="pos"/><Choice value="neg"/></Choices></View>'
    )
    assert parse_label_config(xml).choices[0].choices == ("pos", "neg")


def test_the_generated_config_round_trips() -> None:
    xml = label_config_for(["a&b", 'say "hi"'], multi_label=True, text_field="body")
    (control,) = parse_label_config(xml).choices
    assert control.choices == ("a&b", 'say "hi"') and control.multiple
    assert control.data_field == "body"


def test_choose_control_skips_controls_that_do_not_fit() -> None:
    xml = (
        '<View><Text name="t" value="$text"/>'
        '<Choices name="first" toName="t"><Choice value="x"/></Choices>'
        '<Choices name="second" toName="t"><Choice value="pos"/><Choice value="neg"/></Choices>'
        "</View>"
    )
    assert label_studio.choose_control(xml, labels=["pos", "neg"], multi_label=False).name == (
        "second"
    )
    with pytest.raises(ValidationError, match="'first'> lacks 'pos', 'neg'"):
        label_studio.choose_control(xml, labels=["pos", "neg", "z"], multi_label=False)


def _event(action: str, **annotation) -> dict:
    return {
        "action": action,
        "annotation": {"id": 5, "result": [], "was_cancelled": False, **annotation},
        "task": {"id": 8, "data": {"text": "hi", "doc": "d-1"}},
        "project": {"id": 1, "label_config": label_config_for(["a", "b"], multi_label=True)},
    }


def _choices(*values: str) -> list[dict]:
    return [
        {
            "from_name": "label",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": list(values)},
        }
    ]


def test_read_event_multi_label_and_id_field() -> None:
    event = label_studio.read_event(
        _event("ANNOTATION_CREATED", result=_choices("a", "b")),
        labels=["a", "b"],
        multi_label=True,
        id_field="doc",
    )
    assert (event.action, event.external_id, event.labels) == ("label", "d-1", ["a", "b"])
    assert event.actors == ("label-studio:annotation-5",)
    with pytest.raises(ValidationError, match="no id in field 'nope'"):
        label_studio.read_event(
            _event("ANNOTATION_CREATED", result=_choices("a")),
            labels=["a", "b"], multi_label=True, id_field="nope",
        )  # fmt: skip


def test_read_event_single_label_needs_one_value() -> None:
    payload = _event("ANNOTATION_CREATED", result=_choices("a", "b"))
    payload["project"]["label_config"] = label_config_for(["a", "b"], multi_label=False)
    with pytest.raises(ValidationError, match="single-label; choose one value"):
        label_studio.read_event(payload, labels=["a", "b"], multi_label=False, id_field=None)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "action"),
        ({"action": "ANNOTATION_CREATED", "task": {"id": 1, "data": {}}}, "annotation"),
        ({"action": "ANNOTATIONS_DELETED", "annotations": [{}]}, "annotations.0.id"),
    ],
)
def test_malformed_events_name_the_field(payload: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        label_studio.read_event(payload, labels=["a"], multi_label=False, id_field=None)
    assert info.value.field == field


def test_results_to_probabilities_multi_label_and_unusable() -> None:
    results = [
        {"result": _choices("a"), "score": 0.9},
        {"result": _choices("zzz")},
        {"result": []},
        "not a prediction",
    ]
    assert label_studio.results_to_probabilities(results, labels=["a", "b"], multi_label=True) == [
        {"a": 0.9, "b": pytest.approx(0.1)},
        None,
        None,
        None,
    ]


def test_workspace_predicts_label_studio_tasks(tmp_path) -> None:
    with Workspace(f"sqlite:///{tmp_path / 'ws.db'}", actor="test") as ws:
        project = ws.create_project(
            "rev", task_type="classification", labels=["pos", "neg"],
            settings={"eval_share": 0, "eval_min": 0},
        )  # fmt: skip
        untrained = project.label_studio_predict([{"id": 1, "data": {"text": "good"}}])
        assert untrained == [{"model_version": "labelloop-untrained", "result": []}]
        project.add_items(
            [
                {
                    "id": f"r{i}",
                    "text": f"{'good' if i % 2 else 'bad'} film",
                    "label": "pos" if i % 2 else "neg",
                }
                for i in range(20)
            ]
        )
        project.train()
        (prediction,) = project.label_studio_predict([{"id": 1, "data": {"text": "good film"}}])
        assert prediction["model_version"] == "labelloop-v1"
        assert prediction["result"][0]["value"]["choices"] == ["pos"]
        assert prediction["result"][0]["from_name"] == "label"
        with pytest.raises(ValidationError, match="no <Choices> control"):
            project.label_studio_predict(
                [{"id": 1, "data": {"text": "x"}}],
                label_config='<View><Text name="t" value="$text"/></View>',
            )
