"""serve's HTTP stack: each protocol sets TCP_NODELAY though uvicorn's shared socket lacks
it, on either event loop; the choice of parser and loop, and its fallbacks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import sys

import httpx
import pytest
import uvicorn
import uvloop
from loopback import serving
from typer.testing import CliRunner
from uvicorn.importer import import_from_string

from labelloop.cli import app as cli_app
from labelloop.exceptions import ValidationError
from labelloop.server.httptools_protocol import NoDelayHttpToolsProtocol
from labelloop.server.protocol import NoDelayH11Protocol, ServingStack, serving_stack

seen: list[int] = []


def recording(base: type) -> type:
    """``base`` that records each accepted connection's TCP_NODELAY after it is made."""

    class RecordingProtocol(base):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    return RecordingProtocol


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("protocol", [NoDelayH11Protocol, NoDelayHttpToolsProtocol])
@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_accepted_connections_get_no_delay_on_a_socket_bound_like_uvicorns(protocol, loop_factory):
    # What uvicorn's bind_socket() makes for several workers: proto 0, so asyncio itself
    # leaves TCP_NODELAY off on accepted connections.
    listener = socket.socket(family=socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    assert listener.proto == 0
    config = uvicorn.Config(app, http=recording(protocol), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    async def run() -> list[int]:
        serving_task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            # Two requests on one connection: the second is sent right after the first's
            # response, where Nagle's algorithm made it wait.
            responses = [await client.get(f"http://127.0.0.1:{port}/") for _ in range(2)]
        server.should_exit = True
        await serving_task
        return [response.status_code for response in responses]

    def in_own_loop() -> list[int]:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run())

    seen.clear()
    # In a thread of its own: the browser tests' sync Playwright keeps an event loop
    # running in the main thread when they run first, and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        statuses = pool.submit(in_own_loop).result(timeout=60)
    listener.close()
    assert statuses == [200, 200]
    assert seen and all(value != 0 for value in seen)


def test_the_fast_stack_is_chosen_when_installed_and_h11_on_request() -> None:
    assert serving_stack() == ServingStack(http="httptools", loop="uvloop")
    assert serving_stack("httptools", "uvloop") == ServingStack(http="httptools", loop="uvloop")
    slow = serving_stack("h11", "asyncio")
    assert slow == ServingStack(http="h11", loop="asyncio")
    assert slow.protocol == "labelloop.server.protocol:NoDelayH11Protocol"
    assert import_from_string(serving_stack().protocol) is NoDelayHttpToolsProtocol


@pytest.mark.parametrize(
    ("http", "loop", "field"), [("h2", "auto", "--http"), ("auto", "trio", "--loop")]
)
def test_an_unknown_choice_is_refused_by_name(http, loop, field) -> None:
    with pytest.raises(ValidationError, match=f"{field} must be one of") as caught:
        serving_stack(http, loop)
    assert caught.value.field == field


@pytest.fixture
def without_httptools_and_uvloop(monkeypatch):
    """As on an install where neither C extension could be built."""
    for name in (
        "labelloop.server.httptools_protocol",
        "uvicorn.protocols.http.httptools_impl",
        "httptools",
        "uvloop",
    ):
        monkeypatch.delitem(sys.modules, name, raising=False)
    # A None entry makes `import name` raise ImportError.
    monkeypatch.setitem(sys.modules, "httptools", None)
    monkeypatch.setitem(sys.modules, "uvloop", None)


@pytest.mark.usefixtures("without_httptools_and_uvloop")
def test_without_the_c_extensions_auto_falls_back_and_says_so() -> None:
    stack = serving_stack()
    assert (stack.http, stack.loop) == ("h11", "asyncio")
    assert len(stack.fallbacks) == 2
    assert stack.fallbacks[0].startswith("httptools cannot be imported")
    assert "pip install httptools" in stack.fallbacks[0]
    assert stack.fallbacks[1].startswith("uvloop cannot be imported")
    assert serving_stack("h11", "asyncio").fallbacks == ()


@pytest.mark.usefixtures("without_httptools_and_uvloop")
@pytest.mark.parametrize(
    ("http", "loop", "field"), [("httptools", "auto", "--http"), ("auto", "uvloop", "--loop")]
)
def test_without_the_c_extensions_asking_for_one_by_name_is_an_error(http, loop, field) -> None:
    with pytest.raises(ValidationError, match=f"{field} .*cannot be imported") as caught:
        serving_stack(http, loop)
    assert caught.value.field == field


def test_serve_refuses_an_unknown_parser_before_opening_anything(tmp_path) -> None:
    result = CliRunner().invoke(
        cli_app, ["serve", "--db", str(tmp_path / "none.db"), "--http", "h2"]
    )
    assert result.exit_code == 2
    assert "--http must be one of auto, httptools, h11" in result.output
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize(
    ("options", "banner"),
    [((), "httptools on uvloop"), (("--http", "h11", "--loop", "asyncio"), "h11 on asyncio")],
)
def test_serve_answers_on_the_stack_it_names(tmp_path, sqlite_db, options, banner) -> None:
    log = tmp_path / "serve.log"
    with (
        serving(sqlite_db.url, log, "--no-worker", *options) as url,
        httpx.Client(base_url=url) as client,
    ):
        statuses = [client.get("/healthz").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert banner in " ".join(log.read_text().split())
