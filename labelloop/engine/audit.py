"""Checking and exporting the hash-chained audit log.

`verify_chain` recomputes a project's chain event by event, in seq order, and stops at
the first broken link: an edited row (its hash no longer matches its contents), a deleted
or inserted row (a gap in seq, or a ``prev_hash`` that is not the hash before it), rows
swapped around (both), and deleted last rows (the chain's head row names a later event).
Events are streamed in chunks, so a chain of millions verifies in flat memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.project import resolve_project
from labelloop.store.audit import GENESIS_HASH, canonical_time, chain_for, event_hash
from labelloop.store.db import Database
from labelloop.store.tables import AuditEventRow, AuditHeadRow

__all__ = ["VerifyReport", "export_events", "verify_chain", "verify_global_chain"]

_CHUNK = 5000

_COLUMNS = (
    AuditEventRow.id,
    AuditEventRow.chain,
    AuditEventRow.seq,
    AuditEventRow.project_id,
    AuditEventRow.actor,
    AuditEventRow.action,
    AuditEventRow.target,
    AuditEventRow.before,
    AuditEventRow.after,
    AuditEventRow.created_at,
    AuditEventRow.prev_hash,
    AuditEventRow.hash,
)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of checking one audit chain.

    Attributes
    ----------
    ok : bool
        True when every link holds.
    n_events : int
        Events checked (up to and including the broken one).
    broken_seq : int or None
        The seq of the first broken link (for a deleted event: the seq that is missing).
    broken_event_id : int or None
        The id of the event found at the broken link, when there is one.
    message : str
        What is wrong, in words, or that the chain is intact.
    chain : str
        The chain checked: ``project:<id>`` or ``global``.
    """

    ok: bool
    n_events: int
    broken_seq: int | None
    broken_event_id: int | None
    message: str
    chain: str


def _project_chain(session: Session, project: int | str) -> str:
    return chain_for(resolve_project(session, project).id)


def verify_chain(db: Database, project: int | str) -> VerifyReport:
    """Recompute a project's audit chain and report the first broken link.

    Parameters
    ----------
    db : Database
        The database.
    project : int or str
        The project's id or name.

    Returns
    -------
    VerifyReport
        ``ok`` is False at the first edited, deleted, inserted or reordered event.

    Raises
    ------
    NotFoundError
        There is no such project.
    """
    with db.read() as session:
        return _verify(session, _project_chain(session, project))


def verify_global_chain(db: Database) -> VerifyReport:
    """Recompute the global audit chain (users, tokens, memberships)."""
    with db.read() as session:
        return _verify(session, chain_for(None))


def _verify(session: Session, chain: str) -> VerifyReport:
    """Walk ``chain`` in seq order; validation of the chain name is assumed."""
    expected_seq, prev_hash, n_events = 1, GENESIS_HASH, 0
    last_id: int | None = None

    def broken(seq: int, event_id: int | None, message: str) -> VerifyReport:
        return VerifyReport(False, n_events, seq, event_id, message, chain)

    rows = session.execute(
        select(*_COLUMNS)
        .where(AuditEventRow.chain == chain)
        .order_by(AuditEventRow.seq)
        .execution_options(yield_per=_CHUNK)
    )
    for row in rows:
        n_events += 1
        where = f"event seq {row.seq} (id {row.id})"
        if row.seq != expected_seq:
            missing = (
                f"seq {expected_seq}"
                if row.seq == expected_seq + 1
                else f"seq {expected_seq}..{row.seq - 1}"
            )
            return broken(
                expected_seq,
                row.id,
                f"{chain}: {missing} missing before {where}: an event was deleted"
                if row.seq > expected_seq
                else f"{chain}: {where} repeats or goes back in the sequence",
            )
        if row.prev_hash != prev_hash:
            return broken(
                row.seq,
                row.id,
                f"{chain}: {where} does not link to the event before it (prev_hash "
                f"{row.prev_hash[:12]}… != {prev_hash[:12]}…): an earlier event was "
                "deleted, inserted or replaced",
            )
        digest = event_hash(
            chain=row.chain,
            seq=row.seq,
            project_id=row.project_id,
            actor=row.actor,
            action=row.action,
            target=row.target,
            before=row.before,
            after=row.after,
            created_at=row.created_at,
            prev_hash=row.prev_hash,
        )
        if digest != row.hash:
            return broken(
                row.seq,
                row.id,
                f"{chain}: {where} ({row.action} on {row.target}) does not match its hash: "
                "the row was edited",
            )
        prev_hash, expected_seq, last_id = row.hash, expected_seq + 1, row.id

    head = session.get(AuditHeadRow, chain)
    last_seq = expected_seq - 1
    if head is None:
        if n_events:
            return broken(last_seq, last_id, f"{chain}: the chain's head row is missing")
    elif head.seq != last_seq:
        if head.seq > last_seq:
            return broken(
                last_seq + 1,
                None,
                f"{chain}: the head names seq {head.seq} but the last event is seq "
                f"{last_seq}: the events after it were deleted",
            )
        return broken(
            head.seq + 1,
            None,
            f"{chain}: events after seq {head.seq} are not in the head: "
            "they were added outside the audit log",
        )
    elif head.hash != prev_hash:
        return broken(
            last_seq,
            last_id,
            f"{chain}: the head's hash does not match event seq {last_seq}: "
            "the last event was replaced",
        )
    return VerifyReport(True, n_events, None, None, f"{chain}: {n_events} events, intact", chain)


def _event_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "chain": row.chain,
        "seq": row.seq,
        "project_id": row.project_id,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "before": row.before,
        "after": row.after,
        "created_at": canonical_time(row.created_at),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def export_events(db: Database, project: int | str | None) -> Iterator[dict[str, Any]]:
    """The events of a project's chain (or the global chain for None), in seq order.

    Each event is a JSON-ready dict with every hashed field plus ``id``, ``prev_hash``
    and ``hash``, so the chain can be re-verified from the export alone (see
    `labelloop.store.audit.event_hash`). Events are read in chunks; the read
    transaction stays open until the iterator is exhausted or closed.

    Parameters
    ----------
    db : Database
        The database.
    project : int, str or None
        The project's id or name; None for the global chain.

    Raises
    ------
    NotFoundError
        There is no such project (raised at the first ``next()``).
    """
    with db.read() as session:
        chain = chain_for(None) if project is None else _project_chain(session, project)
        rows = session.execute(
            select(*_COLUMNS)
            .where(AuditEventRow.chain == chain)
            .order_by(AuditEventRow.seq)
            .execution_options(yield_per=_CHUNK)
        )
        for row in rows:
            yield _event_dict(row)
