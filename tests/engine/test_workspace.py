"""The Workspace Python API: the whole loop over a database URL, without the CLI."""

from __future__ import annotations

import json

import pytest
from test_rounds import text_records

import labelloop
from labelloop.engine.audit import verify_chain
from labelloop.exceptions import NotFoundError


def test_workspace_runs_the_loop_and_reopens_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    with labelloop.Workspace(url, actor="alice") as ws:
        project = ws.create_project(
            "reviews",
            task_type="classification",
            labels=["pos", "neg"],
            settings={"batch_size": 5, "eval_min": 10},
        )
        report = project.add_items(text_records(80, n_labelled=0))
        assert report.n_imported == 80
        cold = project.train()
        assert cold.model_version is None and len(cold.batch) == 5
        for external_id in [f"r{i}" for i in range(16)]:
            label = "pos" if int(external_id[1:]) % 2 == 0 else "neg"
            annotation = project.annotate(external_id, label, annotator="bob")
        assert annotation.label == "neg"
        round_ = project.train()
        assert round_.number == 2 and round_.model_version == 1
        rows = project.query(3)
        assert [r.external_id for r in rows] == list(round_.batch[:3])
        status = project.status()
        assert status.n_labelled == 16 and len(status.rounds) == 2
        assert [v.version for v in project.dataset_versions()] == [1, 2]
        assert len(project.diff(1, 2).added) == 16 - status.n_eval_labelled
        out = tmp_path / "labels.jsonl"
        written = project.export(out, labelled_only=True)
        assert written.n_records == 16
        exported = [json.loads(line) for line in out.read_text().splitlines()]
        assert {r["id"] for r in exported} == {f"r{i}" for i in range(16)}

    with labelloop.Workspace(url) as again:
        same = again.project("reviews")
        assert same.id == project.id
        assert [r.number for r in same.rounds()] == [1, 2]
        assert [p.name for p in again.projects()] == ["reviews"]
        with pytest.raises(NotFoundError):
            again.project("missing")
        assert verify_chain(again.db, "reviews").ok


def test_workspace_reimports_with_on_existing(tmp_path):
    with labelloop.Workspace(f"sqlite:///{tmp_path / 'team.db'}", actor="alice") as ws:
        project = ws.create_project("reviews", task_type="classification", labels=["pos", "neg"])
        project.add_items([{"id": "a", "text": "first"}, {"id": "b", "text": "second"}])
        cumulative = [
            {"id": "a", "text": "first"},
            {"id": "b", "text": "second, edited"},
            {"id": "c", "text": "third"},
        ]
        skipped = project.add_items(cumulative, on_existing="skip")
        assert (skipped.n_imported, skipped.n_skipped, skipped.n_updated) == (1, 2, 0)
        cumulative.append({"id": "d", "text": "fourth"})
        updated = project.add_items(cumulative, on_existing="update")
        assert (updated.n_imported, updated.n_skipped, updated.n_updated) == (1, 2, 1)
        assert verify_chain(ws.db, "reviews").ok


def test_workspace_offers_a_stream(tmp_path):
    with labelloop.Workspace(f"sqlite:///{tmp_path / 's.db'}", actor="feed") as ws:
        project = ws.create_project(
            "live", task_type="classification", labels=["pos", "neg"],
            settings={"eval_share": 0.0, "stream_budget": 0.2},
        )  # fmt: skip
        project.add_items(text_records(80, n_labelled=30))
        project.train()
        offers = [
            project.offer(r | {"id": f"new{i}"})
            for i, r in enumerate(text_records(10, n_labelled=0, seed=5))
        ]
        assert all(o.model_version == 1 and o.informativeness is not None for o in offers)
        status = project.stream_status()
        assert status.arrivals == 10 and status.asked == sum(o.decision == "ask" for o in offers)
        assert status.asked <= 3  # floor(0.2 * 10) + 1


def test_workspace_fits_the_annotators(tmp_path):
    with labelloop.Workspace(f"sqlite:///{tmp_path / 'c.db'}", actor="lead") as ws:
        project = ws.create_project(
            "pairs", task_type="classification", labels=["pos", "neg"],
            settings={"overlap": 3, "consensus": "dawid_skene"},
        )  # fmt: skip
        project.add_items(text_records(10, n_labelled=0))
        for i in range(10):
            truth = "pos" if i % 2 == 0 else "neg"
            project.annotate(f"r{i}", truth, annotator="sure")
            project.annotate(f"r{i}", truth, annotator="steady")
            project.annotate(f"r{i}", truth if i % 3 else "neg" if truth == "pos" else "pos",
                             annotator="rash")  # fmt: skip
        fit = project.fit_consensus()
        assert fit.fitted and fit.method == "dawid_skene" and fit.n_items == 10
        rows = {a["name"]: a for a in project.annotators()}
        assert rows["sure"]["estimated_accuracy"] > rows["rash"]["estimated_accuracy"]
