"""Dataset versions: immutable snapshots per round, listed, read and diffed by external id."""

from __future__ import annotations

import pytest
from test_rounds import ACTOR, make_text_project

from labelloop.engine.annotate import record_annotation, undo_annotation
from labelloop.engine.rounds import train
from labelloop.engine.users import create_user
from labelloop.engine.versions import (
    diff_dataset_versions,
    get_dataset_version,
    iter_dataset_entries,
    list_dataset_versions,
)
from labelloop.exceptions import NotFoundError, ValidationError


@pytest.fixture
def db(database, tmp_path):
    database.artifact_dir = tmp_path / "artifacts"
    return database


def test_versions_snapshot_each_round_and_diff_by_external_id(db):
    project = make_text_project(db, n=120, n_labelled=20)
    annotator, _ = create_user(db, actor=ACTOR, name="ann", role="annotator", projects=[project])
    first = train(db, actor=ACTOR, project=project)
    added = list(first.batch[:3])
    for external_id in added:
        record_annotation(db, actor="ann", project=project, external_id=external_id, label="pos")
    withdrawn = record_annotation(
        db, actor="ann", project=project, external_id=first.batch[3], label="neg"
    )
    second = train(db, actor=ACTOR, project=project)
    # Relabel one item, withdraw another: version 3 differs from 2 by exactly these.
    record_annotation(db, actor="ann", project=project, external_id=added[0], label="neg")
    undo_annotation(db, annotation_id=withdrawn.id, user=annotator)
    third = train(db, actor=ACTOR, project=project)

    infos = list_dataset_versions(db, project)
    assert [v.version for v in infos] == [1, 2, 3]
    assert [v.model_versions for v in infos] == [(1,), (2,), (3,)]
    assert [v.n_items for v in infos] == [first.n_labels, second.n_labels, third.n_labels]
    assert infos[0].created_by == ACTOR
    assert get_dataset_version(db, project, 2).n_items == first.n_labels + 4

    grown = diff_dataset_versions(db, project, 1, 2)
    assert grown.added == tuple(sorted([*added, first.batch[3]]))
    assert grown.removed == () and grown.relabelled == ()

    changed = diff_dataset_versions(db, project, 2, 3)
    assert changed.added == ()
    assert changed.removed == (first.batch[3],)
    assert [(c.external_id, c.before, c.after) for c in changed.relabelled] == [
        (added[0], "pos", "neg")
    ]

    # Version 2 is immutable: it still holds what the model saw then.
    entries = {e.external_id: e for e in iter_dataset_entries(db, project, 2)}
    assert entries[added[0]].label == "pos"
    assert len(entries[added[0]].annotation_ids) == 1
    assert len(entries) == second.n_labels


def test_missing_and_malformed_versions_are_named(sqlite_db):
    project = make_text_project(sqlite_db, n=60, n_labelled=10)
    with pytest.raises(NotFoundError, match="no dataset versions yet"):
        get_dataset_version(sqlite_db, project, 1)
    train(sqlite_db, actor=ACTOR, project=project)
    with pytest.raises(NotFoundError, match="versions 1 to 1"):
        diff_dataset_versions(sqlite_db, project, 1, 7)
    with pytest.raises(ValidationError):
        diff_dataset_versions(sqlite_db, project, 0, 1)
    with pytest.raises(NotFoundError):
        list_dataset_versions(sqlite_db, "no-such-project")
