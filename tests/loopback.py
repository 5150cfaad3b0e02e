"""Helpers for tests that start real servers on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

__all__ = ["free_port", "serving", "wait_until_up"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, *, timeout: float = 60) -> None:
    """Wait for a `labelloop serve` process to answer ``/healthz``; fail with its log if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"labelloop serve exited:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"labelloop serve did not answer:\n{log.read_text()[-3000:]}", pytrace=False)


@contextmanager
def serving(db_url: str, log: Path, *options: str) -> Iterator[str]:
    """``labelloop serve --db db_url OPTIONS`` on a free loopback port: yields its URL.

    Its output goes to ``log``; it is stopped (killed if it does not stop) on exit.
    """
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("labelloop")),
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *options,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LABELLOOP_DB": db_url},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
