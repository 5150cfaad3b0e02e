"""Rounds: train on the current labels, score the pool, re-prioritise the queue.

One call to `train` makes one round::

    read labels ──► fit ──► model version ──► score eval set, pool ──► priorities ──► round
     (snapshot)      │      dataset version    in chunks: predictions   batch first    batch,
                     ▼      model.trained      select_batch                            metrics
           metrics on the eval set and
           by cross-validation

Each module keeps the rules of one step and states them:

- `training`: the order of the steps, and what a round failing part-way leaves;
- `inputs`: what a round reads (the project, its labelled sets, the pool in pages);
- `scoring`: the evaluation set and the pool scored in chunks, predictions written;
- `priorities`: the queue re-prioritised, the picked batch first;
- `versions`: dataset and model versions, the artifact (taken back if the round fails),
  `load_project_model`;
- `record`: the round row, its audit event and webhooks, `list_rounds`;
- `status`: `query`, `project_status` and the stopping verdict;
- `newcomers`: items imported after a round, scored by its model (`score_new_items`).
- `groups`: what `auto`'s rare-class and group options read (settings, item groups);
- `worth`: random sampling's curve each round records, `project_worth` (the forecast of
  the labels left to the target score, and the labels saved against random sampling).

Bulk and paced writes are the store's (`labelloop.store.writes`). Constants are read
where they are used: tune `scoring.CHUNK_SIZE`, not the copy re-exported here.
"""

from labelloop.engine.rounds.inputs import LABELLED_STATUSES
from labelloop.engine.rounds.newcomers import NewItemsScored, run_score_new, score_new_items
from labelloop.engine.rounds.record import RoundInfo, list_rounds
from labelloop.engine.rounds.scoring import CHUNK_SIZE, Progress
from labelloop.engine.rounds.status import QueryRow, StatusInfo, project_status, query
from labelloop.engine.rounds.training import train
from labelloop.engine.rounds.versions import ModelVersionInfo, load_project_model, project_dir
from labelloop.engine.rounds.worth import ProjectWorth, project_worth

__all__ = [
    "CHUNK_SIZE",
    "LABELLED_STATUSES",
    "ModelVersionInfo",
    "NewItemsScored",
    "Progress",
    "ProjectWorth",
    "QueryRow",
    "RoundInfo",
    "StatusInfo",
    "list_rounds",
    "load_project_model",
    "project_dir",
    "project_status",
    "project_worth",
    "query",
    "run_score_new",
    "score_new_items",
    "train",
]
