"""Where a request's time went, told to the client in a ``Server-Timing`` header.

Every HTTP answer carries::

    Server-Timing: app;dur=14.2, wait;dur=1.1, route;dur=12.3, cpu;dur=9.8

in milliseconds:

- ``app``: from the app's first sight of the request to the start of its answer;
- ``wait``: time the request's work waited for a thread of the thread pool;
- ``route``: time it ran there (access checks, the engine call, the database);
- ``cpu``: CPU time of those threads meanwhile (``route`` minus ``cpu`` is mostly
  waiting for the database, or for the interpreter's lock held by other threads).

``wait``, ``route`` and ``cpu`` count the thread-pool runs labelloop makes itself
(`run_in_thread`): the guards of `labelloop.server.deps.GuardedRoute` and the routes
that run their work in one hop; a sync route's own hops, which FastAPI makes, are
in ``app`` only. A client's latency minus ``app`` is time spent before the app saw the
request or after it answered: the network, and the server's event loop busy with others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestTiming", "ServerTiming", "run_in_thread"]

HEADER = "Server-Timing"
_SCOPE_KEY = "labelloop.timing"
T = TypeVar("T")


@dataclass
class RequestTiming:
    """Seconds one request spent so far: waiting for the thread pool, running there
    (wall clock), and the running threads' CPU time."""

    wait: float = 0.0
    route: float = 0.0
    cpu: float = 0.0

    def header(self, app: float) -> bytes:
        """The header's value, with ``app`` seconds in the app."""
        return (
            f"app;dur={app * 1000:.2f}, wait;dur={self.wait * 1000:.2f}, "
            f"route;dur={self.route * 1000:.2f}, cpu;dur={self.cpu * 1000:.2f}"
        ).encode()


async def run_in_thread(connection: HTTPConnection, call: Callable[..., T], *args: object) -> T:
    """``call(*args)`` in the thread pool, its wait, run and CPU time added to the request's
    timing (when `ServerTiming` is installed)."""
    timing = connection.scope.get(_SCOPE_KEY)
    if timing is None:
        return await run_in_threadpool(call, *args)
    submitted = time.perf_counter()

    def timed() -> T:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return call(*args)
        finally:
            timing.cpu += time.thread_time() - cpu
            timing.wait += started - submitted
            timing.route += time.perf_counter() - started

    return await run_in_threadpool(timed)


class ServerTiming:
    """ASGI middleware adding ``Server-Timing`` to every HTTP answer (module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        timing = scope[_SCOPE_KEY] = RequestTiming()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = timing.header(time.perf_counter() - started)
                headers = [*message.get("headers", ()), (HEADER.lower().encode(), value)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)
