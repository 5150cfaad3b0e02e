"""``label-studio connect`` and ``label-studio predict`` on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.io.label_studio import parse_label_config


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db])

    assert invoke("init").exit_code == 0
    assert invoke("project", "create", "rev", "--labels", "pos,neg").exit_code == 0
    return invoke


def test_connect_prints_the_backend_url_and_a_fitting_config(run) -> None:
    result = run("label-studio", "connect", "rev", "--server", "http://ll.example:8000/")
    assert result.exit_code == 0, result.output
    assert "Backend URL:        http://ll.example:8000/label-studio/1" in result.stdout
    assert "Basic Authentication" in result.stdout
    settings = json.loads(run("label-studio", "connect", "rev", "--json").stdout)
    assert settings["url"] == "http://127.0.0.1:8000/label-studio/1"
    assert settings["auth_method"] == "BASIC_AUTH"
    assert settings["model_version"] == "labelloop-untrained"
    assert settings["webhook"]["url"] == "http://127.0.0.1:8000/label-studio/1/webhook"
    (control,) = parse_label_config(settings["label_config"]).choices
    assert control.choices == ("pos", "neg") and not control.multiple


def test_connect_refuses_a_server_that_is_not_a_url(run) -> None:
    result = run("label-studio", "connect", "rev", "--server", "ll.example")
    assert result.exit_code != 0
    assert "--server must be an http(s) URL" in result.output


def test_predict_writes_tasks_with_predictions_for_import(run, tmp_path) -> None:
    records = tmp_path / "labelled.jsonl"
    records.write_text(
        "\n".join(
            json.dumps({"id": f"r{i}", "text": f"{'good' if i % 2 else 'bad'} film {i}",
                        "label": "pos" if i % 2 else "neg"})
            for i in range(20)
        )
    )  # fmt: skip
    assert run("import", "rev", str(records)).exit_code == 0
    assert run("train", "rev").exit_code == 0
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"data": {"text": "good film"}}, {"text": "bad film"}]))
    out = tmp_path / "out.json"
    result = run("label-studio", "predict", "rev", str(tasks), "-o", str(out))
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert [t["data"]["text"] for t in written] == ["good film", "bad film"]
    choices = [t["predictions"][0]["result"][0]["value"]["choices"] for t in written]
    assert choices == [["pos"], ["neg"]]
    assert all(t["predictions"][0]["model_version"] == "labelloop-v1" for t in written)


def test_predict_names_a_bad_tasks_file(run, tmp_path) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text("{not json")
    result = run("label-studio", "predict", "rev", str(tasks), "-o", str(tmp_path / "o.json"))
    assert result.exit_code != 0
    assert "tasks.json: not a JSON file of tasks" in result.output
