"""Pull mode: the service asks a client model for predictions instead of waiting for pushes.

The model's endpoint receives ``POST {"project_id", "labels", "items": [{"id", "payload"}]}``
and answers ``{"model_version": "...", "predictions": [{"id" (or "item_id"),
"probabilities": {...}, "embedding": [...] (optional)}]}``. The answers go through
`labelloop.engine.predictions.push_predictions`, exactly like a push.

Each project's open items are walked in id order, one batch per call; after a full
pass the project is asked about again when its number of labels has changed (the client
model has something new to learn from). Items imported after a pass are sent at once,
without waiting for a new label: their predictions place them in the queue.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from labelloop.engine import pool, predictions
from labelloop.engine import projects as project_engine
from labelloop.exceptions import LabelloopError
from labelloop.store.db import Database

__all__ = ["PULL_ACTOR", "ModelPuller"]

PULL_ACTOR = "model:pull"
log = logging.getLogger("labelloop.server")


def _as_push(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {"item_id": None, "probabilities": entry}
    converted = {
        "item_id": entry.get("item_id", entry.get("id")),
        "probabilities": entry.get("probabilities"),
    }
    if entry.get("embedding") is not None:
        converted["embedding"] = entry["embedding"]
    return converted


class ModelPuller:
    """Calls a client model's prediction URL in batches and files its answers.

    Parameters
    ----------
    db : Database
    url : str
        The client model's prediction endpoint.
    batch_size : int
        Items per call.
    client : httpx.Client, optional
        The HTTP client (default: one with a 60 s timeout).
    """

    def __init__(
        self, db: Database, *, url: str, batch_size: int, client: httpx.Client | None = None
    ) -> None:
        self.db = db
        self.url = url
        self.batch_size = batch_size
        self.client = client or httpx.Client(timeout=60.0)
        self._after: dict[int, int] = {}
        self._labels_at_pass_end: dict[int, int] = {}
        self._newest: dict[int, int] = {}  # the highest item id sent, per project

    def pull_once(self) -> int:
        """One batch per project that needs one; returns how many items were scored."""
        done = 0
        for project in project_engine.list_projects(self.db):
            after = self._after.get(project.id, 0)
            passed = after == 0 and self._labels_at_pass_end.get(project.id) == project.n_labelled
            if passed:
                # Nothing new to learn from: only items imported since are sent.
                after = self._newest.get(project.id, 0)
            items = pool.open_items(
                self.db, project_id=project.id, after_id=after, limit=self.batch_size
            )
            if not items:
                if not passed:
                    self._after[project.id] = 0
                    self._labels_at_pass_end[project.id] = project.n_labelled
                continue
            done += self._score(project, items)
            self._newest[project.id] = max(self._newest.get(project.id, 0), items[-1].id)
            if not passed:
                self._after[project.id] = items[-1].id
        return done

    def _score(self, project: project_engine.ProjectInfo, items: list[pool.PoolItem]) -> int:
        request = {
            "project_id": project.id,
            "labels": list(project.labels),
            "items": [{"id": item.external_id, "payload": item.payload} for item in items],
        }
        response = self.client.post(self.url, json=request)  # transport errors: retried later
        try:
            response.raise_for_status()
            answer = response.json()
            entries = answer["predictions"]
            version = str(answer.get("model_version") or "pull")
            predictions.push_predictions(
                self.db,
                project_id=project.id,
                actor=PULL_ACTOR,
                model_version=version,
                predictions=[_as_push(entry) for entry in entries],
            )
        except (httpx.HTTPStatusError, ValueError, KeyError, TypeError, LabelloopError) as exc:
            # A bad answer is skipped (logged), so one batch cannot stall the whole pool.
            log.warning(
                "model %s gave no usable predictions for project %s: %s", self.url, project.id, exc
            )
            return 0
        return len(items)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
