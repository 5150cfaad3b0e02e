"""Pull mode: the service asks a client model for predictions instead of waiting for pushes.

The model's endpoint receives ``POST {"project_id", "labels", "items": [{"id", "payload"}]}``
and answers ``{"model_version": "...", "predictions": [{"id" (or "item_id"),
"probabilities": {...}, "embedding": [...] (optional)}]}``. The answers go through
`labelloop.engine.predictions.push_predictions`, exactly like a push.

With ``protocol="label-studio"`` the endpoint is a Label Studio ML backend's base URL:
the puller posts Label Studio's ``/predict`` request (tasks ``{"id", "data"}`` and a label
config with the project's labels) and reads each result's choices and score back as
class probabilities (`labelloop.engine.label_studio.client`).

Each project's open items are walked in id order, one batch per call; after a full
pass the project is asked about again when its number of labels has changed (the client
model has something new to learn from). Items imported after a pass are sent at once,
without waiting for a new label: their predictions place them in the queue.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from labelloop.engine import label_studio, pool, predictions
from labelloop.engine import projects as project_engine
from labelloop.exceptions import LabelloopError, ValidationError
from labelloop.store.db import Database

__all__ = ["PROTOCOLS", "PULL_ACTOR", "ModelPuller"]

#: What the client model speaks: labelloop's pull request, or Label Studio's ML backend API.
PROTOCOLS = ("labelloop", "label-studio")

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
    protocol : {"labelloop", "label-studio"}
        What the client model speaks (see the module docstring).
    """

    def __init__(
        self,
        db: Database,
        *,
        url: str,
        batch_size: int,
        client: httpx.Client | None = None,
        protocol: str = "labelloop",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValidationError(
                f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}",
                field="protocol",
            )
        self.db = db
        self.protocol = protocol
        self.url = url.rstrip("/") + "/predict" if protocol == "label-studio" else url
        self._set_up: set[int] = set()
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

    def _request(
        self, project: project_engine.ProjectInfo, items: list[pool.PoolItem]
    ) -> dict[str, Any]:
        if self.protocol == "label-studio":
            return label_studio.backend_request(
                project_id=project.id,
                created_at=project.created_at,
                labels=project.labels,
                multi_label=project.multi_label,
                items=[(item.id, item.payload) for item in items],
                task_type=project.task_type,
            )
        return {
            "project_id": project.id,
            "labels": list(project.labels),
            "items": [{"id": item.external_id, "payload": item.payload} for item in items],
        }

    def _pushes(
        self, project: project_engine.ProjectInfo, items: list[pool.PoolItem], answer: Any
    ) -> tuple[str, list[dict[str, Any]]]:
        if self.protocol == "label-studio":
            results = answer["results"]
            first = results[0] if results and isinstance(results[0], dict) else {}
            version = answer.get("model_version") or first.get("model_version") or "label-studio"
            if project.task_type in label_studio.REGION_KINDS:
                key = "spans" if project.task_type == "ner" else "boxes"
                regions = label_studio.results_to_regions(
                    results,
                    task_type=project.task_type,
                    labels=project.labels,
                    payloads=[item.payload for item in items],
                )
                return str(version), [
                    {"item_id": item.external_id, key: found}
                    for item, found in zip(items, regions, strict=False)
                    if found is not None
                ]
            probabilities = label_studio.results_to_probabilities(
                results, labels=project.labels, multi_label=project.multi_label
            )
            pushes = [
                {"item_id": item.external_id, "probabilities": p}
                for item, p in zip(items, probabilities, strict=False)
                if p is not None
            ]
            return str(version), pushes
        version = str(answer.get("model_version") or "pull")
        return version, [_as_push(entry) for entry in answer["predictions"]]

    def _set_up_backend(self, project: project_engine.ProjectInfo) -> None:
        """Label Studio's ``/setup``, once per project, before its first ``/predict``."""
        if self.protocol != "label-studio" or project.id in self._set_up:
            return
        request = label_studio.setup_request(
            project_id=project.id,
            created_at=project.created_at,
            labels=project.labels,
            multi_label=project.multi_label,
            task_type=project.task_type,
        )
        response = self.client.post(self.url.removesuffix("/predict") + "/setup", json=request)
        response.raise_for_status()  # the pull loop logs it and asks again next time
        self._set_up.add(project.id)

    def _score(self, project: project_engine.ProjectInfo, items: list[pool.PoolItem]) -> int:
        self._set_up_backend(project)
        request = self._request(project, items)
        response = self.client.post(self.url, json=request)  # transport errors: retried later
        try:
            response.raise_for_status()
            version, pushes = self._pushes(project, items, response.json())
            if not pushes:
                raise ValueError("no prediction named a label of the project")
            predictions.push_predictions(
                self.db,
                project_id=project.id,
                actor=PULL_ACTOR,
                model_version=version,
                predictions=pushes,
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
