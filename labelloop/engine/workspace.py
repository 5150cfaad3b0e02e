"""The engine as a Python API: a workspace over a database URL, and its projects.

For library users who want the persistent loop without the CLI or the service::

    from labelloop import Workspace

    ws = Workspace("sqlite:///reviews.db")
    project = ws.create_project("reviews", task_type="classification", labels=["pos", "neg"])
    project.add_items([{"id": "r1", "text": "great film"}, {"id": "r2", "text": "dull"}])
    project.annotate("r1", "pos")
    project.train()
    for row in project.query(5):
        print(row.external_id, row.score, row.reason)
    project.export("labels.jsonl")

Every method delegates to one engine function; none holds a rule of its own, so the
library, the CLI and the server behave alike and are audited alike.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from labelloop.engine import (
    agreement,
    browse,
    consensus,
    disagreements,
    fairness,
    feedback,
    ingest,
    jobs,
    label_studio,
    projects,
    quality,
    rounds,
    stream,
    users,
    versions,
)
from labelloop.engine import annotate as annotate_engine
from labelloop.engine import auto_labels as auto_label_engine
from labelloop.engine import export as export_engine
from labelloop.engine import predictions as predictions_engine
from labelloop.exceptions import ValidationError
from labelloop.store.db import Database

__all__ = ["ProjectHandle", "Workspace"]


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


class Workspace:
    """A labelloop database, opened (and its schema created or upgraded) by URL.

    Parameters
    ----------
    url : str, optional
        ``sqlite:///path.db``, a bare SQLite path, or ``postgresql+psycopg://...``;
        default ``$LABELLOOP_DB`` or ``labelloop.db`` here.
    actor : str, optional
        Who the audit log names for this workspace's changes; default the OS user name.
    artifact_dir : path, optional
        Where model artifacts are kept (default: beside a SQLite file).
    dask : str, optional
        A Dask scheduler address its rounds score the pool on (the ``[scale]`` extra);
        default ``$LABELLOOP_DASK``, read by each round.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        actor: str | None = None,
        artifact_dir: str | Path | None = None,
        dask: str | None = None,
    ) -> None:
        if dask is not None and (not isinstance(dask, str) or not dask.strip()):
            raise ValidationError(
                "dask must be a scheduler address such as tcp://host:8786", field="dask"
            )
        self.dask = dask
        self.db = Database.from_url(url, artifact_dir=artifact_dir)
        self.db.create_schema()
        self.actor = actor or _default_actor()
        if not isinstance(self.actor, str) or not self.actor.strip():
            raise ValidationError("actor must be a non-empty name", field="actor")

    def create_project(
        self,
        name: str,
        *,
        task_type: str,
        labels: list[str] | tuple[str, ...] | str,
        multi_label: bool = False,
        strategy: str = "auto",
        guidelines: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> ProjectHandle:
        """Create a project (see `labelloop.engine.projects.create_project`) and return it."""
        info = projects.create_project(
            self.db,
            actor=self.actor,
            name=name,
            task_type=task_type,
            labels=labels,
            multi_label=multi_label,
            strategy=strategy,
            guidelines=guidelines,
            settings=settings,
        )
        return ProjectHandle(self, info.id, info.name)

    def project(self, ref: int | str) -> ProjectHandle:
        """An existing project by id or name (NotFoundError if there is none)."""
        info = projects.get_project_info(self.db, ref)
        return ProjectHandle(self, info.id, info.name)

    def projects(self) -> list[projects.ProjectInfo]:
        """Every project with its counts."""
        return projects.list_projects(self.db)

    def close(self) -> None:
        """Close the database connections."""
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({self.db!r})"


class ProjectHandle:
    """One project of a `Workspace`; obtained from `Workspace.project` or `create_project`."""

    def __init__(self, workspace: Workspace, project_id: int, name: str) -> None:
        self.workspace = workspace
        self.id = project_id
        self.name = name

    @property
    def _db(self) -> Database:
        return self.workspace.db

    def info(self) -> projects.ProjectInfo:
        """The project's settings and counts."""
        return projects.get_project_info(self._db, self.id)

    def add_items(
        self,
        records: Iterable[Mapping[str, Any]] | None = None,
        *,
        path: str | Path | None = None,
        **options: Any,
    ) -> ingest.ImportReport:
        """Import records (``{"id", "text" or payload fields, "label", "meta"}``) or a file.

        Options (``format``, ``fields``, ``seed``, ``on_existing``, ``on_progress``,
        ``bbox_format``) are
        those of `labelloop.engine.ingest.import_items`; ``on_existing="skip"`` or
        ``"update"`` re-imports records whose id is already in the project. All or
        nothing. Items added after a round are scored by its model before this returns
        (the import's ``score_new`` job, run here), so they take their place in the queue.
        """
        report = ingest.import_items(
            self._db,
            actor=self.workspace.actor,
            project=self.id,
            records=records,
            path=path,
            **options,
        )
        if report.scored_by is not None:
            jobs.run_queued(
                self._db,
                project_id=self.id,
                kind="score_new",
                runners={"score_new": rounds.run_score_new},
            )
        return report

    def fairness(self, fields: list[str] | None = None) -> fairness.FairnessReport:
        """The fairness report of the project's ``group_fields`` (or of ``fields``)."""
        return fairness.fairness_report(self._db, project=self.id, fields=fields)

    def offer(self, record: Mapping[str, Any]) -> stream.StreamOffer:
        """Stream mode: offer one arriving item (an import record without a label).

        The latest model scores it and the project's ``stream_*`` settings decide at once:
        ``ask`` (queued for people now), ``auto-label`` (with hybrid automation on, when
        the model is certified sure of it) or ``park`` (kept in the pool), with the reason.
        """
        return stream.offer_item(
            self._db, project=self.id, record=dict(record), actor=self.workspace.actor
        )

    def stream_status(self) -> stream.StreamStatus:
        """The stream so far: arrivals, asks, the budget's bound and the threshold."""
        return stream.stream_status(self._db, project=self.id)

    def annotate(
        self,
        external_id: str,
        label: str | list[dict[str, Any]] | None = None,
        *,
        labels: list[str] | None = None,
        boxes: list[dict[str, Any]] | None = None,
        annotator: str | None = None,
    ) -> annotate_engine.AnnotationInfo:
        """Record a label for an item (``labels=[...]`` for a multi-label project, the
        spans ``[{"start", "end", "label"}, ...]`` as ``label`` for an entity project,
        ``boxes=[{"bbox": [x1, y1, x2, y2], "label"}, ...]`` in image pixels for a box
        project; ``boxes=[]`` says the image shows nothing).

        ``annotator`` names who gave it (default: the workspace's actor).
        """
        if boxes is not None:
            if label is not None:
                raise ValidationError("give the boxes or a label, not both", field="label")
            label = boxes
        return annotate_engine.record_annotation(
            self._db,
            actor=annotator or self.workspace.actor,
            project=self.id,
            external_id=external_id,
            label=label,
            labels=labels,
        )

    def train(self, *, progress: rounds.Progress | None = None) -> rounds.RoundInfo:
        """Train on the current labels and re-prioritise the queue: one new round."""
        return rounds.train(
            self._db,
            actor=self.workspace.actor,
            project=self.id,
            progress=progress,
            dask=self.workspace.dask,
        )

    def query(self, n: int = 10) -> list[rounds.QueryRow]:
        """The next ``n`` items to label, with their scores and the reasons they were picked."""
        return rounds.query(self._db, self.id, n)

    def status(self) -> rounds.StatusInfo:
        """Counts, rounds with metrics, and the stopping verdict (``headline`` in plain words)."""
        return rounds.project_status(self._db, self.id)

    def feedback(self, user: str, *, limit: int = 50, offset: int = 0) -> feedback.FeedbackPage:
        """``user``'s labels a reviewer rejected or corrected, newest first (nothing is
        marked read)."""
        who = users.get_user(self._db, user)
        return feedback.my_feedback(self._db, project=self.id, user=who, limit=limit, offset=offset)

    def search_items(self, **filters: Any) -> browse.ItemPage:
        """The item browser's search: ``text``, ``meta``, ``status``, ``label``,
        ``annotator``, ``min_score``, ``max_score``, ``skipped``, ``sort``, ``limit``,
        ``offset`` as `labelloop.engine.browse.search_items` takes them."""
        return browse.search_items(self._db, self.id, **filters)

    def auto_labels(
        self, *, limit: int = 100, spot_checks_only: bool = False
    ) -> list[auto_label_engine.AutoLabelInfo]:
        """The project's auto-labels, newest first, with what certified each."""
        return auto_label_engine.list_auto_labels(
            self._db, self.id, limit=limit, spot_checks_only=spot_checks_only
        )

    def resume_auto_labelling(self) -> None:
        """Resume auto-labelling after spot checks paused it."""
        auto_label_engine.resume_auto_labelling(
            self._db, actor=self.workspace.actor, project=self.id
        )

    def worth(self) -> rounds.ProjectWorth:
        """The forecast of the labels left to the target score, and the savings against random."""
        return rounds.project_worth(self._db, self.id)

    def rounds(self) -> list[rounds.RoundInfo]:
        """Every round, oldest first."""
        return rounds.list_rounds(self._db, self.id)

    def dataset_versions(self) -> list[versions.DatasetVersionInfo]:
        """Every dataset version, oldest first."""
        return versions.list_dataset_versions(self._db, self.id)

    def diff(self, a: int, b: int) -> versions.VersionDiff:
        """What changed between dataset versions ``a`` and ``b``."""
        return versions.diff_dataset_versions(self._db, self.id, a, b)

    def export(
        self,
        out: str | Path | IO[str] | None = None,
        *,
        format: str = "jsonl",
        version: int | None = None,
        labelled_only: bool = False,
        bbox_format: str | None = None,
    ) -> export_engine.ExportReport:
        """Write the items and final labels (or dataset version ``version``) to ``out``.

        ``format`` is jsonl, csv, parquet, conll (entity projects), label_studio or hf
        (a ``save_to_disk`` directory, or Parquet when ``out`` ends in ``.parquet``), as
        `labelloop.engine.export.export_items` takes them (docs/formats.md); a box
        project's hf export takes ``bbox_format`` ``xyxy`` (default) or ``xywh``.
        """
        return export_engine.export_items(
            self._db,
            project=self.id,
            format=format,
            out=out,
            version=version,
            labelled_only=labelled_only,
            bbox_format=bbox_format,
        )

    def annotators(self) -> list[dict[str, Any]]:
        """Per annotator: labels, kappa with the others, agreement with reviewers, and the
        accuracy a Dawid-Skene fit of the items with several annotators estimates."""
        return agreement.agreement_report(self._db, self.id)["annotators"]

    def agreement(self) -> dict[str, Any]:
        """Agreement between annotators per pair and per annotator, and with reviewers:
        kappa, or span-level F1 in an entity project (``measure`` says which)."""
        return agreement.agreement_report(self._db, self.id)

    def push_predictions(
        self, model_version: str, predictions: list[dict[str, Any]]
    ) -> predictions_engine.PushReport:
        """Store a client model's predictions and re-prioritise the queue by them:
        ``probabilities`` per item, or ``spans`` (and an optional ``score``) in an entity
        project (`labelloop.engine.predictions.push_predictions`)."""
        return predictions_engine.push_predictions(
            self._db,
            project_id=self.id,
            actor=self.workspace.actor,
            model_version=model_version,
            predictions=predictions,
        )

    def fit_consensus(self) -> consensus.ConsensusFitInfo:
        """Fit the annotators by Dawid-Skene now; settle overlapping items again."""
        return consensus.fit_annotators(self._db, project=self.id, actor=self.workspace.actor)

    def label_suspects(self, *, limit: int = 50, offset: int = 0) -> quality.SuspectList:
        """Labels the rounds found likely wrong, most suspect first, with precision at k."""
        return quality.list_suspects(self._db, project=self.id, limit=limit, offset=offset)

    def resolve_suspect(
        self,
        suspect_id: int,
        verdict: str,
        *,
        reviewer: str,
        label: str | None = None,
        note: str | None = None,
    ) -> quality.SuspectInfo:
        """Rule on a suspect: ``confirm`` (and correct, to ``label`` or the model's
        suggestion) or ``clear``; ``reviewer`` names a user who may review."""
        return quality.resolve_suspect(
            self._db,
            suspect_id=suspect_id,
            user=users.get_user(self._db, reviewer),
            verdict=verdict,
            label=label,
            note=note,
            project=self.id,
        )

    def disagreements(self, **options: Any) -> disagreements.DisagreementReport:
        """Where people disagree, by confusion and by cluster, with the mislabelled clusters
        (``options``: those of `labelloop.engine.disagreements.disagreement_report`)."""
        return disagreements.disagreement_report(self._db, self.id, **options)

    def add_guideline_examples(
        self, item_ids: list[int], note: str, *, actor: str | None = None
    ) -> projects.GuidelineInfo:
        """Make items guideline examples with ``note``: a new guideline version."""
        return projects.add_guideline_examples(
            self._db,
            actor=actor or self.workspace.actor,
            project=self.id,
            item_ids=item_ids,
            note=note,
        )

    def guideline_versions(self) -> tuple[projects.GuidelineVersionRates, ...]:
        """Each guideline version with the agreement, correction and rejection rates of
        the labels made under it."""
        return projects.guideline_versions(self._db, self.id)

    def label_studio_config(self) -> str:
        """The Label Studio label config that fits this project (one Text, one Choices)."""
        return label_studio.project_label_config(self._db, self.id)

    def label_studio_predict(
        self, tasks: list[Mapping[str, Any]], *, label_config: str | None = None
    ) -> list[dict[str, Any]]:
        """Label Studio predictions for ``tasks`` (``[{"id", "data"}]``), one per task,
        with the newest model version; ``score`` is the informativeness (higher: label
        it sooner). ``label_config`` is the Label Studio project's, default
        `label_studio_config`'s."""
        tasks = label_studio.check_tasks(tasks)
        info = self.info()
        control = label_studio.choose_control(
            label_config or self.label_studio_config(),
            labels=info.labels,
            multi_label=info.multi_label,
        )
        version = label_studio.latest_model_version(self._db, self.id)
        model = (
            None if version is None else rounds.load_project_model(self._db, self.id, version)[1]
        )
        return label_studio.predict_tasks(
            tasks,
            control=control,
            model=model,
            model_version=version,
            task_type=info.task_type,
            strategy=info.strategy,
            multi_label=info.multi_label,
        )

    def __repr__(self) -> str:
        return f"ProjectHandle(id={self.id}, name={self.name!r})"
