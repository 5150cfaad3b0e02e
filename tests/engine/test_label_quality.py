"""The suspect queue end to end: a round flags wrong labels, a reviewer rules on them."""

from __future__ import annotations

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import select

from labelloop.engine import quality, rounds
from labelloop.engine.annotate import record_annotation
from labelloop.engine.projects import update_settings
from labelloop.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from labelloop.store.tables import (
    AnnotationRow,
    AuditEventRow,
    ItemRow,
    LabelChangeRow,
    LabelSuspectRow,
    ReviewRow,
)

N_PER_CLASS = 30
FLIPPED = ("it3", "it7", "it40")  # given the other class's label


def _texts() -> list[str]:
    pos = [f"wonderful excellent great lovely film number {i}" for i in range(N_PER_CLASS)]
    neg = [f"terrible awful boring dreadful film number {i}" for i in range(N_PER_CLASS)]
    return pos + neg


def _true(i: int) -> str:
    return "pos" if i < N_PER_CLASS else "neg"


def _flagging_round(db, **settings):
    project = make_project(db, settings={"eval_share": 0, **settings})
    add_items(db, project, 2 * N_PER_CLASS, texts=_texts())
    for i in range(2 * N_PER_CLASS):
        label = _true(i)
        if f"it{i}" in FLIPPED:
            label = "neg" if label == "pos" else "pos"
        record_annotation(db, actor="cli:test", project=project, external_id=f"it{i}", label=label)
    info = rounds.train(db, actor="cli:test", project=project)
    return project, info


def _by_item(listing):
    return {s.item_external_id: s for s in listing.suspects}


def test_a_round_flags_the_flipped_labels_most_suspect_first(database):
    project, info = _flagging_round(database)
    assert info.metrics["label_check"]["checked"] == 2 * N_PER_CLASS
    listing = quality.list_suspects(database, project=project)
    found = _by_item(listing)
    assert set(FLIPPED) <= set(found)
    qualities = [s.quality for s in listing.suspects]
    assert qualities == sorted(qualities)
    for external_id in FLIPPED:
        suspect = found[external_id]
        assert suspect.status == "open" and suspect.round_number == info.number
        assert suspect.suggested_label != suspect.given_label
    assert listing.summary.open == len(listing.suspects)
    assert all(p.ruled == 0 and p.precision is None for p in listing.summary.precision_at)


def test_a_second_round_keeps_one_open_suspect_per_item(database):
    project, _ = _flagging_round(database)
    first = quality.list_suspects(database, project=project)
    info = rounds.train(database, actor="cli:test", project=project)
    second = quality.list_suspects(database, project=project)
    assert set(_by_item(first)) >= set(FLIPPED) and set(_by_item(second)) >= set(FLIPPED)
    with database.read() as session:
        rows = session.execute(
            select(LabelSuspectRow.item_id).where(LabelSuspectRow.status == "open")
        ).all()
    assert len(rows) == len({row.item_id for row in rows})
    assert {s.round_number for s in second.suspects} == {info.number}


def test_confirming_corrects_the_label_through_the_final_label_rule(database):
    project, _ = _flagging_round(database)
    reviewer = make_user(database, "rev", role="reviewer")
    suspect = _by_item(quality.list_suspects(database, project=project))["it3"]
    ruled = quality.resolve_suspect(
        database, suspect_id=suspect.id, user=reviewer, verdict="confirm", note="clearly positive"
    )
    assert (ruled.status, ruled.corrected_label) == ("confirmed", "pos")
    with database.read() as session:
        item = session.execute(select(ItemRow).where(ItemRow.external_id == "it3")).scalar_one()
        assert (item.status, item.final_label, item.label_source) == ("accepted", "pos", "review")
        sources = session.execute(
            select(AnnotationRow.source, AnnotationRow.label).where(
                AnnotationRow.item_id == item.id
            )
        ).all()
        assert ("review", "pos") in sources and ("human", "neg") in sources
        verdicts = session.execute(
            select(ReviewRow.verdict).where(ReviewRow.item_id == item.id)
        ).scalars()
        assert list(verdicts) == ["correct"]
        changes = session.execute(
            select(LabelChangeRow.label).where(LabelChangeRow.item_id == item.id)
        ).scalars()
        assert list(changes)[-1] == "pos"
        actions = session.execute(select(AuditEventRow.action)).scalars().all()
        assert "label_suspect.confirmed" in actions
    summary = quality.list_suspects(database, project=project).summary
    assert summary.confirmed == 1
    everything = summary.precision_at[-1]
    assert (everything.k, everything.ruled, everything.confirmed) == (None, 1, 1)
    with pytest.raises(ConflictError):
        quality.resolve_suspect(database, suspect_id=suspect.id, user=reviewer, verdict="clear")


def test_clearing_keeps_the_label_and_is_not_flagged_again(database):
    project, _ = _flagging_round(database)
    reviewer = make_user(database, "rev", role="reviewer")
    suspect = _by_item(quality.list_suspects(database, project=project))["it40"]
    ruled = quality.resolve_suspect(database, suspect_id=suspect.id, user=reviewer, verdict="clear")
    assert ruled.status == "cleared"
    with database.read() as session:
        item = session.execute(select(ItemRow).where(ItemRow.external_id == "it40")).scalar_one()
        assert (item.status, item.final_label) == ("accepted", "pos")
    rounds.train(database, actor="cli:test", project=project)
    listing = quality.list_suspects(database, project=project)
    assert "it40" not in _by_item(listing)
    assert listing.summary.cleared == 1
    assert listing.summary.precision_at[-1].precision == 0.0


def test_bad_rulings_change_nothing(database):
    project, _ = _flagging_round(database)
    reviewer = make_user(database, "rev", role="reviewer")
    annotator = make_user(database, "ann")
    suspect = _by_item(quality.list_suspects(database, project=project))["it7"]
    with pytest.raises(PermissionDeniedError):
        quality.resolve_suspect(database, suspect_id=suspect.id, user=annotator, verdict="clear")
    with pytest.raises(ValidationError) as bad_verdict:
        quality.resolve_suspect(database, suspect_id=suspect.id, user=reviewer, verdict="maybe")
    assert bad_verdict.value.field == "verdict"
    with pytest.raises(ValidationError) as same_label:
        quality.resolve_suspect(
            database, suspect_id=suspect.id, user=reviewer, verdict="confirm", label="neg"
        )
    assert same_label.value.field == "label"
    with pytest.raises(ValidationError):
        quality.resolve_suspect(
            database, suspect_id=suspect.id, user=reviewer, verdict="confirm", label="meh"
        )
    with pytest.raises(NotFoundError):
        quality.resolve_suspect(database, suspect_id=10**9, user=reviewer, verdict="clear")
    other = make_project(database, name="other")
    with pytest.raises(NotFoundError):
        quality.resolve_suspect(
            database, suspect_id=suspect.id, user=reviewer, verdict="clear", project=other
        )
    with pytest.raises(ValidationError) as bad_limit:
        quality.list_suspects(database, project=project, limit=0)
    assert bad_limit.value.field == "limit"
    after = _by_item(quality.list_suspects(database, project=project))["it7"]
    assert after == suspect
    with database.read() as session:
        assert session.execute(select(ReviewRow)).first() is None


def test_a_label_changed_since_the_flag_drops_the_suspect(database):
    project, _ = _flagging_round(database)
    reviewer = make_user(database, "rev", role="reviewer")
    suspect = _by_item(quality.list_suspects(database, project=project))["it3"]
    record_annotation(database, actor="cli:test", project=project, external_id="it3", label="pos")
    with pytest.raises(ConflictError, match="no longer holds"):
        quality.resolve_suspect(database, suspect_id=suspect.id, user=reviewer, verdict="clear")
    with database.read() as session:
        assert session.get(LabelSuspectRow, suspect.id).status == "dropped"


def test_no_label_check_when_its_folds_are_zero(database):
    project, info = _flagging_round(database, label_check_folds=0)
    assert "label_check" not in info.metrics
    assert quality.list_suspects(database, project=project).suspects == ()


def test_the_check_is_capped_at_its_maximum(database):
    project, info = _flagging_round(database, label_check_max_items=20)
    assert info.metrics["label_check"]["checked"] == 20
    assert len(quality.list_suspects(database, project=project).suspects) <= 20


@pytest.mark.parametrize("folds", [1, 21, True, "5"])
def test_label_check_folds_must_be_zero_or_two_to_twenty(database, folds):
    project = make_project(database)
    with pytest.raises(ValidationError) as refused:
        update_settings(
            database, actor="cli:test", project=project, changes={"label_check_folds": folds}
        )
    assert refused.value.field == "label_check_folds"
