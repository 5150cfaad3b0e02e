"""Connections of ``serve --workers N`` get TCP_NODELAY, though uvicorn's socket lacks it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket

import httpx
import uvicorn

from labelloop.server.protocol import NoDelayH11Protocol

seen: list[int] = []


class RecordingProtocol(NoDelayH11Protocol):
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_accepted_connections_get_no_delay_on_a_socket_bound_like_uvicorns():
    # What uvicorn's bind_socket() makes for several workers: proto 0, so asyncio itself
    # leaves TCP_NODELAY off on accepted connections.
    listener = socket.socket(family=socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    assert listener.proto == 0
    config = uvicorn.Config(app, http=RecordingProtocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        server.should_exit = True
        await serving
        assert response.status_code == 200

    seen.clear()
    # In a thread of its own: the browser tests' sync Playwright keeps an event loop
    # running in the main thread when they run first, and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=60)
    listener.close()
    assert seen and all(value != 0 for value in seen)
