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

from labelloop.engine import annotate as annotate_engine
from labelloop.engine import export as export_engine
from labelloop.engine import ingest, projects, rounds, versions
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
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        actor: str | None = None,
        artifact_dir: str | Path | None = None,
    ) -> None:
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

        Options (``format``, ``fields``, ``seed``, ``on_existing``, ``on_progress``) are
        those of `labelloop.engine.ingest.import_items`; ``on_existing="skip"`` or
        ``"update"`` re-imports records whose id is already in the project. All or
        nothing.
        """
        return ingest.import_items(
            self._db,
            actor=self.workspace.actor,
            project=self.id,
            records=records,
            path=path,
            **options,
        )

    def annotate(
        self,
        external_id: str,
        label: str | list[dict[str, Any]] | None = None,
        *,
        labels: list[str] | None = None,
        annotator: str | None = None,
    ) -> annotate_engine.AnnotationInfo:
        """Record a label for an item (``labels=[...]`` for a multi-label project, the
        spans ``[{"start", "end", "label"}, ...]`` as ``label`` for an entity project).

        ``annotator`` names who gave it (default: the workspace's actor).
        """
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
            self._db, actor=self.workspace.actor, project=self.id, progress=progress
        )

    def query(self, n: int = 10) -> list[rounds.QueryRow]:
        """The next ``n`` items to label, with their scores and the reasons they were picked."""
        return rounds.query(self._db, self.id, n)

    def status(self) -> rounds.StatusInfo:
        """Counts, rounds with metrics, and the stopping verdict."""
        return rounds.project_status(self._db, self.id)

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
    ) -> export_engine.ExportReport:
        """Write the items and final labels (or dataset version ``version``) to ``out``."""
        return export_engine.export_items(
            self._db,
            project=self.id,
            format=format,
            out=out,
            version=version,
            labelled_only=labelled_only,
        )

    def __repr__(self) -> str:
        return f"ProjectHandle(id={self.id}, name={self.name!r})"
