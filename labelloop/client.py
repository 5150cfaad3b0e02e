"""A small Python client for the labelloop service, for client models and scripts.

::

    from labelloop.client import Client

    with Client("http://127.0.0.1:8000", token) as client:
        project = client.projects()[0]
        task = client.next_task(project["id"])          # None when nothing is open
        if task is not None:
            client.submit(task["id"], "pos")            # retried safely (Idempotency-Key)
        for change in client.labels(project["id"]):     # every label change, page by page
            ...                                         # a label, or "withdrawn": True

Errors the service answers become labelloop's own exceptions (`NotFoundError`,
`ValidationError` with its ``field``, `ConflictError`, `PermissionDeniedError`), or
`ServiceError` for the rest, each carrying the HTTP status and the service's message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from labelloop.exceptions import (
    ConflictError,
    LabelloopError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

__all__ = ["Client", "ServiceError"]

API = "/api/v1"


class ServiceError(LabelloopError):
    """The service refused a request for a reason without a more specific error type.

    Attributes
    ----------
    status_code : int
        The HTTP status.
    error : str
        The service's short error name (``unauthorized``, ``payload_too_large``, ...).
    """

    def __init__(self, message: str, *, status_code: int, error: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = str(body.get("error") or "error")
    detail = str(body.get("detail") or response.reason_phrase)
    message = f"{response.request.method} {response.request.url.path}: {detail}"
    status = response.status_code
    if status == 404:
        raise NotFoundError(message)
    if status == 422:
        raise ValidationError(message, field=body.get("field"))
    if status == 409:
        raise ConflictError(message)
    if status == 403:
        raise PermissionDeniedError(message)
    raise ServiceError(message, status_code=status, error=error)


class Client:
    """Calls the labelloop REST API with an API token.

    Parameters
    ----------
    url : str
        The service's base URL, e.g. ``http://127.0.0.1:8000``.
    token : str
        An API token (``labelloop user create`` or ``labelloop token create`` prints one).
    timeout : float, default 30.0
        Seconds to wait for each answer.
    retries : int, default 3
        How often a lease, submit or push is retried after a connection error; safe
        because asking again returns the lease held and submits carry an
        ``Idempotency-Key``.
    transport : httpx.BaseTransport, optional
        For tests: e.g. ``httpx.ASGITransport`` over an app made by `create_app`.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError(
                f"url must start with http:// or https://, got {url!r}", field="url"
            )
        if not isinstance(token, str) or not token:
            raise ValidationError("token must be a non-empty string", field="token")
        if not isinstance(retries, int) or retries < 0:
            raise ValidationError("retries must be a non-negative integer", field="retries")
        self.url = url.rstrip("/")
        self.retries = retries
        self.last_cursor: str | None = None
        self._http = httpx.Client(
            base_url=self.url + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, *, retry: bool = False, **kwargs: Any) -> Any:
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(method, path, **kwargs)
                break
            except httpx.TransportError:
                if attempt + 1 == attempts:
                    raise
        _raise_for(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ projects

    def projects(self) -> list[dict[str, Any]]:
        """The projects the token's user is a member of, with their counts."""
        return self._request("GET", "/projects")

    def project(self, project_id: int) -> dict[str, Any]:
        """One project: labels, settings, counts."""
        return self._request("GET", f"/projects/{int(project_id)}")

    # ------------------------------------------------------------------ labelling

    def next_task(self, project_id: int) -> dict[str, Any] | None:
        """Lease the next task of a project; None when nothing is open for this user.

        Retried after a dropped connection: asking again answers the lease already held.
        """
        return self._request("POST", f"/projects/{int(project_id)}/tasks/next", retry=True)

    def submit(
        self,
        task_id: int,
        label: str | None = None,
        *,
        labels: list[str] | None = None,
        time_spent_ms: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Submit a label (or ``labels`` for multi-label) for a leased task.

        A fresh ``Idempotency-Key`` is sent when none is given, so the retries after a
        dropped connection never create a second annotation.
        """
        body: dict[str, Any] = {}
        if label is not None:
            body["label"] = label
        if labels is not None:
            body["labels"] = list(labels)
        if time_spent_ms is not None:
            body["time_spent_ms"] = int(time_spent_ms)
        key = idempotency_key or uuid.uuid4().hex
        return self._request(
            "POST",
            f"/tasks/{int(task_id)}/annotations",
            json=body,
            headers={"Idempotency-Key": key},
            retry=True,
        )

    def skip(self, task_id: int, reason: str) -> None:
        """Give a leased task back with a reason."""
        self._request("POST", f"/tasks/{int(task_id)}/skip", json={"reason": reason})

    def undo(self, annotation_id: int) -> dict[str, Any]:
        """Withdraw one of your annotations that is not yet reviewed."""
        return self._request("POST", f"/annotations/{int(annotation_id)}/undo")

    # ------------------------------------------------------------------ client models

    def push_predictions(
        self,
        project_id: int,
        model_version: str,
        predictions: Iterable[dict[str, Any]],
        *,
        batch_size: int = 1000,
    ) -> list[dict[str, Any]]:
        """Push predictions (``item_id``, ``probabilities``, optional ``embedding``) in batches.

        A box project's predictions carry ``boxes`` instead of ``probabilities``: per
        image ``[{"bbox": [x1, y1, x2, y2], "label", "score", "probabilities"?}]`` in
        pixels, an empty list when nothing was detected.

        An entity (``ner``) project takes, per item, ``spans``: ``[{start, end, label,
        score}]`` (character offsets into its text, score the confidence from 0 to 1; an
        empty list: no entity) instead of probabilities, and optionally the item's
        informativeness as ``score`` (else derived from the spans' scores). A bad entry
        refuses its batch, naming the entry and field (``predictions.3.spans.0.end``).

        Returns the service's report of each batch.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError("batch_size must be a positive integer", field="batch_size")
        reports: list[dict[str, Any]] = []
        batch: list[dict[str, Any]] = []
        for prediction in predictions:
            batch.append(prediction)
            if len(batch) == batch_size:
                reports.append(self._push(project_id, model_version, batch))
                batch = []
        if batch:
            reports.append(self._push(project_id, model_version, batch))
        return reports

    def _push(self, project_id: int, model_version: str, batch: list[dict[str, Any]]) -> Any:
        # Compact JSON: a push of boxes is megabytes, and the spaces cost both sides time.
        body = json.dumps(
            {"model_version": model_version, "predictions": batch}, separators=(",", ":")
        )
        return self._request(
            "POST",
            f"/projects/{int(project_id)}/predictions",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
            retry=True,
        )

    # ------------------------------------------------------------------ stream mode

    def offer(self, project_id: int, record: dict[str, Any]) -> dict[str, Any]:
        """Offer one arriving item (an import record without a label) to stream mode.

        Answers the decision: ``decision`` (``ask``: queued for people now;
        ``auto-label``: labelled by the model, certified sure of it, ``label`` saying
        which; or ``park``: kept in the pool), ``reason``, ``informativeness``, and the
        budget's ``asked`` and ``allowed``. Not retried: a second offer of the same id
        is refused (409).
        """
        return self._request("POST", f"/projects/{int(project_id)}/stream", json=record)

    def stream_status(self, project_id: int) -> dict[str, Any]:
        """The project's stream so far: arrivals, asks, the budget's bound, the threshold."""
        return self._request("GET", f"/projects/{int(project_id)}/stream")

    def labels(
        self, project_id: int, *, since: str | None = None, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every change of a final label after cursor ``since`` (all when None), in order,
        fetching page by page.

        Each change has ``item_id`` (the external id) and either ``label`` (``labels``
        for multi-label projects), the label that now stands, or ``withdrawn: True``
        when the item holds none any more; applying them in order gives the project's
        final labels. After iterating, ``last_cursor`` is the cursor to resume from later.
        """
        cursor = since
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor is not None:
                params["since"] = cursor
            page = self._request("GET", f"/projects/{int(project_id)}/labels", params=params)
            yield from page["labels"]
            self.last_cursor = page.get("next_cursor") or cursor
            if not page.get("has_more"):
                return
            cursor = page["next_cursor"]

    # ------------------------------------------------------------------ rounds

    def rounds(self, project_id: int) -> list[dict[str, Any]]:
        """The project's rounds with their metrics, oldest first."""
        return self._request("GET", f"/projects/{int(project_id)}/rounds")

    def retrain(self, project_id: int) -> dict[str, Any]:
        """Ask for a retrain (admin): answers the queued job."""
        return self._request("POST", f"/projects/{int(project_id)}/retrain")

    def status(self, project_id: int) -> dict[str, Any]:
        """The project's counts, latest round, stopping verdict and auto-labelling state."""
        return self._request("GET", f"/projects/{int(project_id)}/status")

    # ------------------------------------------------------------------ auto-labels

    def auto_labels(
        self, project_id: int, *, limit: int = 100, spot_checks_only: bool = False
    ) -> list[dict[str, Any]]:
        """The project's auto-labels, newest first: each with the model version, the
        threshold and the bound that certified it, and people's label on a decided spot
        check."""
        params = {"limit": limit, "spot_checks_only": spot_checks_only}
        return self._request("GET", f"/projects/{int(project_id)}/auto-labels", params=params)

    def auto_label_status(self, project_id: int) -> dict[str, Any] | None:
        """Whether auto-labelling is on or paused (and why), its threshold, the spot checks'
        measured precision, and ``n_auto_labelled``; None when the project has never
        turned it on."""
        status = self.status(project_id)
        auto = status.get("auto_label")
        if auto is None:
            return None
        return {**auto, "n_auto_labelled": status.get("n_auto_labelled", 0)}

    def resume_auto_labelling(self, project_id: int) -> None:
        """Resume auto-labelling after spot checks paused it (admin)."""
        self._request("POST", f"/projects/{int(project_id)}/auto-labels/resume")

    # ------------------------------------------------------------------ annotators

    def annotators(self, project_id: int) -> dict[str, Any]:
        """Per annotator: labels, kappa with the others, agreement with reviewers and the
        accuracy Dawid-Skene estimates; with the project's ``consensus`` setting."""
        return self._request("GET", f"/projects/{int(project_id)}/annotators")

    def agreement(self, project_id: int) -> dict[str, Any]:
        """Agreement between annotators per pair and per annotator, and with reviewers:
        kappa, or span-level F1 for an entity project (``measure`` says which)."""
        return self._request("GET", f"/projects/{int(project_id)}/metrics/agreement")

    def fit_consensus(self, project_id: int) -> dict[str, Any]:
        """Fit the annotators by Dawid-Skene now and settle overlapping items again (admin)."""
        return self._request("POST", f"/projects/{int(project_id)}/consensus")
