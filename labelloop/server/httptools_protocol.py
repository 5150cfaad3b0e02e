"""uvicorn's httptools protocol with ``TCP_NODELAY`` on each connection.

A module of its own because it imports ``httptools``, a C extension: an install without
it still imports `labelloop.server.protocol`, which then serves with h11 and says so.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from labelloop.server.protocol import set_no_delay

__all__ = ["NoDelayHttpToolsProtocol"]


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``TCP_NODELAY`` on each connection (see
    `labelloop.server.protocol` for why uvicorn's own socket lacks it)."""

    def connection_made(self, transport: Any) -> None:
        set_no_delay(transport)
        super().connection_made(transport)
