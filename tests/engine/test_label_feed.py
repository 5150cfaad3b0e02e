"""The label feed: a client applying it always holds exactly the project's final labels.

A property over random interleavings of submits, undos, relabels, reviews (accept,
reject, correct), labels recorded without a lease, and overlap changes, with the client
reading the feed at random points in small pages; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import threading
from typing import Any

import pytest
from _service_setup import add_items, make_project, make_user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from labelloop.engine import annotate, ingest, predictions, queue, review
from labelloop.engine.export import iter_export_records
from labelloop.engine.projects import update_settings
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.store.tables import ItemRow, LabelChangeRow

LABELS = ("pos", "neg")
N_ITEMS = 4
ANNOTATORS = ("a0", "a1", "a2")
_RUNS = itertools.count()


class _Client:
    """What a client model keeps: the labels it holds and its cursor."""

    def __init__(self) -> None:
        self.held: dict[str, Any] = {}
        self.cursor: str | None = None

    def sync(self, db, project: int, limit: int) -> None:
        while True:
            page, self.cursor = predictions.labels_since(
                db, project_id=project, cursor=self.cursor, limit=limit
            )
            for entry in page:
                if entry.get("withdrawn"):
                    assert entry["item_id"] in self.held, "withdrawn a label never given"
                    del self.held[entry["item_id"]]
                else:
                    self.held[entry["item_id"]] = entry["label"]
            if len(page) < limit:
                return


def _final_labels(db, project: int, key: str = "label") -> dict[str, Any]:
    """The project's final labels as the labelled export gives them."""
    return {
        record["id"]: record[key] for record in iter_export_records(db, project, labelled_only=True)
    }


# Labelling steps come more often than the rest, so items get labels to review and undo.
_KINDS = ("submit", "submit", "submit", "undo", "relabel", "review", "review", "record",
          "overlap", "sync")  # fmt: skip
_VERDICTS = ("accept", "reject", "correct")
# (kind, a number in 0..2 the kind reads as annotator, verdict, item, overlap - 1 or page
# size - 1, a label)
_STEP = st.tuples(st.sampled_from(_KINDS), st.integers(0, 2), st.sampled_from(LABELS))


class _World:
    """The project, its people, and the steps a test run takes on it."""

    def __init__(self, db, run: int) -> None:
        # Each example gets its own project and people in the one database of the test.
        self.db = db
        self.project = make_project(
            db,
            name=f"feed{run}",
            settings={"eval_share": 0, "review_policy": "percent", "review_percent": 50},
        )
        add_items(db, self.project, N_ITEMS)
        self.users = {name: make_user(db, f"{name}-{run}") for name in ANNOTATORS}
        self.reviewer = make_user(db, f"rev-{run}", role="reviewer")
        self.given: dict[str, list[int]] = {name: [] for name in ANNOTATORS}

    def step(self, kind: str, number: int, label: str, client: _Client) -> None:
        # A step the state does not allow (a reviewed label undone, ...) changes nothing.
        with contextlib.suppress(ConflictError, NotFoundError):
            getattr(self, f"_{kind}")(number, label, client)

    def _submit(self, number: int, label: str, _client: _Client) -> None:
        name = ANNOTATORS[number]
        task = queue.lease_next_task(self.db, project_id=self.project, user=self.users[name])
        if task is not None:
            info, _ = annotate.submit_annotation(
                self.db, task_id=task.id, user=self.users[name], label=label
            )
            self.given[name].append(info.id)

    def _undo(self, number: int, _label: str, _client: _Client) -> None:
        name = ANNOTATORS[number]
        if self.given[name]:
            annotate.undo_annotation(
                self.db, annotation_id=self.given[name][-1], user=self.users[name]
            )

    def _relabel(self, number: int, label: str, _client: _Client) -> None:
        name = ANNOTATORS[number]
        if not self.given[name]:
            return
        annotation_id = self.given[name][-1]
        annotate.undo_annotation(self.db, annotation_id=annotation_id, user=self.users[name])
        task = queue.lease_undone_task(self.db, annotation_id=annotation_id, user=self.users[name])
        info, _ = annotate.submit_annotation(
            self.db, task_id=task.id, user=self.users[name], label=label
        )
        self.given[name].append(info.id)

    def _review(self, number: int, label: str, _client: _Client) -> None:
        verdict = _VERDICTS[number]
        leased = review.lease_next_review(self.db, project_id=self.project, user=self.reviewer)
        if leased is None:
            return
        options: dict[str, Any] = {"note": "again"} if verdict == "reject" else {}
        if verdict == "correct" or (verdict == "accept" and leased.provisional_label is None):
            options["label"] = label  # a tie is accepted by picking a label
        review.submit_review(
            self.db, review_task_id=leased.id, user=self.reviewer, verdict=verdict, **options
        )

    def _record(self, number: int, label: str, _client: _Client) -> None:
        annotate.record_annotation(
            self.db, actor="cli:lead", project=self.project, external_id=f"it{number}", label=label
        )

    def _overlap(self, number: int, _label: str, _client: _Client) -> None:
        update_settings(
            self.db, actor="cli:test", project=self.project, changes={"overlap": number + 1}
        )

    def _sync(self, number: int, _label: str, client: _Client) -> None:
        client.sync(self.db, self.project, number + 1)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_STEP, min_size=5, max_size=30))
def test_a_client_applying_the_feed_holds_the_final_labels(database, steps):
    world = _World(database, next(_RUNS))
    client = _Client()
    for kind, number, label in steps:
        world.step(kind, number, label, client)
    client.sync(database, world.project, 2)
    assert client.held == _final_labels(database, world.project)


def _read(db, project: int, cursor: str | None = None) -> tuple[list[dict[str, Any]], str]:
    return predictions.labels_since(db, project_id=project, cursor=cursor, limit=100)


def test_a_review_verdict_after_the_cursor_reaches_the_client(database):
    project = make_project(database, settings={"eval_share": 0, "review_policy": "all"})
    add_items(database, project, 2)
    ann, rev = make_user(database, "ann"), make_user(database, "rev", role="reviewer")
    for label in ("pos", "neg"):
        task = queue.lease_next_task(database, project_id=project, user=ann)
        annotate.submit_annotation(database, task_id=task.id, user=ann, label=label)
    # Waiting for review, a provisional label does not stand: nothing to deliver yet.
    page, cursor = _read(database, project)
    assert page == []
    leased = review.lease_next_review(database, project_id=project, user=rev)
    review.submit_review(database, review_task_id=leased.id, user=rev, verdict="accept")
    leased = review.lease_next_review(database, project_id=project, user=rev)
    review.submit_review(
        database, review_task_id=leased.id, user=rev, verdict="correct", label="pos"
    )
    page, cursor = _read(database, project, cursor)
    assert page == [{"item_id": "it0", "label": "pos"}, {"item_id": "it1", "label": "pos"}]
    assert _read(database, project, cursor)[0] == []


def test_a_label_that_goes_to_a_tie_is_withdrawn(database):
    project = make_project(database, settings={"eval_share": 0})
    add_items(database, project, 1)
    ann = make_user(database, "ann")
    task = queue.lease_next_task(database, project_id=project, user=ann)
    annotate.submit_annotation(database, task_id=task.id, user=ann, label="pos")
    page, cursor = _read(database, project)
    assert page == [{"item_id": "it0", "label": "pos"}]
    # A second, different vote ties the item: in review with no label, so withdrawn.
    annotate.record_annotation(
        database, actor="cli:lead", project=project, external_id="it0", label="neg"
    )
    page, cursor = _read(database, project, cursor)
    assert page == [{"item_id": "it0", "withdrawn": True}]
    # The same vote again changes nothing that stands: no entry.
    annotate.record_annotation(
        database, actor="cli:lead", project=project, external_id="it0", label="neg"
    )
    assert _read(database, project, cursor)[0] == []


def test_multi_label_and_imported_labels(database, tmp_path):
    project = make_project(database, labels=("a", "b", "c"), multi_label=True)
    path = tmp_path / "items.jsonl"
    path.write_text(
        '{"id": "x1", "text": "one", "labels": ["b", "a"]}\n'
        '{"id": "x2", "text": "two"}\n'
        '{"id": "x3", "text": "three", "labels": ["c"]}\n'
    )
    ingest.import_items(database, actor="cli:test", project=project, path=path)
    page, _ = _read(database, project)
    assert page == [{"item_id": "x1", "labels": ["a", "b"]}, {"item_id": "x3", "labels": ["c"]}]
    assert {e["item_id"]: e["labels"] for e in page} == _final_labels(database, project, "labels")


def test_a_cursor_of_the_annotation_feed_is_refused_by_name(database):
    project = make_project(database)
    old = base64.urlsafe_b64encode(b"a:12").decode().rstrip("=")
    with pytest.raises(ValidationError) as err:
        _read(database, project, old)
    assert err.value.field == "since" and "without since" in str(err.value)


@pytest.mark.postgres
def test_a_change_committed_after_a_later_one_is_not_skipped(pg_db):
    project = make_project(pg_db, settings={"eval_share": 0})
    add_items(pg_db, project, 2)
    with pg_db.read() as session:
        first, second = session.execute(select(ItemRow.id).order_by(ItemRow.id)).scalars()
    # A labelling transaction takes the lower change id and is still running...
    slow = Session(pg_db.engine)
    slow.begin()
    slow.add(LabelChangeRow(project_id=project, item_id=first, label="pos"))
    slow.flush()
    # ...while a later one takes the next id and commits first.
    with pg_db.transaction() as session:
        session.add(LabelChangeRow(project_id=project, item_id=second, label="neg"))
    read: list[Any] = []
    reader = threading.Thread(target=lambda: read.append(_read(pg_db, project)))
    reader.start()
    try:
        # The reader waits for the running writer instead of reading past its change.
        for _ in range(2000):
            with pg_db.read() as session:
                waiting = session.execute(
                    text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                ).scalar()
            if waiting:
                break
            reader.join(0.01)
        slow.commit()
    finally:
        slow.close()
        reader.join()
    [(page, _cursor)] = read
    assert page == [{"item_id": "it0", "label": "pos"}, {"item_id": "it1", "label": "neg"}]
