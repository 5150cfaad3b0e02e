"""The HTTP protocol and event loop ``labelloop serve`` hands to uvicorn.

By default uvicorn's own fast path: ``httptools`` (the C HTTP parser) on ``uvloop``
(libuv's event loop); the pure-Python ``h11`` parser on asyncio's loop remains for an
install that lacks either, or on request (``serve --http h11 --loop asyncio``).
`serving_stack` makes the choice once, in the process that starts uvicorn, and says why
whenever it falls back.

With several worker processes uvicorn binds the listening socket itself, as
``socket.socket(family)``, whose ``proto`` is 0; asyncio then skips ``TCP_NODELAY`` on
the connections it accepts (it sets it only on sockets whose ``proto`` is TCP). Nagle's
algorithm held back the second half of a response written in two parts until the client
acknowledged the first, and the client delays its acknowledgement by up to 40 ms: a
request sent right after another's response waited about 40 ms. Both protocols here set
``TCP_NODELAY`` on every TCP connection they are given, on either loop.
"""

from __future__ import annotations

import importlib
import socket
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from labelloop.exceptions import ValidationError

__all__ = [
    "HTTP_CHOICES",
    "LOOP_CHOICES",
    "NoDelayH11Protocol",
    "ServingStack",
    "serving_stack",
    "set_no_delay",
]

HTTP_CHOICES = ("auto", "httptools", "h11")
LOOP_CHOICES = ("auto", "uvloop", "asyncio")

# uvicorn imports the protocol by this path in each worker process.
_PROTOCOLS = {
    "httptools": "labelloop.server.httptools_protocol:NoDelayHttpToolsProtocol",
    "h11": "labelloop.server.protocol:NoDelayH11Protocol",
}


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


@dataclass(frozen=True)
class ServingStack:
    """The HTTP parser and event loop to serve with, and why a faster one was not used.

    Attributes
    ----------
    http : {"httptools", "h11"}
        The HTTP parser.
    loop : {"uvloop", "asyncio"}
        The event loop, as uvicorn's ``loop`` setting names it.
    fallbacks : tuple of str
        One line for each faster choice that could not be imported.
    """

    http: str
    loop: str
    fallbacks: tuple[str, ...] = ()

    @property
    def protocol(self) -> str:
        """The import path of the protocol class, for uvicorn's ``http`` setting."""
        return _PROTOCOLS[self.http]


def _importable(module: str) -> ImportError | None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return exc
    return None


def _pick(
    option: str, choice: str, choices: tuple[str, ...], fast: str, slow: str, module: str
) -> tuple[str, str | None]:
    if choice not in choices:
        raise ValidationError(
            f"{option} must be one of {', '.join(choices)}, got {choice!r}", field=option
        )
    if choice == slow:
        return slow, None
    missing = _importable(module)
    if missing is None:
        return fast, None
    if choice == fast:
        raise ValidationError(
            f"{option} {fast}: it cannot be imported ({missing}); install it "
            f"(`pip install {fast}`) or pass {option} {slow}",
            field=option,
        )
    return slow, (
        f"{fast} cannot be imported ({missing}): serving with {slow} instead, which costs "
        f"more CPU per request; `pip install {fast}` to get it back"
    )


def serving_stack(http: str = "auto", loop: str = "auto") -> ServingStack:
    """Choose the HTTP parser and event loop: the fastest importable unless told.

    Parameters
    ----------
    http : {"auto", "httptools", "h11"}
        ``auto`` takes ``httptools`` when it can be imported, else ``h11``.
    loop : {"auto", "uvloop", "asyncio"}
        ``auto`` takes ``uvloop`` when it can be imported, else asyncio's own loop.

    Returns
    -------
    ServingStack
        The choice, with a line for each fallback taken.

    Raises
    ------
    ValidationError
        An unknown choice, or ``httptools`` / ``uvloop`` asked for by name and not
        importable.
    """
    parser, parser_note = _pick(
        "--http", http, HTTP_CHOICES, "httptools", "h11", _PROTOCOLS["httptools"].split(":")[0]
    )
    event_loop, loop_note = _pick("--loop", loop, LOOP_CHOICES, "uvloop", "asyncio", "uvloop")
    notes = tuple(note for note in (parser_note, loop_note) if note is not None)
    return ServingStack(http=parser, loop=event_loop, fallbacks=notes)
