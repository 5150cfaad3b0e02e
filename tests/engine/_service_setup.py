"""Set-up shared by the service use-case tests: a project, its items and tasks, users.

Items and tasks are inserted directly (as the importer leaves them: open, one label
task per item, ``needed`` = the project's overlap), so these tests depend only on the
schema and on `create_project`.
"""

from __future__ import annotations

from typing import Any

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.projects import create_project
from labelloop.engine.users import create_user
from labelloop.store.db import Database
from labelloop.store.tables import ItemRow, TaskRow


def make_project(
    db: Database,
    *,
    name: str = "reviews",
    labels: tuple[str, ...] = ("pos", "neg"),
    multi_label: bool = False,
    settings: dict[str, Any] | None = None,
) -> int:
    info = create_project(
        db,
        actor="cli:test",
        name=name,
        task_type="classification",
        labels=list(labels),
        multi_label=multi_label,
        # No minimum of labelled evaluation items: tests that pin the queue's order see
        # the plain interleave; the queue's tests set the minimum where they pin it.
        settings={"retrain_every": 0, "eval_min_labels": 0, **(settings or {})},
    )
    return info.id


def add_items(
    db: Database,
    project_id: int,
    n: int,
    *,
    overlap: int = 1,
    eval_ids: tuple[int, ...] = (),
    prefix: str = "it",
    priorities: list[float] | None = None,
    texts: list[str] | None = None,
) -> list[int]:
    """Insert ``n`` open items with one label task each; returns the task ids in order."""
    task_ids = []
    with db.transaction() as session:
        for i in range(n):
            item = ItemRow(
                project_id=project_id,
                external_id=f"{prefix}{i}",
                payload={"text": texts[i] if texts else f"text {i}"},
                meta={},
                content_hash=f"{prefix}{i:060d}",
                is_eval=i in eval_ids,
            )
            session.add(item)
            session.flush()
            task = TaskRow(
                project_id=project_id,
                item_id=item.id,
                queue="label",
                status="open",
                # Default: item order in the unscored range, under every scored task.
                priority=priorities[i] if priorities else (n - i) / (n + 1) - 1.0,
                needed=overlap,
                active_leases=0,
                is_eval=i in eval_ids,
            )
            session.add(task)
            session.flush()
            task_ids.append(task.id)
    return task_ids


_SENTIMENT = {"pos": ["good", "great", "lovely", "fine"], "neg": ["bad", "awful", "dull", "poor"]}


def add_labelled_sentiment(db: Database, project_id: int, n: int = 24, labelled: int = 16) -> None:
    """``n`` two-word pos/neg texts (odd items pos), the first ``labelled`` of them labelled:
    enough for a round to train a text model."""
    from labelloop.engine import annotate

    def label(i: int) -> str:
        return "pos" if i % 2 else "neg"

    words = [_SENTIMENT[label(i)] for i in range(n)]
    texts = [f"{w[i % 4]} {w[(i + 1) % 4]}" for i, w in enumerate(words)]
    add_items(db, project_id, n, texts=texts)
    for i in range(labelled):
        annotate.record_annotation(
            db, actor="cli:test", project=project_id, external_id=f"it{i}", label=label(i)
        )


def make_user(
    db: Database, name: str, role: str = "annotator", projects: tuple[int, ...] = ()
) -> UserInfo:
    user, _token = create_user(db, actor="cli:test", name=name, role=role, projects=projects)
    return user
