"""Stream mode: an item arrives, the latest model scores it, the budget decides at once.

Each arrival is **asked** (queued for people at once), **auto-labelled** (hybrid
automation on and the model certified sure of it), or **parked** (kept in the pool, where
batch rounds may still pick it); the answer says which and why. The rules:

1. An offered record is checked like an imported one
   (`labelloop.io.records.record_from_mapping`): text, tabular and entity projects, no
   label (labels come from people, or later through an import), an id not yet in the
   project (else `ConflictError` naming it), content not yet in the project (else
   `ConflictError` naming the item that has it). Nothing is written for a refusal.
2. It is scored before any transaction, by the latest round's model (loaded once per
   process and model version), on the project's uncertainty scale
   (`labelloop.engine.core.priority`); before a round fitted a model it has no score.
3. In one write transaction the project's stream state is locked (its row ``FOR UPDATE``
   on PostgreSQL; SQLite's write lock), the decision taken by
   `labelloop.strategies.stream.decide` under the project's ``stream_*`` settings, the
   item, its label task and its prediction written, the state saved, and the decision
   audited (``stream.decided``, with its reason). Concurrent arrivals are decided one
   after the other, so the budget holds at every moment.
4. An arrival is drawn for the evaluation set with probability ``eval_share`` (seeded
   by the arrival's number); it is asked as such, if the budget allows (evaluation
   labels are labels too), else parked outside the evaluation set.
6. With auto-labelling on (``auto_label``, not paused, single-label), an arrival whose
   top-class probability under the latest round's model is at or above that round's
   certified threshold for the class (`labelloop.engine.core.auto_labels.certified_cut`)
   is **auto-labelled** on arrival, through the rounds' own path
   (`labelloop.engine.core.auto_labels.write_auto_label`: a ``model`` annotation, its
   auto-label row, the final label, a spot check drawn like a round's). It spends no
   budget and does not move the threshold. An arrival drawn for the evaluation set or
   for exploration and asked (the budget allowed it) is asked instead: those labels
   must come from people.
5. Asked items go to the top of the queue, above any picked batch, most informative
   first (`priority.ASKED_BONUS` plus their place by informativeness), and stay there
   through later rounds and pushes; parked ones take their place by informativeness
   (in the unscored range, in a random order, before a model).
7. Entity (``ner``) projects: an offered record is a text (``{"id", "text", "meta"}``,
   no ``spans``); the latest round's CRF (`labelloop.models.entities.EntityModel`)
   scores its sentence under the project's ``ner_score`` setting (MNLP by default), the
   scale entity rounds rank the pool by, and the same budget rules decide. The
   prediction written keeps the predicted spans as its ``structure``, as a round's
   does. Nothing is auto-labelled (auto-labelling certifies class thresholds, which an
   entity model has none of). Box projects are refused: labelloop trains no box model
   that could score an arriving image.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from labelloop.engine.core.artifacts import load_project_model
from labelloop.engine.core.auto_labels import (
    CertifiedCut,
    auto_labelling_on,
    certified_cut,
    write_auto_label,
)
from labelloop.engine.core.items import LABEL_QUEUE
from labelloop.engine.core.priority import (
    ASKED_BONUS,
    ranking_model_id,
    scored_priorities,
    uncertainty,
    uncertainty_measure,
    unscored_priorities,
)
from labelloop.engine.core.project import project_key, project_not_found, resolve_project
from labelloop.engine.core.settings import effective_settings
from labelloop.exceptions import ConflictError, ImportDataError, ValidationError
from labelloop.io.records import record_from_mapping
from labelloop.store.audit import append_event_now
from labelloop.store.db import Database
from labelloop.store.prepared import Prepared
from labelloop.store.tables import (
    ItemRow,
    ModelVersionRow,
    PredictionRow,
    ProjectRow,
    StreamStateRow,
    TaskRow,
    utcnow,
)
from labelloop.strategies.stream import StreamPolicy, StreamState, decide, explores, pass_on

if TYPE_CHECKING:  # scikit-learn and skops load on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = ["StreamOffer", "StreamStatus", "offer_item", "stream_policy", "stream_status"]

_KINDS = {"classification": "text", "tabular": "tabular", "ner": "text"}
_CACHE_SIZE = 8


@dataclass(frozen=True)
class StreamOffer:
    """One arrival's decision.

    ``decision`` is ``ask``, ``auto-label`` or ``park``; ``informativeness`` is None
    before a model; ``asked`` and ``allowed`` are the stream's asks so far and the
    budget's bound; ``label`` is the auto-label given (None otherwise).
    """

    item_id: str
    decision: str
    reason: str
    informativeness: float | None
    threshold: float
    model_version: int | None
    is_eval: bool
    arrivals: int
    asked: int
    allowed: int
    label: str | None = None


@dataclass(frozen=True)
class StreamStatus:
    """A project's stream so far.

    ``allowed`` is the budget's bound on asks now (None under a rate budget, where it
    depends on the time of the next arrival).
    """

    arrivals: int
    asked: int
    allowed: int | None
    threshold: float | None
    budget: float
    labels_per_hour: float | None
    explore: float


class _Models:
    """Rule 2's process cache: a loaded model per (artifact, digest), least recent out."""

    def __init__(self) -> None:
        self._models: OrderedDict[tuple[str, str, int], ProjectModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, db: Database, project_id: int, version: int) -> ProjectModel:
        # abspath, not resolve(): resolving symlinks stats every component, each offer.
        key = (os.path.abspath(db.artifact_dir), str(project_id), version)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        _, model = load_project_model(db, project_id, version)
        with self._lock:
            self._models[key] = model
            while len(self._models) > _CACHE_SIZE:
                self._models.popitem(last=False)
        return model


_MODELS = _Models()


def stream_policy(settings: dict[str, Any], project_id: int) -> StreamPolicy:
    """The project's `StreamPolicy` from its ``stream_*`` settings (seeded by the project)."""
    return StreamPolicy(
        budget=float(settings["stream_budget"]),
        labels_per_hour=settings["stream_labels_per_hour"],
        explore=float(settings["stream_explore"]),
        step=float(settings["stream_step"]),
        window=int(settings["stream_window"]),
        seed=int(project_id),
    )


def _check_record(project: Any, record: Any, source: str | None, line: int | None) -> Any:
    """Rule 1's checks that need no transaction."""
    kind = _KINDS.get(project.task_type)
    if kind is None:
        why = (
            ": labelloop trains no box model to score an arriving image by (push a "
            "detector's boxes to the pool instead)"
            if project.task_type == "boxes"
            else " (import its items instead)"
        )
        raise ValidationError(
            f"stream mode takes text, tabular and entity projects; {project.name!r} is a "
            f"{project.task_type} project{why}",
            field="task_type",
        )
    if project.task_type == "ner" and isinstance(record, dict) and "spans" in record:
        raise ImportDataError(
            "an offered item carries no spans: people label what the stream asks "
            "(import labelled items instead)",
            path=source,
            line=line,
            field="spans",
        )
    checked = record_from_mapping(record, kind=kind, source=source, line=line)
    if checked.label is not None:
        raise ImportDataError(
            "an offered item carries no label: people label what the stream asks "
            "(import labelled items instead)",
            path=source,
            line=line,
            field=checked.label_field,
        )
    return checked


def _score(
    db: Database, project: Any, payload: dict[str, Any], ranked_by: tuple[int, int] | None
) -> tuple[float | None, dict[str, float] | None]:
    """Rule 2: the arrival's informativeness and class probabilities (None, None without
    a model)."""
    if ranked_by is None:
        return None, None
    import sklearn

    from labelloop.models.builtin import ItemInput

    model = _MODELS.get(db, project.id, ranked_by[1])
    if project.task_type == "ner":
        # Rule 7: the CRF's sentence score on the project's ner_score scale.
        measure = str(effective_settings(project)["ner_score"])
        predicted = model.predict([model.text_of(payload)], method=measure)
        return float(predicted.informativeness[0]), {"structure": list(predicted.spans[0])}
    # One row: scikit-learn's checks of its parameters and of finite input cost more than
    # the transform and the prediction (the model and its features are its own). The
    # built-in TF-IDF and logistic regression skip them altogether (`labelloop.models`).
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        proba = model.predict_proba(model.featurizer.transform([ItemInput(payload, None)]))
    informative = uncertainty(
        proba, measure=uncertainty_measure(project.strategy), multi_label=project.multi_label
    )
    labels = list(project.labels)
    rounded = np.round(proba[0], 6).tolist()
    return float(informative[0]), dict(zip(labels, rounded, strict=True))


# The decision's statements are built once, on the tables (Core), and run prepared on the
# driver's cursor (`labelloop.store.prepared`): building them, the ORM's bookkeeping and
# SQLAlchemy's execution path cost more than SQLite takes to run them, and a decision is
# a few of each.
_STATES = StreamStateRow.__table__
_ITEMS = ItemRow.__table__
_P = bindparam("p", type_=Integer)
_STATE = select(_STATES.c.state).where(_STATES.c.project_id == _P)
_STATE_LOCKED = Prepared(_STATE.with_for_update())
_NEW_STATE = Prepared(_STATES.insert())
_SAVE_STATE = Prepared(
    _STATES.update()
    .where(_STATES.c.project_id == _P)
    .values(state=bindparam("state"), updated_at=bindparam("now"))
)
# Rule 1's two index look-ups, as scalar subqueries of one statement; on SQLite (whose
# write lock is already held) the stream state comes with them, one round trip for all.
_SAME_ID = (
    select(_ITEMS.c.id)
    .where(_ITEMS.c.project_id == _P, _ITEMS.c.external_id == bindparam("external_id"))
    .limit(1)
    .scalar_subquery()
)
_SAME_CONTENT = (
    select(_ITEMS.c.external_id)
    .where(_ITEMS.c.project_id == _P, _ITEMS.c.content_hash == bindparam("content_hash"))
    .limit(1)
    .scalar_subquery()
)
_DUPLICATES = Prepared(select(_SAME_ID, _SAME_CONTENT))
_STATE_AND_DUPLICATES = Prepared(
    select(
        select(_STATES.c.state).where(_STATES.c.project_id == _P).scalar_subquery(),
        _SAME_ID,
        _SAME_CONTENT,
    )
)
_NEW_ITEM = Prepared(_ITEMS.insert().returning(_ITEMS.c.id))
# What a decision reads before its transaction, in one statement: the project's columns
# it needs and the model that ranks the pool (None before a round fitted one).
_PROJECTS = ProjectRow.__table__
_VERSIONS = ModelVersionRow.__table__
_PROJECT_AND_MODEL = select(
    *(_PROJECTS.c[name] for name in
      ("id", "name", "task_type", "labels", "multi_label", "strategy", "settings")),
    _VERSIONS.c.id.label("ranking_id"),
    _VERSIONS.c.version.label("ranking_version"),
).select_from(
    _PROJECTS.outerjoin(
        _VERSIONS, _VERSIONS.c.id == ranking_model_id(_PROJECTS.c.id).correlate(_PROJECTS)
    )
)  # fmt: skip
_PROJECT_BY_ID = _PROJECT_AND_MODEL.where(_PROJECTS.c.id == bindparam("ref", type_=Integer))
_PROJECT_BY_NAME = _PROJECT_AND_MODEL.where(_PROJECTS.c.name == bindparam("ref"))
_NEW_TASK = Prepared(TaskRow.__table__.insert())
_NEW_PREDICTION = Prepared(PredictionRow.__table__.insert())


def _locked_state(conn: Any, project_id: int, dialect: str, checked: Any) -> dict[str, Any]:
    """Rule 3: the project's stream state, its row created on first use and locked; and
    rule 1's refusal of an id or content already in the project."""
    keys = {"p": project_id, "external_id": checked.external_id,
            "content_hash": checked.content_hash}  # fmt: skip
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        # Two first arrivals at once: one creates the row, both then wait on its lock.
        conn.execute(
            insert(StreamStateRow)
            .values(project_id=project_id, state={}, updated_at=utcnow())
            .on_conflict_do_nothing()
        )
        state = _STATE_LOCKED.run(conn, {"p": project_id}).scalar_one()
        same_id, same_content = _DUPLICATES.run(conn, keys).rows[0]
    else:  # SQLite: the write lock is held
        state, same_id, same_content = _STATE_AND_DUPLICATES.run(conn, keys).rows[0]
    if same_id is not None:
        raise ConflictError(f"item {checked.external_id!r} is already in the project")
    if same_content is not None:
        raise ConflictError(
            f"item {checked.external_id!r} has the same content as item {same_content!r}"
        )
    if state is None:
        _NEW_STATE.run(conn, {"project_id": project_id, "state": {}, "updated_at": utcnow()})
        return {}
    return state


def _auto_reason(hit: tuple[str, float, int], cut: CertifiedCut, version: int) -> str:
    label, confidence, c = hit
    return (
        f"auto-labelled {label!r}: the model is {confidence:.3f} sure, at or above the "
        f"threshold {cut.thresholds[c]:.3f} certified in round {cut.round_number} "
        f"(model v{version})"
    )


def _auto_label(
    session: Any, project_id: int, item_id: int, hit: tuple[str, float, int],
    cut: CertifiedCut, version: int,
) -> None:  # fmt: skip
    """Rule 6: the auto-label, through the rounds' path (ORM rows, as `settle_item` takes)."""
    label, confidence, c = hit
    item = session.get(ItemRow, item_id)
    task = session.execute(
        select(TaskRow).where(TaskRow.item_id == item_id, TaskRow.queue == LABEL_QUEUE)
    ).scalar_one()
    write_auto_label(
        session, project=session.get(ProjectRow, project_id), item=item, task=task,
        label=label, confidence=confidence, threshold=float(cut.thresholds[c]),
        bound=float(cut.bounds[c] or 0.0), model_version_id=cut.model_version_id,
        model_version=version, round_number=cut.round_number,
    )  # fmt: skip


def offer_item(
    db: Database,
    *,
    project: int | str,
    record: Any,
    actor: str,
    source: str | None = None,
    line: int | None = None,
) -> StreamOffer:
    """Decide one arriving item: ask a person now, or park it in the pool.

    Parameters
    ----------
    db : Database
    project : int or str
        The project's id or name.
    record : mapping
        The item as an import record: ``{"id", "text" or feature fields, "meta"}``.
    actor : str
        Who offers it (audited).
    source, line : optional
        Where the record came from (a file and its line), for error messages.

    Returns
    -------
    StreamOffer

    Raises
    ------
    ValidationError
        A bad record (naming its field), a labelled record, a project type stream mode
        does not take.
    ConflictError
        The id, or the content, is already in the project.
    """
    key = project_key(project)
    with db.read_connection() as conn:
        row = conn.execute(
            _PROJECT_BY_ID if isinstance(key, int) else _PROJECT_BY_NAME, {"ref": key}
        ).first()
    if row is None:
        raise project_not_found(project)
    checked = _check_record(row, record, source, line)
    ranked_by = None if row.ranking_id is None else (int(row.ranking_id), int(row.ranking_version))
    settings = effective_settings(row)
    cut = None
    if ranked_by is not None and row.task_type != "ner" and auto_labelling_on(row):
        with db.read() as session:
            cut = certified_cut(session, row, ranked_by[0])
    informative, proba = _score(db, row, checked.payload, ranked_by)
    structure = None
    if row.task_type == "ner" and proba is not None:
        # An entity prediction holds spans, not class probabilities (rule 7).
        structure, proba = proba["structure"], {}
    hit = None if cut is None or proba is None else cut.clears(proba, list(row.labels))
    policy = stream_policy(settings, row.id)
    with db.write_connection() as conn:
        state = StreamState.from_dict(_locked_state(conn, row.id, db.dialect, checked))
        arrival = state.arrivals + 1
        draw, order = np.random.default_rng([policy.seed, arrival, 1]).random(2)
        eval_draw = draw < float(settings["eval_share"])
        decided = decide(
            informative,
            state,
            policy,
            forced="evaluation set: a random arrival, labelled to measure the model"
            if eval_draw
            else None,
        )
        if hit is not None and not (decided.ask and (eval_draw or explores(policy, state))):
            decided = pass_on(
                state, policy, _auto_reason(hit, cut, ranked_by[1]), informativeness=informative
            )
        else:
            hit = None
        is_eval = bool(eval_draw and decided.ask)
        now = utcnow()
        item_id = _NEW_ITEM.run(
            conn,
            {
                "project_id": row.id,
                "external_id": checked.external_id,
                "payload": checked.payload,
                "media_ref": None,
                "meta": checked.meta,
                "content_hash": checked.content_hash,
                "is_eval": is_eval,
                "status": "open",
                "created_at": now,
            },
        ).scalar_one()
        place = float(
            scored_priorities(np.array([informative]))[0]
            if informative is not None
            else unscored_priorities(np.array([order]))[0]
        )
        _NEW_TASK.run(
            conn,
            {
                "project_id": row.id,
                "item_id": item_id,
                "queue": LABEL_QUEUE,
                "status": "open",
                "priority": ASKED_BONUS + place if decided.ask else place,
                "needed": int(settings["overlap"]),
                "active_leases": 0,
                "reason": f"stream: {decided.reason}"[:300],
                "is_eval": is_eval,
                "created_at": now,
                "updated_at": now,
            },
        )
        if proba is not None:
            _NEW_PREDICTION.run(
                conn,
                {
                    "project_id": row.id,
                    "item_id": item_id,
                    "model_version_id": ranked_by[0],
                    "probabilities": proba,
                    "score": informative,
                    "created_at": now,
                    **({"structure": structure} if structure is not None else {}),
                },
            )
        if hit is not None:
            # The rounds' ORM path, in a session that joins this transaction: its commit
            # flushes (and chains its audit events) but leaves the commit to ours.
            with Session(bind=conn, expire_on_commit=False) as session:
                _auto_label(session, row.id, item_id, hit, cut, ranked_by[1])
                session.commit()
        _SAVE_STATE.run(conn, {"p": row.id, "state": decided.state.to_dict(), "now": now})
        outcome = StreamOffer(
            item_id=checked.external_id,
            decision="ask" if decided.ask else "auto-label" if hit else "park",
            reason=decided.reason,
            informativeness=informative,
            threshold=decided.threshold,
            model_version=ranked_by[1] if ranked_by else None,
            is_eval=is_eval,
            arrivals=decided.state.arrivals,
            asked=decided.state.asked,
            allowed=decided.allowed,
            label=hit[0] if hit else None,
        )
        append_event_now(
            conn,
            project_id=row.id,
            actor=actor,
            action="stream.decided",
            target=f"item:{item_id}",
            after={
                "item": checked.external_id,
                "decision": outcome.decision,
                "reason": outcome.reason,
                "informativeness": informative,
                "threshold": decided.threshold,
                "model_version": outcome.model_version,
                "arrival": outcome.arrivals,
                "asked": outcome.asked,
                "allowed": outcome.allowed,
                **({"label": outcome.label} if hit else {}),
            },
        )
    return outcome


def stream_status(db: Database, *, project: int | str) -> StreamStatus:
    """The project's stream so far: arrivals, asks, the budget's bound and the threshold."""
    with db.read() as session:
        row = resolve_project(session, project)
        state_row = session.get(StreamStateRow, row.id)
        state = StreamState.from_dict(state_row.state if state_row else None)
        policy = stream_policy(effective_settings(row), row.id)
    allowed = None
    if policy.labels_per_hour is None:
        allowed = math.floor(policy.budget * state.arrivals + 1e-9) + 1 if state.arrivals else 0
    return StreamStatus(
        arrivals=state.arrivals,
        asked=state.asked,
        allowed=allowed,
        threshold=state.threshold,
        budget=policy.budget,
        labels_per_hour=policy.labels_per_hour,
        explore=policy.explore,
    )
