"""Property: an auto-label never overwrites a person's label, whatever the interleaving."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from labelloop.engine.annotate import record_annotation
from labelloop.engine.core.labels import decide_label, votes_that_count
from labelloop.engine.ingest import import_items
from labelloop.engine.projects import create_project, update_settings
from labelloop.engine.rounds import train
from labelloop.engine.rounds.auto_labels import (
    plan_auto_labels,
    pool_candidates,
    write_auto_labels,
)
from labelloop.engine.rounds.inputs import snapshot_project
from labelloop.store.tables import AnnotationRow, ItemRow, ModelVersionRow, ProjectRow

ACTOR = "cli:tester"
LABELS = ["pos", "neg"]
_names = itertools.count()

votes = st.lists(
    st.tuples(st.sampled_from(LABELS), st.sampled_from(["human", "model", "import"])),
    max_size=8,
)


@settings(max_examples=300)
@given(votes=votes)
def test_the_rule_lets_no_auto_label_count_beside_a_person(votes):
    labels, source, auto_only = votes_that_count(votes)
    people = [label for label, s in votes if s != "model"]
    decision = decide_label(labels, complete=auto_only or bool(labels), source=source)
    if people:
        assert labels == people and source != "model" and not auto_only
        assert decision.final_label is None or decision.final_label in people
    elif votes:  # models alone: their majority, or a tie for review
        assert auto_only and decision.source in ("model", None)
        assert decision.final_label is None or decision.final_label in labels


def _project(db, n: int = 3) -> str:
    name = f"p{next(_names)}"
    create_project(db, actor=ACTOR, name=name, task_type="classification", labels=LABELS,
                   settings={"eval_share": 0.01, "eval_min": 0})  # fmt: skip
    import_items(db, actor=ACTOR, project=name,
                 records=[{"id": f"i{i}", "text": f"item {i}"} for i in range(n)])  # fmt: skip
    return name


def _check_people_win(db, project: str) -> None:
    with db.read() as session:
        project_id = session.execute(
            select(ProjectRow.id).where(ProjectRow.name == project)
        ).scalar_one()
        for item in session.execute(
            select(ItemRow).where(ItemRow.project_id == project_id)
        ).scalars():
            active = session.execute(
                select(AnnotationRow.label, AnnotationRow.source)
                .where(AnnotationRow.item_id == item.id, AnnotationRow.status == "active")
                .order_by(AnnotationRow.id)
            ).all()
            people = [label for label, source in active if source != "model"]
            if people:
                assert item.label_source != "model", (item.external_id, active)
                assert item.final_label is None or item.final_label in people
            elif active:  # models alone: their majority, or a tie for review
                assert item.label_source in ("model", None)
                assert item.final_label is None or item.final_label in [a[0] for a in active]


steps = st.lists(
    st.tuples(
        st.sampled_from(["ann1", "ann2", "model:v1", "model:v2"]),
        st.integers(0, 2),
        st.sampled_from(LABELS),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_people_win_under_any_order_of_labels(sqlite_db, steps):
    project = _project(sqlite_db)
    for actor, item, label in steps:
        record_annotation(sqlite_db, actor=actor, project=project, external_id=f"i{item}",
                          label=label)  # fmt: skip
        _check_people_win(sqlite_db, project)


def _records(n: int) -> list[dict]:
    found = []
    for i in range(n):
        label = LABELS[i % 2]
        words = "good great fine" if label == "pos" else "bad awful poor"
        record = {"id": f"r{i}", "text": f"{words} w{i}"}
        if i < n // 2:
            record["label"] = label
        found.append(record)
    return found


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut_in=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(LABELS)), max_size=15))
def test_people_labelling_while_a_round_auto_labels_win(sqlite_db, tmp_path, cut_in):
    db = sqlite_db
    db.artifact_dir = tmp_path / "artifacts"
    name = f"p{next(_names)}"
    create_project(db, actor=ACTOR, name=name, task_type="classification", labels=LABELS,
                   settings={"eval_share": 0.4, "eval_min": 0,
                             "auto_label_precision": 0.8, "auto_label_risk": 0.1})  # fmt: skip
    import_items(db, actor=ACTOR, project=name, records=_records(200))
    info = train(db, actor=ACTOR, project=name)  # with auto-labelling off: the pool stays open
    update_settings(db, actor=ACTOR, project=name, changes={"auto_label": True})
    # The round's plan and candidates, read before people label some of them.
    with db.read() as session:
        row = session.execute(select(ProjectRow).where(ProjectRow.name == name)).scalar_one()
        snapshot = snapshot_project(row)
        version = session.execute(
            select(ModelVersionRow).where(ModelVersionRow.project_id == row.id)
        ).scalar_one()
    plan = plan_auto_labels(db, snapshot, version.id, actor=ACTOR)
    assert plan is not None
    candidates = pool_candidates(db, snapshot, version.id, plan)
    assert candidates  # the interleaving is tested on items the round means to label
    with db.read() as session:
        external = dict(session.execute(select(ItemRow.id, ItemRow.external_id)).all())
    open_candidates = list(candidates)
    for index, label in cut_in:
        if open_candidates:
            item_id = open_candidates[index % len(open_candidates)][0]
            record_annotation(db, actor="ann", project=name, external_id=external[item_id],
                              label=label)  # fmt: skip
    write_auto_labels(db, snapshot, plan, model_version_id=version.id,
                      model_version=version.version, round_number=info.number, actor=ACTOR,
                      candidates=candidates)  # fmt: skip
    _check_people_win(db, name)
