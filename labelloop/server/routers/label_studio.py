"""The Label Studio ML-backend protocol, one backend URL per labelloop project.

Label Studio's model settings take ``http(s)://<labelloop>/label-studio/<project id>``;
Label Studio appends ``/health``, ``/setup``, ``/predict`` and ``/webhook`` to it.

- ``GET /health`` answers ``{"status": "UP"}``;
- ``POST /setup`` checks the Label Studio project's label config against the labelloop
  project (422 naming what does not match) and answers ``{"model_version"}``;
- ``POST /predict`` answers ``{"results", "model_version"}``, one prediction per task
  (`labelloop.engine.label_studio.predicting`: the informativeness is each prediction's
  ``score``, higher is more informative);
- entity (``ner``) and box projects use a ``<Labels>`` / ``<RectangleLabels>`` control
  instead: ``/predict`` answers each task with its item's latest spans or boxes, and
  ``/webhook`` records ``labels`` / ``rectanglelabels`` annotations as spans or boxes;
- ``POST /webhook`` records annotations created and updated, withdraws those deleted or
  skipped, and queues a retrain on ``START_TRAINING``
  (`labelloop.engine.label_studio.events`); each recorded label also counts toward the
  project's ``retrain_every``.

Authentication: Label Studio sends HTTP Basic credentials when its connection is set to
"Basic Authentication": the password is a labelloop API token (the user name is not
checked). ``Authorization: Bearer <token>`` and ``Token <token>`` work too. The token's
account must be a model account or an admin, and a member of the project; access is
checked before the body is read, as on every route.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from labelloop.engine import annotate, ingest, jobs, label_studio, rounds
from labelloop.engine import projects as project_engine
from labelloop.engine import users as user_engine
from labelloop.engine.core.identity import UserInfo
from labelloop.exceptions import ConflictError, NotFoundError, ValidationError
from labelloop.server.deps import actor_for, db_of
from labelloop.server.errors import ApiError
from labelloop.server.permissions import role_allows
from labelloop.server.schemas.common import MAX_ID

__all__ = ["PREFIX", "router"]

PREFIX = "/label-studio"
router = APIRouter(prefix=PREFIX + "/{project_id}", tags=["Label Studio"])
_HOW = (
    "in Label Studio's model settings choose Basic Authentication, any user name, and a "
    "labelloop API token of a model account as the password"
)


def _token(header: str | None) -> str:
    if not header:
        raise ApiError(401, f"Label Studio must authenticate: {_HOW}", field="Authorization")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            _user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep, password = "", ""
        if not sep or not password:
            raise ApiError(401, "malformed Basic credentials", field="Authorization")
        return password
    if scheme.lower() in ("bearer", "token") and value:
        return value
    raise ApiError(
        401, f"unsupported Authorization scheme {scheme!r}: {_HOW}", field="Authorization"
    )


def _authorise(request: Request, project_id: int) -> UserInfo:
    token = _token(request.headers.get("authorization"))
    access = user_engine.token_access(db_of(request), token, scope=("project", project_id))
    if access is None or not access.user.is_active:
        raise ApiError(401, f"unknown or revoked token: {_HOW}", field="Authorization")
    if not role_allows(access.user, "model-exchange"):
        raise ApiError(
            403, f"the {access.user.role} role may not act as an ML backend (model or admin)"
        )
    if access.project_id is None:
        raise ApiError(404, f"no project {project_id}", field="project_id")
    return access.user


async def label_studio_caller(
    request: Request,
    project_id: Annotated[int, Path(ge=1, lt=MAX_ID, description="The labelloop project's id.")],
) -> UserInfo:
    """The account Label Studio authenticates as (see the module docstring)."""
    return await run_in_threadpool(_authorise, request, project_id)


Caller = Annotated[UserInfo, Depends(label_studio_caller)]


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ValidationError("the request body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    return body


def _model(request: Request, project_id: int) -> tuple[int | None, Any]:
    """The newest model version and its model, loaded once per version."""
    db = db_of(request)
    version = label_studio.latest_model_version(db, project_id)
    if version is None:
        return None, None
    cache: dict[int, tuple[int, Any]] | None = getattr(request.app.state, "ls_models", None)
    if cache is None:
        cache = request.app.state.ls_models = {}
    cached = cache.get(project_id)
    if cached is None or cached[0] != version:
        _info, model = rounds.load_project_model(db, project_id, version)
        cached = cache[project_id] = (version, model)
    return cached


@router.get("/health")
@router.get("/")
async def health(user: Caller) -> dict[str, str]:
    """Label Studio's health check: ``{"status": "UP"}``."""
    return {"status": "UP", "model_class": "labelloop"}


@router.post("/setup")
async def setup(request: Request, project_id: int, user: Caller) -> dict[str, Any]:
    """Check the label config (``schema``) against the project; answer the model version."""
    body = await _body(request)

    def run() -> dict[str, Any]:
        project = project_engine.get_project_info(db_of(request), project_id)
        label_studio.choose_any_control(
            body.get("schema") or body.get("label_config"),
            task_type=project.task_type,
            labels=project.labels,
            multi_label=project.multi_label,
        )
        version = label_studio.latest_model_version(db_of(request), project_id)
        return {"model_version": label_studio.model_version_name(version)}

    return await run_in_threadpool(run)


@router.post("/predict")
async def predict(request: Request, project_id: int, user: Caller) -> dict[str, Any]:
    """One prediction per task, with labelloop's informativeness as its ``score``."""
    body = await _body(request)

    def run() -> dict[str, Any]:
        tasks = label_studio.check_tasks(body.get("tasks"))
        project = project_engine.get_project_info(db_of(request), project_id)
        if project.task_type in label_studio.REGION_KINDS:
            region = label_studio.choose_region_control(
                body.get("label_config"), task_type=project.task_type, labels=project.labels
            )
            results, name = label_studio.predict_region_tasks(
                db_of(request),
                tasks,
                project_id=project_id,
                control=region,
                id_field=project.settings.get("label_studio_id_field"),
            )
            return {"results": results, "model_version": name}
        control = label_studio.choose_control(
            body.get("label_config"), labels=project.labels, multi_label=project.multi_label
        )
        version, model = _model(request, project_id)
        results = label_studio.predict_tasks(
            tasks,
            control=control,
            model=model,
            model_version=version,
            task_type=project.task_type,
            strategy=project.strategy,
            multi_label=project.multi_label,
        )
        return {"results": results, "model_version": label_studio.model_version_name(version)}

    return await run_in_threadpool(run)


def _record(
    request: Request, project_id: int, event: label_studio.AnnotationEvent, task_type: str
) -> str:
    db = db_of(request)
    (actor,) = event.actors

    def record() -> None:
        annotate.record_annotation(
            db,
            actor=actor,
            project=project_id,
            external_id=event.external_id,
            label=event.label,
            labels=event.labels,
        )

    try:
        record()
        return "recorded"
    except NotFoundError:
        if task_type == "boxes":
            raise ValidationError(
                f"task {event.external_id!r} is no item of this box project: labelloop reads "
                "images from its media root, not from task URLs; import the images first and "
                "set the project's label_studio_id_field to the task data field holding "
                "their labelloop ids",
                field="task",
            ) from None
    try:
        report = ingest.import_items(
            db,
            actor=actor,
            project=project_id,
            records=[event.item_record()],
            fields=label_studio.ITEM_FIELDS,
            on_existing="skip",
        )
    except ValidationError as exc:
        raise ValidationError(
            f"task {event.external_id!r} cannot become an item: {exc}", field="task.data"
        ) from None
    try:
        record()
    except NotFoundError:
        raise ConflictError(
            f"task {event.external_id!r}: its data duplicates an item labelloop holds under "
            "another id; set the project's label_studio_id_field to the task data field "
            "holding labelloop's ids"
        ) from None
    return f"recorded (item imported: {report.n_imported})"


@router.post("/webhook", status_code=201)
async def webhook(request: Request, project_id: int, user: Caller) -> JSONResponse:
    """Annotation events and START_TRAINING, as Label Studio sends them."""
    body = await _body(request)
    actor = actor_for(user)

    def run() -> dict[str, Any]:
        db = db_of(request)
        project = project_engine.get_project_info(db, project_id)
        event = label_studio.read_event(
            body,
            labels=project.labels,
            multi_label=project.multi_label,
            id_field=project.settings.get("label_studio_id_field"),
            task_type=project.task_type,
        )
        answer: dict[str, Any] = {"status": "ok", "event": event.event, "action": event.action}
        if event.action == "label":
            answer["result"] = _record(request, project_id, event, project.task_type)
        elif event.action == "withdraw":
            answer["withdrawn"] = sum(
                annotate.withdraw_recorded(db, actor=a, project=project_id) for a in event.actors
            )
        elif event.action == "train":
            answer["job_id"] = jobs.enqueue_retrain(db, project_id=project_id, actor=actor).id
        return answer

    return JSONResponse(await run_in_threadpool(run), status_code=201)
