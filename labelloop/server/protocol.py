"""The HTTP protocol ``labelloop serve --workers N`` hands to uvicorn.

With several worker processes uvicorn binds the listening socket itself, as
``socket.socket(family)``, whose ``proto`` is 0; asyncio then skips ``TCP_NODELAY`` on
the connections it accepts (it sets it only on sockets whose ``proto`` is TCP). Nagle's
algorithm held back the second half of a response written in two parts until the client
acknowledged the first, and the client delays its acknowledgement by up to 40 ms: a
request sent right after another's response waited about 40 ms. This protocol sets
``TCP_NODELAY`` on every TCP connection it is given.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["NoDelayH11Protocol", "set_no_delay"]


def set_no_delay(transport: Any) -> None:
    """Turn Nagle's algorithm off on a transport's TCP socket (others are left alone)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` on each connection."""

    def connection_made(self, transport: Any) -> None:
        set_no_delay(transport)
        super().connection_made(transport)
