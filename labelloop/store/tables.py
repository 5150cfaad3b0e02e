"""The schema: one table per domain word of the design (project, item, task, ...).

Conventions
-----------
- Times are timezone-aware UTC (`utcnow()`), stored as `AwareDateTime`
  (``DateTime(timezone=True)`` that reads back aware on SQLite too).
- Labels are stored as JSON: a string for single-label projects, a sorted list of
  strings for multi-label projects.
- Hot queries have their own composite index, named after the query it serves:
  "next highest-priority open task" and "items without a final label" stay index
  scans at 1M items.
- Rows that history depends on (annotations, reviews, versions, audit events) are
  never updated in place except for a status column; corrections add rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from labelloop.store.types import AwareDateTime

__all__ = [
    "AnnotationRow",
    "ApiTokenRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "ConsensusFitRow",
    "BrowserSessionRow",
    "DatasetVersionEntryRow",
    "DatasetVersionRow",
    "FeedbackSeenRow",
    "GuidelineExampleRow",
    "GuidelineVersionRow",
    "ItemRow",
    "JobRow",
    "LabelChangeRow",
    "LabelSuspectRow",
    "LoginThrottleRow",
    "MembershipRow",
    "ModelVersionRow",
    "PredictionRow",
    "ProjectRow",
    "ReviewRow",
    "ReviewTaskRow",
    "RoundRow",
    "TaskLeaseRow",
    "TaskRow",
    "UserRow",
    "WebhookDeliveryRow",
    "WebhookRow",
    "utcnow",
]

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL: unlike its plain json type it has equality, so labels can be
# compared, grouped and de-duplicated in SQL on both databases.
# Python None is stored as SQL NULL (not JSON null), as the bulk import writes it.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# Every constraint gets a name, so later migrations can drop or alter it (SQLite's batch
# mode cannot address an unnamed constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: Json,
        list[Any]: Json,
        dt.datetime: AwareDateTime(),
    }


# --------------------------------------------------------------------------- people


class UserRow(Base):
    """A person or a client model's service account. ``role`` holds in all its projects."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # admin | annotator | reviewer | model
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiTokenRow(Base):
    """An API token, stored as the SHA-256 hex digest of the secret (looked up directly)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class BrowserSessionRow(Base):
    """A browser log-in: the cookie holds the secret, the row its digest and CSRF token."""

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    # Idle expiry counts from here; written at most once a minute, so reads stay reads.
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)


class LoginThrottleRow(Base):
    """Failed log-ins counted per account name or per client address, shared by every
    server worker: the count, when the last one was, and until when attempts are refused."""

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_login_throttle_kind_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(250))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(index=True)
    blocked_until: Mapped[dt.datetime | None]


# --------------------------------------------------------------------------- projects


class ProjectRow(Base):
    """One labelling job.

    ``settings`` holds the tunables (batch_size, retrain_every, overlap, review_policy,
    review_percent, lease_seconds, eval_share, eval_min, show_model_guess, model, ...);
    `labelloop.engine.core.settings.SETTINGS` declares them with their defaults.
    """

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    task_type: Mapped[str] = mapped_column(String(40))  # classification | tabular | image | ...
    labels: Mapped[list[Any]] = mapped_column(Json)
    multi_label: Mapped[bool] = mapped_column(Boolean, default=False)
    strategy: Mapped[str] = mapped_column(String(60), default="auto")
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    guideline_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MembershipRow(Base):
    """A user's membership of a project; nobody sees a project they are not a member of."""

    __tablename__ = "memberships"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GuidelineVersionRow(Base):
    """One version of a project's guidelines (Markdown); versions are numbered from 1."""

    __tablename__ = "guideline_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # What changed from the version before, in a sentence (set when examples are added).
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GuidelineExampleRow(Base):
    """An item shown beside the guidelines as an example, with its right label and a note.

    ``version`` is the guideline version that added it; a version shows every example
    added up to it. ``label`` is the label the example teaches (a copy: the item's label
    may change later, the example stays as the version said).
    """

    __tablename__ = "guideline_examples"
    __table_args__ = (Index("ix_guideline_examples_version", "project_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    label: Mapped[Any] = mapped_column(Json)
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- pool


class ItemRow(Base):
    """One unit of data in the pool.

    ``status`` is derived by the engine's final-label rule and kept here so the hot
    queries need no join: ``open`` (no final label), ``annotated`` (final label from
    annotation or import), ``in_review``, ``accepted`` (a reviewer accepted/corrected).
    """

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_items_project_external"),
        Index("ix_items_project_hash", "project_id", "content_hash"),
        Index("ix_items_unlabelled", "project_id", "status", "id"),
        # The evaluation items only: the queue counts the labelled ones on every lease
        # until `eval_min_labels` of them are labelled.
        Index(
            "ix_items_eval_status",
            "project_id",
            "status",
            sqlite_where=text("is_eval IS 1"),
            postgresql_where=text("is_eval IS true"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    media_ref: Mapped[str | None] = mapped_column(String(1000))
    meta: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    is_eval: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="open")
    final_label: Mapped[Any | None] = mapped_column(Json)
    label_source: Mapped[str | None] = mapped_column(String(20))  # import | human | review | model
    labelled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PredictionRow(Base):
    """A model version's output for an item and the informativeness score derived from it."""

    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_model_item", "model_version_id", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    probabilities: Mapped[dict[str, Any]] = mapped_column(Json)  # label -> probability
    score: Mapped[float] = mapped_column(Float)
    # Entity spans [{start, end, label, score}] or boxes [{bbox, label, score}]; whole-item
    # projects leave it empty (migration 0013).
    structure: Mapped[list[dict[str, Any]] | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- queues


class TaskRow(Base):
    """An item routed to a queue.

    One row per (item, queue). ``needed`` is how many annotations the item still needs
    (the project's overlap); the task is ``open`` while it does, ``done`` after.
    Leases live in `TaskLeaseRow`, so overlapping annotators each hold their own.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("item_id", "queue", name="uq_tasks_item_queue"),
        Index("ix_tasks_next", "project_id", "queue", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    queue: Mapped[str] = mapped_column(String(40), default="label")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | done
    priority: Mapped[float] = mapped_column(Float, default=0.0)  # higher first
    needed: Mapped[int] = mapped_column(Integer, default=1)
    active_leases: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(300))
    is_eval: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TaskLeaseRow(Base):
    """A task leased to one annotator until ``expires_at``; ``outcome`` closes it."""

    __tablename__ = "task_leases"
    __table_args__ = (
        Index("ix_task_leases_task_user", "task_id", "user_id"),
        Index("ix_task_leases_open", "project_id", "outcome", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    leased_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    outcome: Mapped[str | None] = mapped_column(String(20))  # annotated | skipped | expired
    skip_reason: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[dt.datetime | None]
    # Who holds it within the user's sessions (a browser tab), so two tabs get two tasks.
    holder: Mapped[str | None] = mapped_column(String(64))


# --------------------------------------------------------------------------- labels


class AnnotationRow(Base):
    """A label given by a human, a model, or an import.

    ``status``: ``active`` counts toward the final label; ``undone`` (withdrawn by its
    author before review) and ``rejected`` (by a reviewer) do not.
    """

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_annotations_idempotency"),
        Index("ix_annotations_item", "item_id", "status"),
        Index("ix_annotations_project_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))  # user name, cli:<os user>, model:<name>
    source: Mapped[str] = mapped_column(String(20))  # human | model | import
    label: Mapped[Any] = mapped_column(Json)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer)
    guideline_version: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The annotator's doubt and words for reviewers, given with the label (not a skip).
    unsure: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    comment: Mapped[str | None] = mapped_column(Text)


class ReviewTaskRow(Base):
    """An item waiting for a reviewer, with the reason review is due."""

    __tablename__ = "review_tasks"
    __table_args__ = (Index("ix_review_tasks_next", "project_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(60))  # all | sample | model_disagrees | tie ...
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | done
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lease_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReviewRow(Base):
    """A reviewer's verdict on an annotation: accept, reject or correct."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), index=True
    )
    review_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_tasks.id", ondelete="SET NULL")
    )
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verdict: Mapped[str] = mapped_column(String(20))  # accept | reject | correct
    corrected_label: Mapped[Any | None] = mapped_column(Json)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeedbackSeenRow(Base):
    """How far a user has read the reviews of their labels in a project: the newest review
    id they have seen (reviews are numbered in the order they were given)."""

    __tablename__ = "feedback_seen"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    last_review_id: Mapped[int] = mapped_column(BigId)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SavedFilterRow(Base):
    """A named filter of a project's item browser: the browser's query, saved by an admin."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_saved_filters_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[Any] = mapped_column(Json)  # {"q": ..., "status": ..., "sort": ...}
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LabelChangeRow(Base):
    """One change of an item's standing final label, in the order changes committed.

    Append-only: ``label`` is the label the item holds from this change on, NULL when it
    holds none any more (a withdrawal). Read by id, per project, as the label feed.
    """

    __tablename__ = "label_changes"
    __table_args__ = (Index("ix_label_changes_project_id", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    label: Mapped[Any | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AutoLabelRow(Base):
    """An auto-label: the model's annotation on a pool item, and what certified it.

    ``annotation_id`` is the ``model`` annotation; ``threshold`` the certified threshold
    on the top-class probability it cleared (``confidence``), ``bound`` the precision's
    lower bound that certified it; ``spot_check`` whether the item was also sent to
    people as an ordinary task, to measure the auto-labels.
    """

    __tablename__ = "auto_labels"
    __table_args__ = (Index("ix_auto_labels_project_spot", "project_id", "spot_check", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    round_number: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    bound: Mapped[float] = mapped_column(Float)
    spot_check: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AutoLabelPauseRow(Base):
    """Auto-labelling paused for a project: the spot checks fell short of the target.

    Open (``resumed_at`` NULL) until an admin resumes; the measurement that paused it is
    kept (``checked``, ``correct``, ``upper``: the interval's upper bound).
    """

    __tablename__ = "auto_label_pauses"
    __table_args__ = (Index("ix_auto_label_pauses_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    checked: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    upper: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resumed_at: Mapped[dt.datetime | None]
    resumed_by: Mapped[str | None] = mapped_column(String(200))


class LabelSuspectRow(Base):
    """A label that a round's out-of-fold check found likely wrong, until a reviewer rules.

    ``status``: ``open`` (in the suspect queue), ``confirmed`` (a reviewer corrected it),
    ``cleared`` (a reviewer kept it), ``dropped`` (a later round no longer flags it, or
    the item's label changed). At most one ``open`` row per item; ``quality`` is
    cleanlab's label quality score (low: likely wrong) and ``rank`` its place among the
    round's flags (1: most suspect), for the reviewers' precision at k.
    """

    __tablename__ = "label_suspects"
    __table_args__ = (Index("ix_label_suspects_queue", "project_id", "status", "quality"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    round_number: Mapped[int] = mapped_column(Integer)
    given_label: Mapped[Any] = mapped_column(Json)
    suggested_label: Mapped[Any] = mapped_column(Json)
    quality: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="open")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    corrected_label: Mapped[Any | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]


class ConsensusFitRow(Base):
    """A Dawid-Skene fit of a project's annotators, the newest being the one in force.

    ``classes`` are the label keys (`labelloop.engine.core.labels.label_key`) the fit
    knows, in the order of ``prior``; ``annotators`` maps each annotator (the
    annotation's ``actor``) to ``{"confusion": rows true x columns given, "accuracy",
    "n_annotations"}``; ``n_items`` the items with two or more votes it was fitted on.
    """

    __tablename__ = "consensus_fits"
    __table_args__ = (Index("ix_consensus_fits_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    n_items: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list[Any]] = mapped_column(Json)
    prior: Mapped[list[Any]] = mapped_column(Json)
    annotators: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- versions


class DatasetVersionRow(Base):
    """An immutable snapshot of the labelled set a model saw, numbered per project."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DatasetVersionEntryRow(Base):
    """One (item, label, annotation ids) of a dataset version."""

    __tablename__ = "dataset_version_entries"

    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[Any] = mapped_column(Json)
    annotation_ids: Mapped[list[Any]] = mapped_column(Json, default=list)


class ModelVersionRow(Base):
    """A trained (or client-pushed) model, numbered per project.

    Built-in models keep their artifact in the project's artifact directory, checked
    by ``artifact_sha256`` before loading. Client models have ``kind='client'`` and
    ``name`` set to the client's own version string.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), default="builtin")  # builtin | client
    name: Mapped[str] = mapped_column(String(200), default="")
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    artifact_path: Mapped[str | None] = mapped_column(String(1000))
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RoundRow(Base):
    """One turn of the loop: dataset version in, model version out, batch, metrics."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL")
    )
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    strategy: Mapped[str] = mapped_column(String(60))
    batch: Mapped[list[Any]] = mapped_column(Json, default=list)  # item ids, in pick order
    metrics: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    n_labels: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- audit


class AuditEventRow(Base):
    """An append-only, hash-chained record of who changed what, when.

    ``chain`` is ``project:<id>`` for project events and ``global`` for the rest
    (users, tokens). ``hash`` = SHA-256 over the canonical JSON of the event's fields
    and ``prev_hash``; see `labelloop.store.audit`.
    """

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_audit_chain_seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(500))
    before: Mapped[Any | None] = mapped_column(Json)
    after: Mapped[Any | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The last event of each chain: one short row lock serialises chained writes."""

    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


# --------------------------------------------------------------------------- jobs, webhooks


class StreamStateRow(Base):
    """A project's stream: arrivals, asks, the threshold and the recent asks (as JSON).

    One row per project, locked by each arrival's decision
    (`labelloop.strategies.stream.StreamState`).
    """

    __tablename__ = "stream_states"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobRow(Base):
    """Work done outside request handlers (retrains, webhook sends); re-run if interrupted."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_pending", "status", "project_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # retrain | ...
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class WebhookRow(Base):
    """A URL an admin registered for some events of a project; deliveries are HMAC-signed."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(Json)
    secret: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookDeliveryRow(Base):
    """One event sent (or to be sent) to one webhook, with its retries and outcome."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]
