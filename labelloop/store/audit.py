"""The hash-chained audit log.

Every state change made through the engine calls `append_event` inside its own
transaction, so the event commits (or rolls back) with the change. Each chain
(``project:<id>`` or ``global``) has a head row; updating it is the one short lock
that serialises chained writes, on SQLite and on PostgreSQL alike.

``hash = sha256(canonical_json({chain, seq, project_id, actor, action, target,
before, after, created_at}) + prev_hash)``; the first event's ``prev_hash`` is 64 zeros.
Canonical JSON: keys sorted, no spaces, ``created_at`` as ISO 8601 UTC with microseconds,
and floats with an integral value written as integers (PostgreSQL's JSONB returns
``1e16`` as ``10000000000000000``; the hash must not depend on the database).
`labelloop.engine.audit.verify_chain` recomputes the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, event, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from labelloop.exceptions import ValidationError
from labelloop.store.prepared import Prepared
from labelloop.store.tables import AuditEventRow, AuditHeadRow, utcnow

__all__ = [
    "GENESIS_HASH",
    "append_event",
    "append_event_now",
    "canonical_time",
    "chain_for",
    "event_hash",
    "to_json_value",
]

GENESIS_HASH = "0" * 64
_EVENTS = AuditEventRow.__table__
_HEADS = AuditHeadRow.__table__
# Built once: building a statement costs more than SQLite takes to run these.
_SELECT_HEAD = (
    select(_HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .with_for_update()
)
_INSERT_EVENT = _EVENTS.insert()
_UPDATE_HEAD = _HEADS.update().where(_HEADS.c.chain == bindparam("head_chain"))
# Every engine write appends an event: its statements run prepared, on the driver's
# cursor (`labelloop.store.prepared`), which took a stream decision's CPU time from
# 4.2 to 2.7 ms together with the decision's own statements.
_SELECT_HEAD_NOW = Prepared(_SELECT_HEAD)
_INSERT_EVENT_NOW = Prepared(_INSERT_EVENT)
_UPDATE_HEAD_NOW = Prepared(_UPDATE_HEAD)
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


def chain_for(project_id: int | None) -> str:
    """The name of the chain an event of this project belongs to."""
    return "global" if project_id is None else f"project:{project_id}"


def canonical_time(value: dt.datetime) -> str:
    """A timestamp as hashed and exported: ISO 8601 in UTC with microseconds."""
    if value.tzinfo is None:  # SQLite returns naive datetimes: they were stored as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _map_json(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` (JSON data) with ``leaf`` applied to everything but its dicts and lists."""
    if isinstance(value, dict):
        return {key: _map_json(item, leaf) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_json(item, leaf) for item in value]
    return leaf(value)


def _integral_float_as_int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _finite_or_none(value: Any) -> Any:
    # NaN and infinity are not JSON: PostgreSQL refuses them, so they are stored as null.
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return str(value)


def to_json_value(value: Any) -> Any:
    """``value`` as the plain JSON data the database will return for it.

    Dates become ISO strings, numpy values plain numbers, sets sorted lists, NaN and
    infinity null, anything else its ``str``.
    """
    if value is None:
        return None
    return _map_json(json.loads(json.dumps(value, default=_json_default)), _finite_or_none)


def event_hash(
    *,
    chain: str,
    seq: int,
    project_id: int | None,
    actor: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    created_at: dt.datetime,
    prev_hash: str,
) -> str:
    """The SHA-256 hex digest that links an event to the one before it."""
    body = {
        "chain": chain,
        "seq": seq,
        "project_id": project_id,
        "actor": actor,
        "action": action,
        "target": target,
        "before": _map_json(before, _integral_float_as_int),
        "after": _map_json(after, _integral_float_as_int),
        "created_at": canonical_time(created_at),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((text + prev_hash).encode()).hexdigest()


def append_event(
    session: Session,
    *,
    project_id: int | None,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one event to its chain in the caller's transaction (never commits).

    On PostgreSQL the event is written as the transaction commits, after its other
    statements, so the chain's head is locked for the commit alone; a rolled-back
    transaction writes none.

    Parameters
    ----------
    session : Session
        The transaction that makes the change being audited.
    project_id : int or None
        The project the change belongs to; None for global changes (users, tokens).
    actor : str
        Who: a user name, ``cli:<os user>``, or ``model:<name>``.
    action : str
        What, as ``noun.verb``: ``project.created``, ``items.imported``, ``task.leased``, ...
    target : str
        What it was done to: ``project:3``, ``item:ext-17``, ``task:42``, ...
    before, after : JSON-serialisable, optional
        The state before and after, where it applies.

    Raises
    ------
    ValidationError
        An empty or over-long ``actor`` (300), ``target`` (500) or ``action`` (80), or an
        ``action`` that is not ``noun.verb``.
    """
    chain, before, after = _checked(project_id, actor, action, target, before, after)
    if session.get_bind().dialect.name == "postgresql":
        pending = session.info.setdefault(_PENDING, [])
        pending.append(
            {"chain": chain, "project_id": project_id, "actor": actor, "action": action,
             "target": target, "before": before, "after": after}
        )  # fmt: skip
        return
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # what `session.execute` would do before the statements below
    _append_on_sqlite(
        session.connection(), chain=chain, project_id=project_id, actor=actor,
        action=action, target=target, before=before, after=after,
    )  # fmt: skip


def append_event_now(
    conn: Connection,
    *,
    project_id: int | None,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one event to its chain now, in ``conn``'s transaction (never commits).

    For writes made on a Core connection (`labelloop.store.db.Database.write_connection`)
    rather than a session. Unlike `append_event`, the event is written at once on
    PostgreSQL too, so the chain's head stays locked from here to the commit: call it
    last. Parameters and errors as `append_event`.
    """
    chain, before, after = _checked(project_id, actor, action, target, before, after)
    fields = {"project_id": project_id, "actor": actor, "action": action,
              "target": target, "before": before, "after": after}  # fmt: skip
    if conn.dialect.name == "postgresql":
        _append_on_postgresql(conn, chain=chain, **fields, created_at=utcnow())
    else:
        _append_on_sqlite(conn, chain=chain, **fields)


def _checked(
    project_id: int | None, actor: str, action: str, target: str, before: Any, after: Any
) -> tuple[str, Any, Any]:
    """The event's texts checked; its chain, and ``before`` and ``after`` as stored."""
    _check_text("actor", actor, 300)
    _check_text("target", target, 500)
    _check_text("action", action, 80)
    if not _ACTION.fullmatch(action):
        raise ValidationError(
            f"audit action must be noun.verb in lower case (like 'task.leased'), got {action!r}",
            field="action",
        )
    # What is hashed is exactly what the database will return.
    return chain_for(project_id), to_json_value(before), to_json_value(after)


def _append_on_sqlite(conn: Connection, *, chain: str, **event_fields: Any) -> None:
    """SQLite (its write lock held): read the head, insert the event, advance the head."""
    created_at = utcnow()
    head = _SELECT_HEAD_NOW.run(conn, {"head_chain": chain}).first()
    seq, prev_hash = (int(head[0]), str(head[1])) if head else _lock_head(conn, chain)
    fields = {"chain": chain, "seq": seq + 1, **event_fields, "created_at": created_at}
    digest = event_hash(**fields, prev_hash=prev_hash)
    _INSERT_EVENT_NOW.run(conn, {**fields, "prev_hash": prev_hash, "hash": digest})
    _UPDATE_HEAD_NOW.run(conn, {"head_chain": chain, "seq": fields["seq"], "hash": digest})


def hashed_text_around_seq(
    *,
    chain: str,
    project_id: int | None,
    actor: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    created_at: dt.datetime,
) -> tuple[str, str]:
    """The text `event_hash` hashes (before ``prev_hash``), cut where ``seq`` goes.

    ``prefix + str(seq) + suffix`` is that text for any ``seq``: the body's keys are
    sorted, ``project_id`` comes just before ``seq`` and ``target`` just after it.
    """
    body = {
        "chain": chain,
        "project_id": project_id,
        "actor": actor,
        "action": action,
        "before": _map_json(before, _integral_float_as_int),
        "after": _map_json(after, _integral_float_as_int),
        "created_at": canonical_time(created_at),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return text[:-1] + ',"seq":', ',"target":' + json.dumps(target) + "}"


# PostgreSQL: the events of a transaction are chained just before it commits (the
# session's ``before_commit``), each in one statement that locks the head, advances it
# and inserts the event, the hash computed by the server (sha256 over the same text
# `event_hash` hashes). The head stays locked until the commit, as before, but nothing
# else of the transaction happens while it is held: with the head locked by a SELECT
# where the change was made and the hash computed in Python, 200 annotators of one
# project queued on it (measured with benchmarks/serve_load.py: 100 of 120 connections
# waiting on the head's row lock, 3 tasks a second).
_APPEND_PG = text(
    """
    WITH old AS (
        SELECT seq, hash FROM audit_heads WHERE chain = :chain FOR UPDATE
    ), head AS (
        UPDATE audit_heads AS h
        SET seq = old.seq + 1,
            hash = encode(sha256(convert_to(
                :prefix || (old.seq + 1)::text || :suffix || old.hash, 'UTF8')), 'hex')
        FROM old
        WHERE h.chain = :chain
        RETURNING h.seq, h.hash, old.hash AS prev_hash
    )
    INSERT INTO audit_events
        (chain, seq, project_id, actor, action, target, before, after, created_at,
         prev_hash, hash)
    SELECT :chain, head.seq, :project_id, :actor, :action, :target, :before, :after,
           :created_at, head.prev_hash, head.hash
    FROM head
    """
).bindparams(
    bindparam("before", type_=_EVENTS.c.before.type),
    bindparam("after", type_=_EVENTS.c.after.type),
    bindparam("created_at", type_=_EVENTS.c.created_at.type),
    bindparam("project_id", type_=_EVENTS.c.project_id.type),
)


_APPEND_PG_NOW = Prepared(_APPEND_PG)
_PENDING = "labelloop.audit.pending"


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    """PostgreSQL: chain the transaction's events last, just before it commits."""
    pending = session.info.pop(_PENDING, ())
    if not pending:
        return
    if session.new or session.dirty or session.deleted:
        session.flush()  # the transaction's changes first, as `session.execute` would
    conn = session.connection()
    for fields in pending:
        _append_on_postgresql(conn, **fields, created_at=utcnow())


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _append_on_postgresql(conn: Connection, *, chain: str, **fields: Any) -> None:
    prefix, suffix = hashed_text_around_seq(chain=chain, **fields)
    values = {"chain": chain, "prefix": prefix, "suffix": suffix, **fields}
    if _APPEND_PG_NOW.run(conn, values).rowcount == 1:
        return
    _lock_head(conn, chain)  # the chain's first event: create its head, then append
    if _APPEND_PG_NOW.run(conn, values).rowcount != 1:  # pragma: no cover - locked above
        raise RuntimeError(f"audit chain {chain!r} has no head row")


def _check_text(name: str, value: Any, max_length: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"audit {name} must be a non-empty string, got {value!r}", field=name)
    if len(value) > max_length:
        raise ValidationError(
            f"audit {name} is {len(value)} characters long, at most {max_length} fit: "
            f"{value[:40]!r}...",
            field=name,
        )


def _lock_head(conn: Connection, chain: str) -> tuple[int, str]:
    """The chain head's ``(seq, hash)``, its row locked until the transaction ends.

    The head row is created on the chain's first event.
    """
    head = conn.execute(_SELECT_HEAD, {"head_chain": chain}).first()
    if head is None:
        # Two first events of a chain may race here: ON CONFLICT DO NOTHING lets the loser
        # wait for the winner's row (PostgreSQL) and then lock it like any later writer.
        insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            insert(_HEADS)
            .values(chain=chain, seq=0, hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["chain"])
        )
        head = conn.execute(_SELECT_HEAD, {"head_chain": chain}).one()
    return int(head.seq), str(head.hash)
