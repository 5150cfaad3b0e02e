"""An ASGI middleware that refuses request bodies over a size limit with 413.

The limit is kept as the app reads the body, never ahead of it: the routes check access
before they read a body, or at once when the read fails (`labelloop.server.deps.GuardedRoute`),
so an unknown caller learns 401 whatever it sends, and only a caller who may send a body
learns 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit"]


class _BodyTooLarge(Exception):
    """Raised into the app's read of a body past the limit; the middleware answers 413."""


_ACCESS_REFUSED = frozenset({401, 403, 404})


def _refuses_access(message: Message) -> bool:
    return message["type"] == "http.response.start" and message["status"] in _ACCESS_REFUSED


class BodySizeLimit:
    """Answer 413 when the app reads a request body larger than ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused at the app's first read,
    before any byte of the body is received; a body sent without one (chunked) is
    counted as it is read, so a liar cannot get past either. Whatever the app answers
    to the failed read is replaced by the 413, except a refusal of access (401, 403,
    404): access is answered first.

    Parameters
    ----------
    app : ASGI app
        The app to protect.
    max_bytes : int
        The largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = 0
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "bad_request", "Content-Length is not a number")
                    return
        size = 0
        refused = started = False

        async def limited_receive() -> Message:
            nonlocal size, refused
            if refused:
                return {"type": "http.disconnect"}
            if declared > self.max_bytes:
                refused = True
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_bytes:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started and not _refuses_access(message):
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused and not started:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        await self._refuse(
            send,
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_bytes} bytes: send fewer items per request",
        )

    @staticmethod
    async def _refuse(send: Send, status: int, error: str, detail: str) -> None:
        body = json.dumps({"error": error, "detail": detail, "field": "body"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
