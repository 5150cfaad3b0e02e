"""Dependencies as type aliases: the database, the calling user, permission guards, the project.

Access is checked in a fixed order, before the request body is read or validated (see
`GuardedRoute`): 401 when the caller is unknown, 403 when their role does not allow the
route, 404 when the path names a project they are not a member of. Each guard caches its
answer on ``request.state``, so the ordinary dependency call that follows is free.

::

    @router.post("/projects/{project_id}/items", dependencies=[AdminOnly])
    def import_items(project: ProjectMember, user: CurrentUser, db: DbDep, body: ItemsCreate):
        ...

The guards authenticate (bearer token or session cookie); whether the caller may is
`labelloop.server.permissions`' decision, the one the web pages ask too.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute

from labelloop.engine import lookup
from labelloop.engine import users as user_engine
from labelloop.engine.core.identity import UserInfo
from labelloop.server.errors import ApiError
from labelloop.server.permissions import (
    ACTION_ROLES,
    member_scope,
    project_reachable,
    role_allows,
)
from labelloop.server.schemas.common import MAX_ID
from labelloop.server.server_timing import run_in_thread
from labelloop.server.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_matches
from labelloop.server.settings import ServerSettings
from labelloop.store.db import Database

__all__ = [
    "AdminOnly",
    "AdminUser",
    "AnnotationMember",
    "Caller",
    "CurrentUser",
    "DbDep",
    "GuardedRoute",
    "LabellerOnly",
    "LabellerUser",
    "MemberOnly",
    "ModelClient",
    "ProjectAccess",
    "ProjectMember",
    "ReviewTaskMember",
    "ReviewerOnly",
    "ReviewerUser",
    "SettingsDep",
    "TaskMember",
    "actor_for",
    "client_address",
    "current_user",
    "db_of",
    "get_db",
    "get_settings",
    "guards_in_route",
    "project_member",
    "require",
    "run_guarded",
    "settings_of",
    "task_member",
]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Guard ranks: authentication, then role, then project membership.
_RANK_USER, _RANK_ROLE, _RANK_PROJECT = 0, 1, 2


# Dependencies that do no I/O, or whose answer is cached by the guards, are ``async``:
# FastAPI would otherwise hand each of them to the thread pool, a hop per call.


def db_of(request: Request) -> Database:
    """The app's `Database`, for code that has the request but no dependency."""
    return request.app.state.db


def settings_of(request: Request) -> ServerSettings:
    """The app's `ServerSettings`, for code that has the request but no dependency."""
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    """The app's `Database`."""
    return db_of(request)


async def get_settings(request: Request) -> ServerSettings:
    """The app's `ServerSettings`."""
    return settings_of(request)


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]


def actor_for(user: UserInfo) -> str:
    """The audit actor of a user: their name, or ``model:<name>`` for a model account."""
    return f"model:{user.name}" if user.role == "model" else user.name


def client_address(request: Request) -> str | None:
    """The client's address, as the server sees it (behind a proxy: as uvicorn's
    ``--proxy-headers`` makes it), for counting failed log-ins per address."""
    return request.client.host if request.client else None


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, field="Authorization", headers={"WWW-Authenticate": "Bearer"})


def _path_id(request: Request, name: str) -> int | None:
    """The integer id in path parameter ``name``, or None when it is missing or no id."""
    raw = request.path_params.get(name)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < MAX_ID else None


def _path_scope(request: Request) -> tuple[str, int] | None:
    """The project or task the path names, for `token_access` to check with the token."""
    for name, kind in (("project_id", "project"), ("task_id", "task")):
        if name in request.path_params:
            row_id = _path_id(request, name)
            return None if row_id is None else (kind, row_id)
    return None


def _scoped_project(request: Request, scope: tuple[str, int]) -> tuple[bool, int | None]:
    """(found, project id) when authentication already checked ``scope``."""
    scoped = getattr(request.state, "scoped", None)
    if scoped is not None and scoped[0] == scope:
        return True, scoped[1]
    return False, None


async def _cached_or_run(request: Request, name: str, guard: Callable[[Request], Any]) -> Any:
    """The answer a guard left on ``request.state.<name>``, else the guard's (run in the
    thread pool: guards read the database)."""
    cached = getattr(request.state, name, None)
    return cached if cached is not None else await run_in_thread(request, guard, request)


def _authenticate(request: Request) -> UserInfo:
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    db = request.app.state.db
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        scope = _path_scope(request)
        access = user_engine.token_access(db, token, scope=scope)
        if access is None:
            raise _unauthorized("unknown or revoked token")
        user = access.user
        if scope is not None:
            # The project guard that follows finds its answer here: one read a request.
            request.state.scoped = (scope, access.project_id)
        request.state.auth = "token"
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        if not secret:
            raise _unauthorized("log in, or send 'Authorization: Bearer <token>'")
        found = user_engine.session_user(db, secret, idle=settings_of(request).session_idle)
        if found is None:
            raise _unauthorized("the session has expired: log in again")
        user, csrf = found
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not csrf_matches(sent, csrf):
                raise ApiError(
                    403,
                    f"missing or wrong {CSRF_HEADER} header for a cookie session",
                    field=CSRF_HEADER,
                )
        request.state.auth = "cookie"
        request.state.csrf_token = csrf
    if not user.is_active:
        raise _unauthorized("this account is deactivated")
    request.state.user = user
    return user


async def current_user(request: Request) -> UserInfo:
    """The calling user, from ``Authorization: Bearer`` or the session cookie.

    A cookie session must also send its CSRF token in ``X-CSRF-Token`` on unsafe methods.
    """
    return await _cached_or_run(request, "user", _authenticate)


current_user.guard = (_RANK_USER, _authenticate)  # type: ignore[attr-defined]

CurrentUser = Annotated[UserInfo, Depends(current_user)]


@functools.cache
def require(action: str) -> Callable[[Request], Awaitable[UserInfo]]:
    """A dependency that answers 403 unless the caller's role may do ``action``
    (one of `labelloop.server.permissions.ACTION_ROLES`); one per action, so a route
    that names it twice runs it once."""
    allowed = ", ".join(sorted(ACTION_ROLES[action]))

    def check_role(user: UserInfo) -> UserInfo:
        if not role_allows(user, action):
            raise ApiError(403, f"the {user.role} role may not do this (allowed: {allowed})")
        return user

    def guard(request: Request) -> UserInfo:
        return check_role(_authenticate(request))

    async def check(request: Request) -> UserInfo:
        return check_role(await current_user(request))

    check.guard = (_RANK_ROLE, guard)  # type: ignore[attr-defined]
    check.__name__ = f"require_{action.replace('-', '_')}"
    return check


AdminUser = Annotated[UserInfo, Depends(require("administer"))]
ReviewerUser = Annotated[UserInfo, Depends(require("review"))]
LabellerUser = Annotated[UserInfo, Depends(require("label"))]
ModelClient = Annotated[UserInfo, Depends(require("model-exchange"))]
AdminOnly = Depends(require("administer"))
ReviewerOnly = Depends(require("review"))
LabellerOnly = Depends(require("label"))
MemberOnly = Depends(require("view"))


@dataclass(frozen=True)
class ProjectAccess:
    """A project the caller may use: it exists and they are a member (or an admin)."""

    id: int


def _member_project(request: Request) -> ProjectAccess:
    cached = getattr(request.state, "project", None)
    if cached is not None:
        return cached
    user = _authenticate(request)
    project_id = _path_id(request, "project_id")
    not_found = ApiError(
        404, f"no project {request.path_params.get('project_id')}", field="project_id"
    )
    if project_id is None:
        raise not_found
    found, reachable = _scoped_project(request, ("project", project_id))
    if found:
        if reachable is None:
            raise not_found
    elif not project_reachable(db_of(request), user, project_id):
        raise not_found
    access = ProjectAccess(id=project_id)
    request.state.project = access
    return access


async def project_member(
    request: Request,
    project_id: Annotated[int, Path(description="The project's id.")],
) -> ProjectAccess:
    """The project named by ``{project_id}``; 404 unless the caller is a member (or admin)."""
    return await _cached_or_run(request, "project", _member_project)


project_member.guard = (_RANK_PROJECT, _member_project)  # type: ignore[attr-defined]

ProjectMember = Annotated[ProjectAccess, Depends(project_member)]


def _in_member_project(
    param: str, noun: str, project_of: Callable[..., int | None]
) -> Callable[[Request], Awaitable[ProjectAccess]]:
    """A guard for a route naming a row by id (``{task_id}``, ...): 404 unless the row is
    in a project the caller is a member of (admins: unless it exists), so an outsider
    learns nothing about it, not even that it exists."""

    scope_kind = param.removesuffix("_id")

    def guard(request: Request) -> ProjectAccess:
        cached = getattr(request.state, "project", None)
        if cached is not None:
            return cached
        user = _authenticate(request)
        row_id = _path_id(request, param)
        project_id = None
        if row_id is not None:
            found, project_id = _scoped_project(request, (scope_kind, row_id))
            if not found:
                project_id = project_of(db_of(request), row_id, member_id=member_scope(user))
        if project_id is None:
            raise ApiError(404, f"no {noun} {request.path_params.get(param)}", field=param)
        access = ProjectAccess(id=project_id)
        request.state.project = access
        return access

    async def check(request: Request) -> ProjectAccess:
        return await _cached_or_run(request, "project", guard)

    check.guard = (_RANK_PROJECT, guard)  # type: ignore[attr-defined]
    check.__name__ = f"{param.removesuffix('_id')}_member"
    return check


task_member = _in_member_project("task_id", "task", lookup.task_project_id)
TaskMember = Depends(task_member)
AnnotationMember = Depends(
    _in_member_project("annotation_id", "annotation", lookup.annotation_project_id)
)
ReviewTaskMember = Depends(
    _in_member_project("review_task_id", "review task", lookup.review_task_project_id)
)


def _guards(route: APIRoute) -> list[Callable[[Request], Any]]:
    found: dict[int, tuple[int, Callable[[Request], Any]]] = {}
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        stack.extend(dependant.dependencies)
        guard = getattr(dependant.call, "guard", None)
        if guard is not None:
            found[id(guard[1])] = guard
    for guard in getattr(route.endpoint, "guards_in_route", ()):
        found[id(guard[1])] = guard
    return [call for _rank, call in sorted(found.values(), key=lambda g: g[0])]


@dataclass(frozen=True)
class Caller:
    """Who calls a route that runs its own guards, once they have passed: the user, and
    the project when the route names one (by ``{project_id}`` or a row in it)."""

    user: UserInfo
    project: ProjectAccess | None


_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_Result = TypeVar("_Result")


def guards_in_route(*checks: Callable[..., Any]) -> Callable[[_Endpoint], _Endpoint]:
    """Mark an ``async`` route whose guards (``require(...)``, `project_member`, the
    ``TaskMember``-style checks' callables) run in its own thread-pool hop, with its work:
    the route calls `run_guarded` once, instead of a hop for the guards and another for
    a sync route body (and a third for FastAPI's check of its answer).

    The order of answers stays `GuardedRoute`'s: when FastAPI refuses the request before
    the route runs (a malformed body, a bad path id), the guards run first and their
    401, 403 or 404 wins.
    """
    guards = tuple(check.guard for check in checks)  # type: ignore[attr-defined]

    def mark(endpoint: _Endpoint) -> _Endpoint:
        endpoint.guards_in_route = guards  # type: ignore[attr-defined]
        return endpoint

    return mark


async def run_guarded(request: Request, work: Callable[[Caller], _Result]) -> _Result:
    """Run the route's guards, then ``work(caller)``, in one thread-pool hop (see
    `guards_in_route`); the guards' errors are raised as they would be before any route."""
    guards = request.state.pending_guards
    request.state.pending_guards = ()

    def checked_work() -> _Result:
        for guard in guards:
            guard(request)
        return work(
            Caller(user=request.state.user, project=getattr(request.state, "project", None))
        )

    return await run_in_thread(request, checked_work)


class GuardedRoute(APIRoute):
    """A route that runs its access guards before FastAPI reads and validates the body.

    FastAPI parses a JSON body before it solves dependencies, so without this a caller
    with the wrong role and a malformed body would learn 422 instead of 403. A route
    marked with `guards_in_route` runs them itself, in its work's thread-pool hop; the
    same order of answers holds.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards = _guards(self)
        if not guards:
            return handler

        def run_guards(request: Request) -> None:
            for guard in guards:
                guard(request)

        if hasattr(self.endpoint, "guards_in_route"):
            return self._guards_in_route(handler, guards, run_guards)

        async def guarded(request: Request) -> Response:
            await run_in_thread(request, run_guards, request)
            return await handler(request)

        return guarded

    def _guards_in_route(
        self,
        handler: Callable[[Request], Coroutine[Any, Any, Response]],
        guards: list[Callable[[Request], Any]],
        run_guards: Callable[[Request], None],
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        name = self.endpoint.__name__

        async def guarded(request: Request) -> Response:
            request.state.pending_guards = guards
            try:
                response = await handler(request)
            except Exception:
                if request.state.pending_guards:
                    # Refused before the route ran: access is answered first.
                    await run_in_thread(request, run_guards, request)
                raise
            if request.state.pending_guards:
                raise RuntimeError(f"route {name} answered without calling run_guarded")
            return response

        return guarded
