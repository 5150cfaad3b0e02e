"""``labelloop demo`` builds a working demo: items, evaluation set, log-ins, a first round."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.demo import DEMO_USERS, build_demo
from labelloop.engine import browse, jobs, projects, users
from labelloop.exceptions import ValidationError
from labelloop.ner import check_spans
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, PredictionRow


def test_demo_command_builds_the_digits_project(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(tmp_path), "--n-items", "200", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    for name, _role, password in DEMO_USERS:
        assert f"name {name}  password {password}" in result.output
    db = Database(f"sqlite:///{tmp_path / 'labelloop.db'}")
    try:
        info = projects.get_project_info(db, "digits")
        assert (info.task_type, info.n_items) == ("image", 200)
        # The evaluation set, the seeds, and the annotator's day: of four labels reviewed,
        # one was rejected (its item is open again).
        assert info.n_labelled == 150 + 16 + 3
        # Every page has something to show: skips with reasons, reviews, saved filters.
        skipped = browse.search_items(db, info.id, skipped=True)
        assert skipped.total == 3
        reasons = sorted(str(k.reason) for item in skipped.items for k in item.skips)
        assert reasons == ["None", "ambiguous", "could be two things"]
        team = {a.name: a for a in browse.annotator_throughput(db, info.id)}
        assert (team["annotator"].rejected, team["annotator"].corrected) == (1, 1)
        assert [f.name for f in browse.list_saved_filters(db, info.id)] == [
            "most uncertain first",
            "skipped, with reasons",
        ]
        # The guidelines learnt from the day: a changed text, then the corrected item as
        # an example, each a new version with what changed.
        guidelines = projects.get_guidelines(db, info.id)
        assert guidelines.version == 3 and len(guidelines.examples) == 1
        changes = projects.guideline_changes(db, info.id, old=1, new=3)
        assert changes.added >= 1
        assert info.settings["retrain_every"] == 10
        assert info.settings["review_policy"] == "percent"
        for name, _role, password in DEMO_USERS:
            assert users.verify_password(db, name, password) is not None
        assert jobs.list_jobs(db, project_id=info.id) == []
    finally:
        db.dispose()
    assert len(list((tmp_path / "media" / "digits").glob("*.png"))) == 200


def test_demo_rebuilds_from_scratch_and_checks_its_sizes(tmp_path) -> None:
    first = build_demo(tmp_path / "d.db", actor="cli:test", n_items=60, n_eval=20, n_seed=10)
    again = build_demo(tmp_path / "d.db", actor="cli:test", n_items=60, n_eval=20, n_seed=10)
    assert (again.project_id, again.n_items, again.n_eval) == (first.project_id, 60, 20)
    assert again.first_round == 1 and again.first_accuracy is not None
    with pytest.raises(ValidationError, match="n_items"):
        build_demo(tmp_path / "e.db", actor="cli:test", n_items=20, n_eval=15, n_seed=10)
    with pytest.raises(ValidationError, match="data set"):
        build_demo(tmp_path / "e.db", actor="cli:test", dataset="mnist")


def test_demo_wnut_builds_an_entity_project_with_suggestions(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(tmp_path), "--dataset", "wnut", "--n-items", "200", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "pre-drawn as suggestions" in result.output
    db = Database(f"sqlite:///{tmp_path / 'labelloop.db'}")
    try:
        info = projects.get_project_info(db, "tweets")
        assert info.task_type == "ner"
        assert list(info.labels[:3]) == ["person", "geo-loc", "company"] and len(info.labels) == 10
        assert info.n_labelled > 0 and info.n_labelled < info.n_items
        # Every tweet still to label has the first round's CRF spans (a list, maybe
        # empty) for the label page to draw.
        with db.read() as session:
            rows = session.execute(select(ItemRow.id, ItemRow.payload)).all()
            waiting = set(
                session.execute(select(ItemRow.id).where(ItemRow.status == "open")).scalars()
            )
            structures = dict(
                session.execute(select(PredictionRow.item_id, PredictionRow.structure)).all()
            )
        assert waiting and waiting <= set(structures)
        assert any(structures.values())
        texts = dict(rows)
        for item_id, spans in structures.items():
            assert check_spans(spans, text=texts[item_id]["text"], labels=info.labels) is not None
        guess = browse.model_guess(db, project_id=info.id, item_id=next(iter(structures)))
        assert guess.structure == structures[guess.item_id]
        # The team's day: one label rejected, one corrected, skips with reasons.
        team = {a.name: a for a in browse.annotator_throughput(db, info.id)}
        assert (team["annotator"].rejected, team["annotator"].corrected) == (1, 1)
        assert browse.search_items(db, info.id, skipped=True).total == 3
        for name, _role, password in DEMO_USERS:
            assert users.verify_password(db, name, password) is not None
    finally:
        db.dispose()
