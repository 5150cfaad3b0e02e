"""Webhooks: an admin registers URLs for a project's events; deliveries are signed and retried.

Events: ``annotation.created``, ``review.completed``, ``round.completed``, ``batch.ready``.
`labelloop.engine.core.outbox.emit_event` adds one delivery per subscribed webhook inside
the caller's transaction, so an event is sent only if its change commits. `deliver_due`
(run by the job worker) POSTs each due delivery with headers

- ``X-Labelloop-Event``: the event name;
- ``X-Labelloop-Delivery``: the delivery id (for the receiver's de-duplication);
- ``X-Labelloop-Signature``: ``sha256=<hex HMAC-SHA256 of the raw body, keyed by the
  webhook's secret>``.

A 2xx answer marks the delivery ``delivered``; anything else (status, timeout,
refused connection) is recorded and retried after ``RETRY_BASE * 2**(attempts-1)``
seconds, until ``MAX_ATTEMPTS`` attempts, after which it is ``failed``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from labelloop.engine.core.outbox import WEBHOOK_EVENTS
from labelloop.engine.core.project import resolve_project
from labelloop.exceptions import NotFoundError, ValidationError
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import WebhookDeliveryRow, WebhookRow, utcnow

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_BASE",
    "DeliveryInfo",
    "WebhookInfo",
    "delete_webhook",
    "deliver_due",
    "list_deliveries",
    "list_webhooks",
    "register_webhook",
    "sign",
]

MAX_ATTEMPTS = 6
RETRY_BASE = dt.timedelta(seconds=30)
_MAX_BACKOFF = dt.timedelta(hours=1)
_IN_FLIGHT = dt.timedelta(seconds=60)  # a claimed delivery is not claimed again meanwhile
_TIMEOUT = 10.0


@dataclass(frozen=True)
class WebhookInfo:
    """A registered webhook. ``secret`` is only shown by `register_webhook`."""

    id: int
    project_id: int
    url: str
    events: tuple[str, ...]
    is_active: bool
    created_at: dt.datetime
    secret: str | None = None


@dataclass(frozen=True)
class DeliveryInfo:
    """One event sent (or to be sent) to one webhook."""

    id: int
    webhook_id: int
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None


def _info(row: WebhookRow, *, with_secret: bool = False) -> WebhookInfo:
    return WebhookInfo(
        id=row.id,
        project_id=row.project_id,
        url=row.url,
        events=tuple(row.events),
        is_active=bool(row.is_active),
        created_at=row.created_at,
        secret=row.secret if with_secret else None,
    )


def sign(secret: str, body: bytes) -> str:
    """The ``X-Labelloop-Signature`` header value for a body: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _check_url(url: object) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationError("url must be a string of at most 2000 characters", field="url")
    try:
        parsed = httpx.URL(url)
    except Exception as exc:  # httpx raises InvalidURL and others for garbage
        raise ValidationError(f"not a URL: {url!r}", field="url") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError(f"webhook URL must be http(s)://host/...: {url!r}", field="url")
    return url


def _check_events(events: object) -> list[str]:
    if isinstance(events, str) or not isinstance(events, Sequence) or not events:
        raise ValidationError("events must be a non-empty list of event names", field="events")
    for name in events:
        if name not in WEBHOOK_EVENTS:
            raise ValidationError(
                f"unknown event {name!r}: use {', '.join(WEBHOOK_EVENTS)}", field="events"
            )
    return sorted(set(events))


def register_webhook(
    db: Database,
    *,
    actor: str,
    project_id: int,
    url: str,
    events: Sequence[str],
    secret: str | None = None,
) -> WebhookInfo:
    """Register a URL for some of a project's events.

    Parameters
    ----------
    db : Database
    actor : str
    project_id : int
    url : str
        An ``http://`` or ``https://`` URL.
    events : sequence of str
        Among `WEBHOOK_EVENTS`.
    secret : str, optional
        The HMAC key (at least 16 characters); default: a fresh random one.

    Returns
    -------
    WebhookInfo
        With ``secret`` set: keep it to verify the signatures.
    """
    url = _check_url(url)
    names = _check_events(events)
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        raise ValidationError("secret must have 16 to 200 characters", field="secret")
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        row = WebhookRow(project_id=project.id, url=url, events=names, secret=secret)
        session.add(row)
        session.flush()
        append_event(
            session,
            project_id=project.id,
            actor=actor,
            action="webhook.registered",
            target=f"webhook:{row.id}",
            after={"url": url, "events": names},
        )
        return _info(row, with_secret=True)


def list_webhooks(db: Database, project_id: int) -> list[WebhookInfo]:
    """A project's webhooks (without their secrets), oldest first."""
    with db.read() as session:
        project = resolve_project(session, project_id)
        rows = session.execute(
            select(WebhookRow).where(WebhookRow.project_id == project.id).order_by(WebhookRow.id)
        ).scalars()
        return [_info(row) for row in rows]


def delete_webhook(db: Database, *, actor: str, project_id: int, webhook_id: int) -> None:
    """Delete a webhook and its pending deliveries (NotFoundError if not this project's)."""
    with db.transaction() as session:
        project = resolve_project(session, project_id)
        row = session.get(WebhookRow, webhook_id)
        if row is None or row.project_id != project.id:
            raise NotFoundError(f"no webhook {webhook_id} in project {project.name!r}")
        before = {"url": row.url, "events": list(row.events)}
        session.delete(row)
        append_event(
            session,
            project_id=project.id,
            actor=actor,
            action="webhook.deleted",
            target=f"webhook:{webhook_id}",
            before=before,
        )


def list_deliveries(db: Database, webhook_id: int) -> list[DeliveryInfo]:
    """The deliveries of one webhook, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.webhook_id == webhook_id)
            .order_by(WebhookDeliveryRow.id)
        ).scalars()
        return [
            DeliveryInfo(
                id=row.id,
                webhook_id=row.webhook_id,
                event=row.event,
                status=row.status,
                attempts=row.attempts,
                last_status_code=row.last_status_code,
                last_error=row.last_error,
                next_attempt_at=row.next_attempt_at,
                delivered_at=row.delivered_at,
            )
            for row in rows
        ]


def _backoff(attempts: int) -> dt.timedelta:
    return min(RETRY_BASE * 2 ** (attempts - 1), _MAX_BACKOFF)


def _claim(db: Database, now: dt.datetime, limit: int) -> list[tuple[int, str, str, str, str]]:
    """Take due deliveries, pushing their next attempt ahead so no one else takes them."""
    # A read first: an idle worker's poll must not take SQLite's write lock.
    with db.read() as session:
        due = session.execute(
            select(WebhookDeliveryRow.id)
            .where(
                WebhookDeliveryRow.status == "pending", WebhookDeliveryRow.next_attempt_at <= now
            )
            .limit(1)
        )
        if due.first() is None:
            return []
    with db.transaction() as session:
        query = (
            select(WebhookDeliveryRow, WebhookRow)
            .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
            .where(
                WebhookDeliveryRow.status == "pending",
                WebhookDeliveryRow.next_attempt_at <= now,
            )
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=WebhookDeliveryRow)
        claimed = []
        for delivery, hook in session.execute(query).all():
            delivery.next_attempt_at = now + _IN_FLIGHT
            claimed.append((delivery.id, hook.url, hook.secret, delivery.event, delivery.body))
        return claimed


def _record(
    db: Database,
    delivery_id: int,
    now: dt.datetime,
    status_code: int | None,
    error: str | None,
) -> bool:
    with db.transaction() as session:
        row = session.get(WebhookDeliveryRow, delivery_id)
        if row is None:  # the webhook was deleted meanwhile
            return False
        row.attempts += 1
        row.last_status_code = status_code
        row.last_error = error
        ok = status_code is not None and 200 <= status_code < 300
        if ok:
            row.status = "delivered"
            row.delivered_at = now
        elif row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
        else:
            row.next_attempt_at = now + _backoff(row.attempts)
        return ok


def deliver_due(
    db: Database,
    *,
    client: httpx.Client | None = None,
    now: dt.datetime | None = None,
    limit: int = 100,
) -> int:
    """Send the deliveries that are due; returns how many were attempted.

    Parameters
    ----------
    db : Database
    client : httpx.Client, optional
        The HTTP client to send with (default: a fresh one with a 10 s timeout).
    now : datetime, optional
        The current time (timezone-aware); lets callers run retries that are due later.
    limit : int
        At most this many deliveries per call.
    """
    now = now or utcnow()
    claimed = _claim(db, now, limit)
    if not claimed:
        return 0
    own_client = client is None
    client = client or httpx.Client(timeout=_TIMEOUT, follow_redirects=False)
    try:
        for delivery_id, url, secret, event, body in claimed:
            data = body.encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "labelloop-webhooks",
                "X-Labelloop-Event": event,
                "X-Labelloop-Delivery": str(delivery_id),
                "X-Labelloop-Signature": sign(secret, data),
            }
            try:
                response = client.post(url, content=data, headers=headers)
                status_code = response.status_code
                error = None if 200 <= status_code < 300 else response.text[:500]
            except httpx.HTTPError as exc:
                status_code, error = None, f"{type(exc).__name__}: {exc}"[:500]
            _record(db, delivery_id, now, status_code, error)
    finally:
        if own_client:
            client.close()
    return len(claimed)
