"""The label queue: ordering, overlap, eval interleave, expiry, skip, concurrency."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from _service_setup import add_items, make_project, make_user
from sqlalchemy import select, text, update

from labelloop.engine import annotate, queue
from labelloop.exceptions import ConflictError, PermissionDeniedError, ValidationError
from labelloop.server import worker
from labelloop.store.tables import AuditEventRow, TaskLeaseRow, TaskRow


def _expire_all(db) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    with db.transaction() as session:
        session.execute(
            update(TaskLeaseRow).where(TaskLeaseRow.outcome.is_(None)).values(expires_at=past)
        )


def test_leases_in_priority_order_and_audits(database):
    project = make_project(database, settings={"eval_share": 0})
    tasks = add_items(database, project, 4, priorities=[0.1, 0.9, 0.5, 0.9])
    users = [make_user(database, f"a{i}") for i in range(5)]
    got = [queue.lease_next_task(database, project_id=project, user=u) for u in users]
    # Highest priority first, ties by oldest task; nothing left for the fifth.
    assert [t.id for t in got[:4]] == [tasks[1], tasks[3], tasks[2], tasks[0]]
    assert got[4] is None
    first = got[0]
    assert first.item.external_id == "it1" and first.item.payload == {"text": "text 1"}
    assert first.priority == pytest.approx(0.9) and first.lease_expires_at > dt.datetime.now(dt.UTC)
    with database.read() as session:
        leased = (
            session.execute(select(AuditEventRow).where(AuditEventRow.action == "task.leased"))
            .scalars()
            .all()
        )
    assert len(leased) == 4 and leased[0].actor == "a0"


def test_same_user_gets_the_held_lease_back(sqlite_db):
    project = make_project(sqlite_db)
    add_items(sqlite_db, project, 3)
    ann = make_user(sqlite_db, "ann")
    first = queue.lease_next_task(sqlite_db, project_id=project, user=ann)
    again = queue.lease_next_task(sqlite_db, project_id=project, user=ann)
    assert again.id == first.id and again.lease_id == first.lease_id


def test_model_accounts_cannot_lease(sqlite_db):
    project = make_project(sqlite_db)
    add_items(sqlite_db, project, 1)
    bot = make_user(sqlite_db, "bot", role="model")
    with pytest.raises(PermissionDeniedError):
        queue.lease_next_task(sqlite_db, project_id=project, user=bot)


def test_overlap_two_never_gives_a_user_the_same_item_twice(database):
    project = make_project(database, settings={"overlap": 2, "eval_share": 0})
    add_items(database, project, 3, overlap=2)
    users = [make_user(database, f"a{i}") for i in range(3)]
    seen: dict[str, list[int]] = {u.name: [] for u in users}
    holders: dict[int, set[str]] = {}
    for _round in range(3):
        for user in users:
            task = queue.lease_next_task(database, project_id=project, user=user)
            if task is None:
                continue
            assert task.item.id not in seen[user.name]
            seen[user.name].append(task.item.id)
            holders.setdefault(task.id, set()).add(user.name)
            annotate.submit_annotation(database, task_id=task.id, user=user, label="pos")
    assert sorted(len(names) for names in holders.values()) == [2, 2, 2]
    assert all(len(set(items)) == len(items) for items in seen.values())


def test_eval_tasks_are_interleaved_at_their_share(sqlite_db):
    # With no minimum of labelled evaluation items (the next test pins the minimum).
    project = make_project(sqlite_db, settings={"eval_share": 0.25, "eval_min_labels": 0})
    tasks = add_items(sqlite_db, project, 8, eval_ids=(6, 7))
    ann = make_user(sqlite_db, "ann")
    order = []
    for _ in range(8):
        task = queue.lease_next_task(sqlite_db, project_id=project, user=ann)
        order.append(task.id)
        annotate.submit_annotation(sqlite_db, task_id=task.id, user=ann, label="neg")
    # Every 4th lease comes from the evaluation set, the rest by priority.
    assert order == [tasks[0], tasks[1], tasks[2], tasks[6], tasks[3], tasks[4], tasks[5], tasks[7]]


def test_eval_tasks_come_first_until_the_minimum_is_labelled(sqlite_db):
    project = make_project(sqlite_db, settings={"eval_share": 0.25, "eval_min_labels": 2})
    tasks = add_items(sqlite_db, project, 9, eval_ids=(5, 6, 7))
    ann = make_user(sqlite_db, "ann")
    order = []
    for _ in range(9):
        task = queue.lease_next_task(sqlite_db, project_id=project, user=ann)
        order.append(task.id)
        annotate.submit_annotation(sqlite_db, task_id=task.id, user=ann, label="neg")
    # Two evaluation items first (the minimum), then every 4th lease (counting them)
    # comes from the evaluation set, at its share.
    expected = [tasks[i] for i in (5, 6, 0, 7, 1, 2, 3, 4, 8)]
    assert order == expected


def test_eval_first_falls_back_to_the_rest_when_no_eval_task_is_open(sqlite_db):
    project = make_project(sqlite_db, settings={"eval_share": 0.25, "eval_min_labels": 30})
    tasks = add_items(sqlite_db, project, 4, eval_ids=(2,))
    ann = make_user(sqlite_db, "ann")
    order = []
    for _ in range(4):
        task = queue.lease_next_task(sqlite_db, project_id=project, user=ann)
        order.append(task.id)
        annotate.submit_annotation(sqlite_db, task_id=task.id, user=ann, label="neg")
    assert order == [tasks[2], tasks[0], tasks[1], tasks[3]]


def test_expired_lease_goes_back_to_the_queue(database):
    project = make_project(database, settings={"eval_share": 0})
    [task_id] = add_items(database, project, 1)
    ann, bob = make_user(database, "ann"), make_user(database, "bob")
    queue.lease_next_task(database, project_id=project, user=ann)
    assert queue.lease_next_task(database, project_id=project, user=bob) is None
    _expire_all(database)
    taken = queue.lease_next_task(database, project_id=project, user=bob)
    assert taken.id == task_id
    with database.read() as session:
        outcomes = (
            session.execute(select(TaskLeaseRow.outcome).order_by(TaskLeaseRow.id)).scalars().all()
        )
        assert session.get(TaskRow, task_id).active_leases == 1
    assert outcomes == ["expired", None]
    # Bob holds the slot now: Ann's late submit is refused, Bob's goes through.
    with pytest.raises(ConflictError):
        annotate.submit_annotation(database, task_id=task_id, user=ann, label="pos")
    info, created = annotate.submit_annotation(database, task_id=task_id, user=bob, label="pos")
    assert created and info.item_status == "annotated"


def test_late_submit_is_accepted_while_nobody_took_the_slot(sqlite_db):
    project = make_project(sqlite_db, settings={"eval_share": 0})
    [task_id] = add_items(sqlite_db, project, 1)
    ann = make_user(sqlite_db, "ann")
    queue.lease_next_task(sqlite_db, project_id=project, user=ann)
    _expire_all(sqlite_db)
    assert queue.release_expired_leases(sqlite_db) == 1
    info, created = annotate.submit_annotation(sqlite_db, task_id=task_id, user=ann, label="neg")
    assert created and info.final_label == "neg"
    with sqlite_db.read() as session:
        task = session.get(TaskRow, task_id)
        assert (task.status, task.active_leases, task.needed) == ("done", 0, 0)


def test_skip_requeues_for_others_only(database):
    project = make_project(database, settings={"eval_share": 0})
    [task_id] = add_items(database, project, 1)
    ann, bob = make_user(database, "ann"), make_user(database, "bob")
    with pytest.raises(ConflictError):
        queue.skip_task(database, task_id=task_id, user=ann, reason="not leased")
    queue.lease_next_task(database, project_id=project, user=ann)
    queue.skip_task(database, task_id=task_id, user=ann, reason="unclear text")
    assert queue.lease_next_task(database, project_id=project, user=ann) is None
    assert queue.lease_next_task(database, project_id=project, user=bob).id == task_id
    with database.read() as session:
        lease = session.execute(select(TaskLeaseRow).order_by(TaskLeaseRow.id)).scalars().first()
    assert (lease.outcome, lease.skip_reason) == ("skipped", "unclear text")


@pytest.mark.parametrize("overlap", [1, 2])
def test_concurrent_leasing_never_double_assigns(database, overlap):
    project = make_project(database, settings={"overlap": overlap, "eval_share": 0})
    add_items(database, project, 30, overlap=overlap)
    users = [make_user(database, f"u{i}") for i in range(20)]
    results: dict[str, object] = {}
    barrier = threading.Barrier(len(users))

    def lease(user):
        barrier.wait()
        try:
            results[user.name] = queue.lease_next_task(database, project_id=project, user=user)
        except Exception as exc:  # recorded and asserted below
            results[user.name] = exc

    threads = [threading.Thread(target=lease, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in results.values() if isinstance(r, Exception)]
    assert errors == []
    task_ids = [r.id for r in results.values()]
    assert None not in results.values()
    per_task = {t: task_ids.count(t) for t in task_ids}
    assert max(per_task.values()) <= overlap
    with database.read() as session:
        for task in session.execute(select(TaskRow)).scalars():
            assert task.active_leases == per_task.get(task.id, 0)


def _plan(db, query) -> str:
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        return "\n".join(str(row[-1]) for row in rows)


def test_candidate_queries_use_the_next_task_index(sqlite_db):
    project = make_project(sqlite_db)
    add_items(sqlite_db, project, 50)
    plan = _plan(
        sqlite_db,
        queue.candidate_query(project_id=project, user_id=1, is_eval=False, dialect="sqlite"),
    )
    assert "SEARCH tasks USING INDEX ix_tasks_next" in plan
    assert "SCAN tasks" not in plan
    # An eval turn reads a bounded window of the index, then looks rows up by key.
    windowed = _plan(
        sqlite_db,
        queue.candidate_query(
            project_id=project, user_id=1, is_eval=True, dialect="sqlite", window=100
        ),
    )
    assert "COVERING INDEX ix_tasks_next" in windowed
    assert "SEARCH tasks USING INTEGER PRIMARY KEY" in windowed
    assert "SCAN tasks" not in windowed


def test_the_background_worker_releases_expired_leases(sqlite_db):
    # Nobody asks for a task in the project again: the worker's sweep frees the slot.
    project = make_project(sqlite_db, settings={"eval_share": 0})
    [task_id] = add_items(sqlite_db, project, 1)
    queue.lease_next_task(sqlite_db, project_id=project, user=make_user(sqlite_db, "ann"))
    _expire_all(sqlite_db)
    assert worker.job_worker(sqlite_db).run_once() == 1
    with sqlite_db.read() as session:
        assert session.get(TaskRow, task_id).active_leases == 0
        assert session.execute(select(TaskLeaseRow.outcome)).scalars().all() == ["expired"]


@pytest.mark.parametrize(
    ("stored", "plain"),
    [
        ("margin: the model is torn between 3 (0.24) and 8 (0.23)", "the model is unsure"),
        ("auto, margin arm (40% of the batch): the model is torn between a (0.5) and b", "unsure"),
        ("cold start: represents a cluster of about 12 similar pool items", "typical example"),
        ("k-center: far from everything labelled (3.2)", "unlike the items labelled"),
        ("random pick: an unbiased sample of the pool", "at random"),
        ("bald: the committee disagrees (0.412)", "the model is unsure"),
        ("read the title: it says sarcasm", "read the title: it says sarcasm"),
    ],
)
def test_a_hidden_guess_gives_annotators_the_reason_in_plain_words(sqlite_db, stored, plain):
    project = make_project(sqlite_db, settings={"eval_share": 0, "show_model_guess": False})
    tasks = add_items(sqlite_db, project, 3)
    with sqlite_db.transaction() as session:
        session.execute(update(TaskRow).where(TaskRow.id.in_(tasks)).values(reason=stored))
    annotator = make_user(sqlite_db, "a1")
    reviewer = make_user(sqlite_db, "r1", role="reviewer")
    for_annotator = queue.lease_next_task(sqlite_db, project_id=project, user=annotator)
    assert plain in for_annotator.reason
    assert not any(ch.isdigit() for ch in for_annotator.reason)
    ahead = queue.lease_ahead(sqlite_db, project_id=project, user=annotator)
    assert plain in ahead.reason
    assert queue.lease_next_task(sqlite_db, project_id=project, user=reviewer).reason == stored


def test_two_holders_of_one_user_hold_two_tasks_each_its_own(sqlite_db):
    project = make_project(sqlite_db, settings={"eval_share": 0})
    add_items(sqlite_db, project, 6)
    ann = make_user(sqlite_db, "a1")
    tab_a = queue.lease_next_task(sqlite_db, project_id=project, user=ann, holder="tab-a")
    tab_b = queue.lease_next_task(sqlite_db, project_id=project, user=ann, holder="tab-b")
    assert tab_a.id != tab_b.id
    # Asking again as the same holder answers its own task; no holder is a holder too.
    again = queue.lease_next_task(sqlite_db, project_id=project, user=ann, holder="tab-a")
    assert again.id == tab_a.id
    plain = queue.lease_next_task(sqlite_db, project_id=project, user=ann)
    assert plain.id not in (tab_a.id, tab_b.id)
    ahead_a = queue.lease_ahead(sqlite_db, project_id=project, user=ann, holder="tab-a")
    ahead_b = queue.lease_ahead(sqlite_db, project_id=project, user=ann, holder="tab-b")
    assert len({tab_a.id, tab_b.id, plain.id, ahead_a.id, ahead_b.id}) == 5
    # Either tab's task is this annotator's to submit, from anywhere.
    annotate.submit_annotation(sqlite_db, task_id=tab_b.id, user=ann, label="pos")
    with pytest.raises(ConflictError, match="already labelled item 'it.*another tab"):
        annotate.submit_annotation(sqlite_db, task_id=tab_b.id, user=ann, label="neg")
    with pytest.raises(ValidationError, match="holder"):
        queue.lease_next_task(sqlite_db, project_id=project, user=ann, holder="a b")
