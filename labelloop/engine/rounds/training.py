"""Training one round: the order of its steps, and what a failure part-way leaves.

No write transaction grows with the pool, so annotators leasing and submitting tasks
never wait long on SQLite's write lock while a round runs at a million items:

1. labels are read and the model fitted outside any write transaction;
2. the dataset version and the model version commit together, with the artifact
   (`versions`; the dataset version is as large as the labelled set, never the pool);
3. the evaluation set and the pool are read in keyset pages in short read transactions,
   and each page's predictions are written as it is scored (`scoring`);
4. task priorities are written, the picked batch first (`priorities`);
5. the round, its batch (put first again), the ``model.trained`` and ``round.completed``
   audit events and the webhooks' events commit last (`record`); then pool predictions
   of older model versions are deleted, but for the items their rounds picked;
6. with the ``auto_label`` setting on, the threshold is calibrated on the evaluation set
   before the round commits (its metrics carry it), and after the round commits the
   pool items that clear it are auto-labelled in paced transactions (`auto_labels`):
   a failure there leaves the round and the auto-labels written so far, all valid.
7. the label check's suspect labels, computed with the fit (out-of-fold, bounded cost),
   are written to the suspect queue (`label_check`).
8. with the ``relabel`` setting ``activelab``, labelled items whose consensus is weak
   get another annotation where ActiveLab says it is worth more than a new item
   (`relabel`); with the ``consensus`` setting ``dawid_skene``, the annotators are
   fitted again and the items with several annotators settled by the new fit
   (`labelloop.engine.core.final_label.refit_consensus`). Each commits on its own.

Predictions, priorities and deletions go in paced write transactions
(`labelloop.store.writes.WritePacer`).

A round that fails leaves no dataset version, model version, artifact, round or audit
event: a failure in step 1 wrote nothing, and one in steps 2 to 5 deletes the model
version's predictions (paced) and then its versions and artifact (`_take_back`). Only
the priorities written so far stay, and they are harmless: every task keeps a valid
priority on the same scale, and the next round writes all of them again and puts its
own batch first. A process killed part-way cannot take anything back: its versions stay
without a round, and the next round deletes their pool predictions.

With fewer than two classes labelled no model is fitted: the round is a cold start,
the pool ordered by the strategy's diversity alone.

An entity (``ner``) project's round follows the same steps with a CRF over its tokens,
span-level metrics and costs in tokens (`entities`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from labelloop.engine.core.final_label import refit_consensus
from labelloop.engine.core.project import resolve_project
from labelloop.engine.rounds.auto_labels import plan_auto_labels, write_auto_labels
from labelloop.engine.rounds.entities import train_entities
from labelloop.engine.rounds.groups import group_scores, read_auto_inputs
from labelloop.engine.rounds.inputs import (
    FEATURIZER_SAMPLE,
    ProjectSnapshot,
    annotation_ids,
    count_pool,
    featurizer_sample,
    read_labelled,
    snapshot_project,
)
from labelloop.engine.rounds.label_check import check_labels, write_suspects
from labelloop.engine.rounds.priorities import write_priorities
from labelloop.engine.rounds.record import RoundInfo, write_round
from labelloop.engine.rounds.relabel import ask_relabels
from labelloop.engine.rounds.scoring import (
    Progress,
    delete_predictions,
    drop_stale_predictions,
    score_eval_set,
    score_pool,
    score_pool_on_dask,
)
from labelloop.engine.rounds.status import stopping_metrics
from labelloop.engine.rounds.versions import TrainedVersions, discard_versions, write_model_version
from labelloop.engine.rounds.worth import random_sampling_curve
from labelloop.exceptions import LabelloopError, ValidationError
from labelloop.store.db import Database
from labelloop.store.tables import RoundRow, utcnow
from labelloop.store.writes import WritePacer

if TYPE_CHECKING:  # scikit-learn loads on first use, not with the engine
    from labelloop.models.builtin import ProjectModel

__all__ = ["train"]


def _check_actor(actor: Any) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("actor must name who trains (a user or cli:<os user>)", field="actor")
    return actor


def _can_fit(project: ProjectSnapshot, labels: Sequence[Any]) -> bool:
    if len(labels) < 2:
        return False
    if project.multi_label:
        return len({tuple(sorted(lab)) for lab in labels}) >= 2
    return len({str(lab) for lab in labels}) >= 2


def _fit(model: ProjectModel, X: Any, y: Any) -> None:
    """Fit, an estimator's own failure told as the ``model`` setting's fault."""
    try:
        model.fit(X, y)
    except LabelloopError:
        raise
    except Exception as exc:  # any estimator's error: the setting named it
        estimator = model.params["classifier"]["estimator"]
        raise ValidationError(
            f"model estimator {estimator!r} failed to fit {len(y)} labels "
            f"({type(exc).__name__}: {exc}); change the project's model setting",
            field="model",
        ) from exc


def _dask_address(dask: str | None) -> str | None:
    """``dask``, else ``$LABELLOOP_DASK``: checked before anything is read or fitted."""
    # The variable is `labelloop.scale.DASK_ENV`, imported only when a cluster may be
    # asked for: ``labelloop.scale`` loads scikit-learn, which the engine loads lazily.
    if dask is None and not os.environ.get("LABELLOOP_DASK"):
        return None
    from labelloop.scale import dask_address

    return dask_address(dask)


def _take_back(db: Database, project_id: int, versions: TrainedVersions) -> None:
    """Delete what a failed round committed: predictions (paced), then its versions."""
    delete_predictions(db, versions.model_id, pool_only=False)
    discard_versions(db, project_id, versions)


def train(
    db: Database,
    *,
    actor: str,
    project: int | str,
    progress: Progress | None = None,
    dask: str | None = None,
) -> RoundInfo:
    """Make one round: snapshot the labels, fit, score the pool, re-prioritise the queue.

    No write transaction grows with the pool (see the module's notes): annotators keep
    leasing and submitting while a round runs.

    Parameters
    ----------
    db : Database
    actor : str
        Who trains: a user name, ``cli:<os user>``, or ``model:<name>`` for retrain jobs.
    project : int or str
        The project's id or name.
    progress : callable, optional
        ``progress(stage, done, total)`` for stages ``fit``, ``score`` and ``write``.
    dask : str, optional
        A Dask scheduler address to score the pool on (``scoring`` rule 7); default
        ``$LABELLOOP_DASK``, and without either the pool is scored in this process.

    Returns
    -------
    RoundInfo
        The new round. With fewer than two classes labelled no model is fitted
        (``model_version`` is None) and the queue is ordered by diversity alone. A box
        project's round trains nothing and ranks the pool by the boxes client detectors
        pushed (`labelloop.engine.rounds.boxes`).

    Raises
    ------
    NotFoundError
        No such project.
    ValidationError
        The project has no items, its ``model`` setting is invalid, or its estimator
        fails to fit the labels (``field="model"``); an entity project's round without
        python-crfsuite (the ``[ner]`` extra) names the extra. A round that fails, for this or any
        reason, leaves nothing behind (see the module's notes).
    """
    from labelloop.models.builtin import (
        build_model,
        check_model_spec,
        cross_validated_metrics,
        label_metrics,
    )

    actor = _check_actor(actor)
    with db.read() as session:
        task_type = resolve_project(session, project).task_type
    if task_type == "boxes":
        # No detector is bundled: the round ranks the pool by the pushed boxes.
        from labelloop.engine.rounds.boxes import box_round

        return box_round(db, actor=actor, project=project)
    dask = _dask_address(dask)
    read_at = utcnow()
    with db.read() as session:
        task_type = resolve_project(session, project).task_type
    if task_type == "ner":
        return train_entities(
            db, actor=actor, project=project, read_at=read_at, progress=progress,
            dask_skipped=dask is not None,
        )  # fmt: skip
    with db.read() as session:
        proj = snapshot_project(resolve_project(session, project))
        train_set = read_labelled(
            session, proj.id, is_eval=False, auto_labels=bool(proj.settings["auto_label_train"])
        )
        eval_set = read_labelled(session, proj.id, is_eval=True)
        auto_inputs = read_auto_inputs(session, proj, train_set.item_ids, eval_set.item_ids)
        annotations = annotation_ids(session, proj.id, set(train_set.item_ids))
        pool_size = count_pool(session, proj.id)
        sample = featurizer_sample(session, proj.id, FEATURIZER_SAMPLE, is_eval=False)
        if not (train_set.inputs or sample):
            sample = featurizer_sample(session, proj.id, FEATURIZER_SAMPLE, is_eval=True)
        previous = (
            session.execute(
                select(RoundRow)
                .where(RoundRow.project_id == proj.id)
                .order_by(RoundRow.number.desc())
            )
            .scalars()
            .first()
        )
        prev_state = (previous.metrics or {}).get("strategy_state") if previous else None
        prev_metrics = dict(previous.metrics or {}) if previous else {}
        previous_model_id = previous.model_version_id if previous else None
        seed = previous.number + 1 if previous else 1
    if not (train_set.item_ids or sample):
        raise ValidationError(
            f"project {proj.name!r} has no items to train on: import some first", field="project"
        )
    if progress:
        progress("fit", 0, 1)
    spec = check_model_spec(proj.settings.get("model"))
    model = build_model(
        proj.task_type,
        labels=proj.labels,
        multi_label=proj.multi_label,
        spec=spec,
        media_root=proj.settings.get("media_root"),
    )
    model.featurizer.fit(train_set.inputs + sample)
    X_lab = model.featurizer.transform(train_set.inputs)
    y_lab = model.encode_labels(train_set.labels)
    fitted = _can_fit(proj, train_set.labels)
    metrics: dict[str, Any] = {"pool_size": pool_size, "n_eval_labelled": len(eval_set.labels)}
    if fitted:
        _fit(model, X_lab, y_lab)
        if eval_set.inputs:
            X_eval = model.featurizer.transform(eval_set.inputs)
            y_eval = model.encode_labels(eval_set.labels)
            eval_predicted = model.predict_labels(X_eval)
            metrics["eval"] = label_metrics(model, y_eval, eval_predicted)
            if auto_inputs.group_sampling == "minmax":
                auto_inputs.group_scores = group_scores(
                    auto_inputs.eval_groups, list(y_eval), list(eval_predicted)
                )
            random_curve = prev_metrics.get("random_curve")
            if prev_metrics.get("n_eval_labelled") != len(y_eval) or random_curve is None:
                random_curve = random_sampling_curve(model, X_eval, y_eval, seed=seed)
            if random_curve is not None:
                metrics["random_curve"] = random_curve
        cv = cross_validated_metrics(model, X_lab, y_lab, random_state=seed)
        if cv is not None:
            metrics["cv"] = cv
    label_check = None
    if fitted:
        label_check = check_labels(
            proj, model, X_lab, y_lab, train_set.item_ids, train_set.labels, seed=seed
        )
        if label_check is not None:
            metrics["label_check"] = label_check.summary()
    if progress:
        progress("fit", 1, 1)
    versions = None
    if fitted:
        versions = write_model_version(
            db, proj, actor=actor, model=model, seed=seed, train_set=train_set,
            annotations=annotations, metrics=metrics,
        )  # fmt: skip
    try:
        model_version_id = versions.model_id if versions else None
        pacer = WritePacer(db)  # for predictions, of the eval set and the pool
        before, now = [], []
        if model_version_id is not None:
            before, now = score_eval_set(pacer, proj, model, model_version_id, previous_model_id)
        auto_options = auto_inputs.options()
        # auto's rare-class and group options look across the whole pool (neighbours of
        # rare examples, every item's group): a round with either on scores in process.
        whole_pool = (
            auto_options.get("rare_classes", "off") != "off"
            or auto_options.get("group_sampling", "off") != "off"
        )
        if dask is not None and whole_pool:
            metrics["dask_skipped"] = "rare_classes or group_sampling needs the whole pool"
        on_dask = dask is not None and not whole_pool
        scored = (partial(score_pool_on_dask, dask) if on_dask else score_pool)(
            pacer,
            proj,
            model,
            model_version_id,
            X_lab,
            y_lab,
            k=int(proj.settings["batch_size"]),
            state=prev_state,
            seed=seed,
            pool_size=pool_size,
            progress=progress,
            **({} if on_dask else {"auto_options": auto_options}),
        )
        metrics["strategy_state"] = scored.state
        if scored.cluster is not None:
            metrics["dask"] = scored.cluster
        if fitted:
            if scored.max_uncertainty is not None:
                metrics["max_uncertainty"] = round(scored.max_uncertainty, 6)
            metrics["stopping"] = stopping_metrics(
                before, now, scored.max_uncertainty, measure=scored.measure
            )
        plan = plan_auto_labels(db, proj, model_version_id, actor=actor)
        if plan is not None:
            metrics["auto_label"] = plan.metrics
        priorities = scored.priorities()
        n_reprioritised = write_priorities(db, proj, scored, priorities, progress)
        info = write_round(
            db,
            proj,
            actor=actor,
            versions=versions,
            train_set=train_set,
            annotations=annotations,
            scored=scored,
            priorities=priorities,
            metrics=metrics,
            n_reprioritised=n_reprioritised,
            read_at=read_at,
        )
    except BaseException:
        if versions is not None:
            _take_back(db, proj.id, versions)
        raise
    if plan is not None and versions is not None:
        auto = write_auto_labels(
            db, proj, plan, model_version_id=versions.model_id,
            model_version=versions.model_version, round_number=info.number, actor=actor,
        )  # fmt: skip
        info = dataclasses.replace(info, metrics={**info.metrics, "auto_label": auto})
    if model_version_id is not None:
        drop_stale_predictions(db, proj.id, {model_version_id, previous_model_id})
    if label_check is not None:
        write_suspects(db, proj.id, label_check, info.number)
    if versions is not None:
        relabel = ask_relabels(
            db, proj, model, X_lab, train_set.item_ids, batch_ids=scored.batch_ids,
            model_version_id=versions.model_id, round_number=info.number, actor=actor,
        )  # fmt: skip
        if relabel is not None:
            info = dataclasses.replace(info, metrics={**info.metrics, "relabel": relabel})
    if proj.settings.get("consensus") == "dawid_skene":
        with db.transaction() as session:
            refit_consensus(session, resolve_project(session, proj.id), actor=actor)
    return info
