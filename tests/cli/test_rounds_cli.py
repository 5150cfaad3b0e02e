"""The train, query, status and versions commands, through Typer's runner on a real SQLite file."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from labelloop.cli import app

WORDS = {"pos": ["good", "great", "lovely"], "neg": ["bad", "awful", "dull"]}


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str):
        return runner.invoke(app, [*args, "--db", db])

    assert invoke("init").exit_code == 0
    return invoke


@pytest.fixture
def project(run, tmp_path):
    created = run(
        "project", "create", "rev", "--labels", "pos,neg",
        "--set", "batch_size=5", "--set", "eval_min=10",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    lines = []
    for i in range(150):
        label = "pos" if i % 2 == 0 else "neg"
        record = {"id": f"r{i}", "text": f"{WORDS[label][i % 3]} {WORDS[label][(i + 1) % 3]} x{i}"}
        if i < 30:
            record["label"] = label
        lines.append(json.dumps(record))
    (tmp_path / "items.jsonl").write_text("\n".join(lines) + "\n")
    imported = run("import", "rev", "items.jsonl")
    assert imported.exit_code == 0, imported.output
    return "rev"


def test_train_query_status_and_versions(run, project):
    before = run("status", project)
    assert before.exit_code == 0, before.output
    assert "keep labelling" in before.stdout and "no model trained yet" in before.stdout
    # The verdict in plain words comes first, its statistics on a details line below.
    first, second = before.stdout.splitlines()[:2]
    assert first == "keep labelling: no model has been trained yet"
    assert second.startswith("details: no model trained yet")

    trained = run("train", project)
    assert trained.exit_code == 0, trained.output
    assert "round 1: dataset version 1" in trained.stderr
    assert "model version 1" in trained.stderr and "cross-validation" in trained.stderr

    queried = run("query", project, "--n", "7")
    assert queried.exit_code == 0, queried.output
    ids = re.findall(r"│\s+\d+\s+│\s+(r\d+)\s+│", queried.stdout)
    assert len(ids) == len(set(ids)) == 7
    assert "next 7 to label" in queried.stdout and "reason" in queried.stdout

    assert run("train", project).exit_code == 0
    status = run("status", project)
    assert status.exit_code == 0, status.output
    assert "rounds" in status.stdout and "acc " in status.stdout
    assert "diminishing returns" in status.stdout or "keep labelling" in status.stdout

    listed = run("versions", "list", project)
    assert listed.exit_code == 0, listed.output
    assert "dataset versions" in listed.stdout
    diff = run("versions", "diff", project, "1", "2")
    assert diff.exit_code == 0, diff.output
    assert "dataset version 1 -> 2: 0 added, 0 removed, 0 relabelled" in diff.stdout


def test_errors_exit_2_with_a_message(run, project):
    unknown = run("train", "nope")
    assert unknown.exit_code == 2 and "no project 'nope'" in unknown.stderr
    missing = run("versions", "diff", project, "1", "2")
    assert missing.exit_code == 2 and "no dataset versions yet" in missing.stderr
    assert run("query", project, "--n", "0").exit_code == 2


def test_commands_need_an_existing_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["status", "rev", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "labelloop init" in result.stderr


def test_a_model_that_cannot_fit_the_labels_exits_2_and_keeps_nothing(run, project):
    # The setting is valid (GaussianNB has predict_proba); TF-IDF features are sparse.
    assert run("project", "set", project, "model=sklearn.naive_bayes:GaussianNB").exit_code == 0
    failed = run("train", project)
    assert failed.exit_code == 2
    assert "model estimator 'sklearn.naive_bayes:GaussianNB' failed to fit" in failed.output
    assert "Traceback" not in failed.output
    assert "no model trained yet" in run("status", project).stdout
    assert run("project", "set", project, "model=logistic_regression").exit_code == 0
    assert "round 1: dataset version 1" in run("train", project).output


def test_status_shows_the_evaluation_n_interval_and_minimum(run, project):
    assert run("train", project).exit_code == 0
    status = run("status", project)
    assert status.exit_code == 0, status.output
    # The import labelled 2 of the 10 evaluation items; the default minimum is 30.
    assert "eval set: not enough evaluation labels yet (2 of 10)" in status.stdout
    first, second = status.stdout.splitlines()[:2]
    assert first == "keep labelling: too few evaluation labels to judge the model yet"
    assert "not enough evaluation labels yet (2 of 10)" in second
    trained = run("train", project)
    assert re.search(
        r"eval set:\s+acc \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]  F1 \d\.\d{3}  \(n=2\)", trained.stderr
    ), trained.stderr
    assert run("project", "set", project, "eval_min_labels=2").exit_code == 0
    enough = run("status", project)
    assert "not enough evaluation labels" not in enough.stdout


def test_import_after_a_round_scores_the_new_items(run, project, tmp_path):
    assert run("train", project).exit_code == 0
    late = [{"id": f"late{i}", "text": f"{WORDS['pos'][i % 3]} late{i}"} for i in range(4)]
    (tmp_path / "late.jsonl").write_text("".join(json.dumps(r) + "\n" for r in late))
    imported = run("import", project, "late.jsonl")
    assert imported.exit_code == 0, imported.output
    assert "scored 4 new item(s) with model version 1" in imported.stderr

    (tmp_path / "later.jsonl").write_text(json.dumps({"id": "later", "text": "good"}) + "\n")
    left = run("import", project, "later.jsonl", "--no-score")
    assert left.exit_code == 0, left.output
    assert "the new items wait for model version 1 (a score_new job)" in left.stderr


def test_fairness_reports_groups_or_says_how_to_name_them(run, project):
    unnamed = run("fairness", project)
    assert unnamed.exit_code == 0, unnamed.output
    assert "set group_fields" in unnamed.stderr
    assert run("project", "set", project, 'group_fields=["lang"]').exit_code == 0
    assert run("train", project).exit_code == 0
    named = run("fairness", project, "--json")
    assert named.exit_code == 0, named.output
    report = json.loads(named.stdout)
    [field] = report["fields"]
    assert field["field"] == "lang" and field["groups"][0]["group"] == "(none)"
    assert field["groups"][0]["n_pool"] == 150
    table = run("fairness", project, "--field", "lang")
    assert "groups by lang" in table.stdout and "(none)" in table.stdout


def test_status_tells_the_savings_and_the_forecast_to_the_target(run, project, tmp_path):
    young = run("status", project)
    assert "the forecast needs 4 rounds" in young.stdout
    settings = ("target_score=0.99", "eval_min_labels=2")
    assert run("project", "set", project, *settings).exit_code == 0
    for k in range(4):
        lines = []
        for i in range(10):
            label = "pos" if i % 2 == 0 else "neg"
            text = f"{WORDS[label][i % 3]} {WORDS[label][(i + 1) % 3]} y{k}-{i}"
            lines.append(json.dumps({"id": f"n{k}-{i}", "text": text, "label": label}))
        (tmp_path / "more.jsonl").write_text("\n".join(lines) + "\n")
        imported = run("import", project, "more.jsonl")
        assert imported.exit_code == 0, imported.output
        assert run("train", project).exit_code == 0
    status = run("status", project)
    assert status.exit_code == 0, status.output
    text = " ".join(status.stdout.split())
    assert "the forecast needs" not in text
    assert "target 0.99" in text or "to reach 0.99" in text


def test_train_scores_the_pool_on_the_dask_cluster_it_is_given(run, project, tmp_path):
    distributed = pytest.importorskip("distributed")
    from labelloop.engine.rounds import list_rounds
    from labelloop.store.db import Database

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        trained = run("train", project, "--dask", cluster.scheduler_address)
    assert trained.exit_code == 0, trained.output
    assert "round 1" in trained.stderr and "scored on Dask:" in trained.stderr
    db = Database.from_url(str(tmp_path / "cli.db"))
    (round_,) = list_rounds(db, project)
    assert round_.metrics["dask"]["pool_scored"] == round_.metrics["pool_size"]
    db.dispose()


def test_status_lists_labels_per_class_and_marks_the_rare_ones(run, tmp_path):
    created = run("project", "create", "odd", "--labels", "pos,neg,odd", "--set", "rare_classes=on")
    assert created.exit_code == 0, created.output
    lines = [json.dumps({"id": f"r{i}", "text": f"good {i}", "label": "pos"}) for i in range(6)]
    (tmp_path / "odd.jsonl").write_text("\n".join(lines) + "\n")
    assert run("import", "odd", "odd.jsonl").exit_code == 0
    shown = run("status", "odd")
    assert shown.exit_code == 0, shown.output
    assert "labels per class: pos 6, neg 0 (rare), odd 0 (rare)" in shown.output
    refused = run("project", "set", "odd", "group_sampling=fair")
    assert refused.exit_code != 0 and "group_sampling" in refused.output


def test_an_entity_project_trains_and_counts_tokens(run, tmp_path):
    pytest.importorskip("pycrfsuite")
    created = run(
        "project", "create", "tweets", "--task", "ner", "--labels", "PER,LOC",
        "--set", "batch_tokens=12", "--set", "eval_min=4", "--set", "eval_share=0.2",
        "--set", "label_check_folds=0",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    people, places = ["Ann", "Bob", "Eve"], ["Oslo", "Rome", "Lima"]
    lines = []
    for i in range(30):
        per, loc = people[i % 3], places[(i // 3) % 3]
        text = f"{per} flew to {loc} on day {i}"
        record = {"id": f"t{i}", "text": text}
        if i < 20:
            record["spans"] = [
                {"start": 0, "end": len(per), "label": "PER"},
                {"start": text.index(loc), "end": text.index(loc) + len(loc), "label": "LOC"},
            ]
        lines.append(json.dumps(record))
    (tmp_path / "tweets.jsonl").write_text("\n".join(lines) + "\n")
    assert run("import", "tweets", "tweets.jsonl").exit_code == 0
    trained = run("train", "tweets")
    assert trained.exit_code == 0, trained.output
    assert re.search(r"items picked \(\d+ tokens\)", trained.output)
    assert "span P" in trained.output
    status = run("status", "tweets")
    assert status.exit_code == 0, status.output
    assert re.search(r"tokens: \d+ labelled, \d+ in the pool", status.stdout)
    assert "span P" in status.stdout
