"""The hash-chained audit log: append, verify, tamper detection, export (both databases)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select, text

import labelloop.engine.audit as engine_audit
from labelloop.engine.audit import export_events, verify_chain, verify_global_chain
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.audit import GENESIS_HASH, append_event, chain_for, event_hash
from labelloop.store.tables import AuditEventRow, AuditHeadRow, ProjectRow


def _project(db, name="p") -> int:
    with db.transaction() as s:
        row = ProjectRow(name=name, task_type="classification", labels=["pos", "neg"])
        s.add(row)
        s.flush()
        return row.id


def _append(db, project_id, n, *, start=0):
    for i in range(start, start + n):
        with db.transaction() as s:
            append_event(
                s,
                project_id=project_id,
                actor="cli:alice",
                action="annotation.submitted",
                target=f"item:ext-{i}",
                before=None if i % 2 else {"label": "neg"},
                after={"label": "pos", "i": i, "score": 0.1 * i},
            )


def _sql(db, statement: str, **params) -> None:
    with db.transaction() as s:
        s.execute(text(statement), params)


@pytest.fixture
def chain5(database):
    """A project with a 5-event chain."""
    project_id = _project(database)
    _append(database, project_id, 5)
    return database, project_id


def test_append_links_every_event_to_the_one_before(chain5):
    db, project_id = chain5
    with db.read() as s:
        rows = s.scalars(select(AuditEventRow).order_by(AuditEventRow.seq)).all()
        head = s.get(AuditHeadRow, chain_for(project_id))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert (head.seq, head.hash) == (5, rows[-1].hash)
    assert {r.chain for r in rows} == {f"project:{project_id}"}


@pytest.mark.parametrize(
    "field, value",
    [
        ("actor", ""),
        ("actor", "model:" + "m" * 300),
        ("target", "item:" + "x" * 500),
        ("action", "created"),
        ("action", "Task.Leased"),
        ("action", None),
    ],
)
def test_append_refuses_bad_fields_and_writes_nothing(database, field, value):
    project_id = _project(database)
    fields = {"actor": "cli:alice", "action": "task.leased", "target": "task:1", field: value}
    with pytest.raises(ValidationError) as info, database.transaction() as s:
        append_event(s, project_id=project_id, **fields)
    assert info.value.field == field
    assert verify_chain(database, project_id).n_events == 0


def test_long_external_ids_fit_in_a_target(database):
    project_id = _project(database)
    with database.transaction() as s:
        append_event(
            s,
            project_id=project_id,
            actor="model:" + "m" * 200,
            action="items.imported",
            target="item:" + "x" * 300,
        )
    assert verify_chain(database, project_id).ok


def test_intact_chain_verifies(chain5):
    db, project_id = chain5
    report = verify_chain(db, project_id)
    assert report.ok and report.n_events == 5
    assert (report.broken_seq, report.broken_event_id) == (None, None)
    assert verify_chain(db, "p") == report  # by name too


def test_empty_chain_verifies(database):
    project_id = _project(database)
    report = verify_chain(database, project_id)
    assert report.ok and report.n_events == 0


def test_unknown_project(database):
    with pytest.raises(NotFoundError, match="nope"):
        verify_chain(database, "nope")


def _event_id(db, project_id, seq) -> int:
    with db.read() as s:
        return s.scalar(
            select(AuditEventRow.id).where(
                AuditEventRow.chain == chain_for(project_id), AuditEventRow.seq == seq
            )
        )


def test_edited_after_is_named(chain5):
    db, project_id = chain5
    event_id = _event_id(db, project_id, 3)
    _sql(db, """UPDATE audit_events SET "after" = '{"label": "neg"}' WHERE id = :id""", id=event_id)
    report = verify_chain(db, project_id)
    assert not report.ok
    assert (report.broken_seq, report.broken_event_id) == (3, event_id)
    assert "seq 3" in report.message and "edited" in report.message


@pytest.mark.parametrize(
    "column, value",
    [("actor", "'cli:mallory'"), ("action", "'project.deleted'"), ("target", "'item:x'")],
)
def test_edited_columns_are_named(chain5, column, value):
    db, project_id = chain5
    _sql(db, f"UPDATE audit_events SET {column} = {value} WHERE seq = 2")
    report = verify_chain(db, project_id)
    assert (report.ok, report.broken_seq) == (False, 2)


def test_edited_timestamp_is_named(chain5):
    db, project_id = chain5
    with db.transaction() as s:
        row = s.scalars(select(AuditEventRow).where(AuditEventRow.seq == 4)).one()
        row.created_at = row.created_at - dt.timedelta(seconds=1)
    assert verify_chain(db, project_id).broken_seq == 4


def test_deleted_middle_row(chain5):
    db, project_id = chain5
    _sql(db, "DELETE FROM audit_events WHERE seq = 3")
    report = verify_chain(db, project_id)
    assert not report.ok
    assert report.broken_seq == 3
    assert report.broken_event_id == _event_id(db, project_id, 4)
    assert "seq 3 missing" in report.message and "deleted" in report.message


def test_deleted_first_row(chain5):
    db, project_id = chain5
    _sql(db, "DELETE FROM audit_events WHERE seq = 1")
    assert verify_chain(db, project_id).broken_seq == 1


def test_deleted_last_rows_are_caught_by_the_head(chain5):
    db, project_id = chain5
    _sql(db, "DELETE FROM audit_events WHERE seq >= 4")
    report = verify_chain(db, project_id)
    assert not report.ok
    assert report.broken_seq == 4
    assert "head" in report.message and "deleted" in report.message


def test_every_row_deleted_is_caught_by_the_head(chain5):
    db, project_id = chain5
    _sql(db, "DELETE FROM audit_events")
    report = verify_chain(db, project_id)
    assert (report.ok, report.broken_seq) == (False, 1)


def test_deleted_row_with_renumbered_successors(chain5):
    # Closing the gap by renumbering still breaks the links.
    db, project_id = chain5
    _sql(db, "DELETE FROM audit_events WHERE seq = 3")
    _sql(db, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 3")
    _sql(db, "UPDATE audit_heads SET seq = 4")
    assert verify_chain(db, project_id).broken_seq == 3


def test_reordered_rows(chain5):
    db, project_id = chain5
    _sql(db, "UPDATE audit_events SET seq = -1 WHERE seq = 2")
    _sql(db, "UPDATE audit_events SET seq = 2 WHERE seq = 3")
    _sql(db, "UPDATE audit_events SET seq = 3 WHERE seq = -1")
    report = verify_chain(db, project_id)
    assert (report.ok, report.broken_seq) == (False, 2)


def test_replaced_last_event_and_head_mismatch(chain5):
    db, project_id = chain5
    _sql(db, "UPDATE audit_heads SET hash = :h", h="f" * 64)
    report = verify_chain(db, project_id)
    assert (report.ok, report.broken_seq) == (False, 5)


def test_event_added_outside_the_log(chain5):
    db, project_id = chain5
    with db.read() as s:
        last = s.scalars(select(AuditEventRow).where(AuditEventRow.seq == 5)).one()
    created_at = last.created_at
    forged = {
        "chain": last.chain,
        "seq": 6,
        "project_id": project_id,
        "actor": "cli:mallory",
        "action": "settings.changed",
        "target": f"project:{project_id}",
        "before": None,
        "after": None,
        "created_at": created_at,
    }
    with db.transaction() as s:
        s.add(
            AuditEventRow(
                **forged, prev_hash=last.hash, hash=event_hash(**forged, prev_hash=last.hash)
            )
        )
    report = verify_chain(db, project_id)
    assert (report.ok, report.broken_seq) == (False, 6)
    assert "outside" in report.message


def test_chains_are_independent(database):
    a, b = _project(database, "a"), _project(database, "b")
    _append(database, a, 3)
    _append(database, b, 2)
    with database.transaction() as s:
        append_event(s, project_id=None, actor="cli:root", action="user.created", target="user:1")
    _sql(database, "DELETE FROM audit_events WHERE chain = :c AND seq = 2", c=chain_for(a))
    assert not verify_chain(database, a).ok
    assert verify_chain(database, b).ok and verify_chain(database, b).n_events == 2
    glob = verify_global_chain(database)
    assert glob.ok and glob.n_events == 1 and glob.chain == "global"


def test_values_hash_the_same_after_the_round_trip(database):
    # What the database gives back (JSONB reorders keys and turns 1e16 into an int; NaN is
    # not JSON) must hash as what was appended.
    project_id = _project(database)
    with database.transaction() as s:
        append_event(
            s,
            project_id=project_id,
            actor="Zoë",
            action="model.trained",
            target="model:1",
            before={"b": 1, "a": [1.0, 2.5]},
            after={
                "big": 1e16,
                "nan": float("nan"),
                "np": np.float32(0.25),
                "n": np.int64(3),
                "arr": np.arange(3),
                "when": dt.date(2024, 1, 2),
                "text": "naïve ☃",
            },
        )
    assert verify_chain(database, project_id).ok
    (event,) = export_events(database, project_id)
    assert event["after"]["nan"] is None
    assert event["after"]["arr"] == [0, 1, 2]
    assert event["after"]["when"] == "2024-01-02"


def test_verify_streams_across_chunks(database, monkeypatch):
    monkeypatch.setattr(engine_audit, "_CHUNK", 3)
    project_id = _project(database)
    _append(database, project_id, 10)
    assert verify_chain(database, project_id).n_events == 10
    _sql(database, "DELETE FROM audit_events WHERE seq = 8")
    assert verify_chain(database, project_id).broken_seq == 8


def test_export_round_trips_and_reverifies(chain5):
    db, project_id = chain5
    events = list(export_events(db, "p"))
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    lines = [json.loads(json.dumps(e)) for e in events]  # what a JSONL reader gets back
    prev = GENESIS_HASH
    for event in lines:
        fields = {k: event[k] for k in event if k not in ("id", "hash", "prev_hash")}
        fields["created_at"] = dt.datetime.fromisoformat(fields["created_at"])
        assert event["prev_hash"] == prev
        assert event_hash(**fields, prev_hash=prev) == event["hash"]
        prev = event["hash"]
    assert lines[0]["after"] == {"label": "pos", "i": 0, "score": 0.0}


def test_export_unknown_project(database):
    with pytest.raises(NotFoundError):
        next(export_events(database, "nope"))


def test_text_cut_at_seq_is_the_hashed_text() -> None:
    from labelloop.store.audit import hashed_text_around_seq

    fields = {
        "chain": "project:3",
        "project_id": 3,
        "actor": "ann\u00e9e \u2603",
        "action": "task.leased",
        "target": 'item:"quoted" \u00e9',
        "before": {"seq": 1, "z": [1.0, 2.5]},
        "after": {"label": "pos", "expires_at": "2026-01-01T00:00:00"},
        "created_at": dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC),
    }
    prefix, suffix = hashed_text_around_seq(**fields)
    import hashlib

    for seq in (1, 42, 123456):
        text_hash = hashlib.sha256((prefix + str(seq) + suffix + "ab" * 32).encode()).hexdigest()
        assert text_hash == event_hash(**fields, seq=seq, prev_hash="ab" * 32)


def test_events_hashed_by_the_database_verify(database) -> None:
    """On PostgreSQL the server computes the hash; the chain verifies in Python with
    text that is not ASCII, floats, numpy values and the global chain."""
    project_id = _project(database)
    for i in range(3):
        with database.transaction() as s:
            append_event(
                s,
                project_id=project_id,
                actor=f"\u00e9milie-{i}",
                action="item.labelled",
                target=f"item:\u2603-{i}",
                before={"p": np.float64(0.25), "n": np.int64(i), "big": 1e16},
                after={"label": "\u00fcber", "nested": [{"x": None}, 2.0]},
            )
            append_event(s, project_id=None, actor="cli:root", action="user.created",
                         target=f"user:{i}")  # fmt: skip
    assert verify_chain(database, project_id).ok
    assert verify_chain(database, project_id).n_events == 3
    assert verify_global_chain(database).ok
