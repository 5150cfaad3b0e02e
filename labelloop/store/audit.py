"""The hash-chained audit log.

Every state change made through the engine calls `append_event` inside its own
transaction, so the event commits (or rolls back) with the change. Each chain
(``project:<id>`` or ``global``) has a head row; updating it is the one short lock
that serialises chained writes, on SQLite and on PostgreSQL alike.

``hash = sha256(canonical_json({chain, seq, project_id, actor, action, target,
before, after, created_at}) + prev_hash)``; the first event's ``prev_hash`` is 64 zeros.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.store.tables import AuditEventRow, AuditHeadRow, utcnow

__all__ = ["GENESIS_HASH", "append_event", "chain_for", "event_hash"]

GENESIS_HASH = "0" * 64


def chain_for(project_id: int | None) -> str:
    """The name of the chain an event of this project belongs to."""
    return "global" if project_id is None else f"project:{project_id}"


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # SQLite returns naive datetimes: they were stored as UTC
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


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
        "before": before,
        "after": after,
        "created_at": _canonical(created_at),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
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
) -> AuditEventRow:
    """Append one event to its chain in the caller's transaction (never commits).

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
    """
    chain = chain_for(project_id)
    # Round-trip through JSON so what is hashed is exactly what the database returns.
    before = json.loads(json.dumps(before, default=str)) if before is not None else None
    after = json.loads(json.dumps(after, default=str)) if after is not None else None
    head = session.execute(
        select(AuditHeadRow).where(AuditHeadRow.chain == chain).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHeadRow(chain=chain, seq=0, hash=GENESIS_HASH)
        session.add(head)
    created_at = utcnow()
    seq = head.seq + 1
    digest = event_hash(
        chain=chain,
        seq=seq,
        project_id=project_id,
        actor=actor,
        action=action,
        target=target,
        before=before,
        after=after,
        created_at=created_at,
        prev_hash=head.hash,
    )
    event = AuditEventRow(
        chain=chain,
        seq=seq,
        project_id=project_id,
        actor=actor,
        action=action,
        target=target,
        before=before,
        after=after,
        created_at=created_at,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq = seq
    head.hash = digest
    session.flush()
    return event
