"""Run the shell examples of the docs against a scratch database, and report failures.

    .venv/bin/python docs/check_shell_examples.py           # cli, operations, README, api
    .venv/bin/python docs/check_shell_examples.py api.md    # one page

Each page's ``bash`` blocks run in order in one fresh temporary directory, with
``.venv/bin`` first on ``PATH``; a block fails when it exits non-zero. Blocks that
install packages, reach PostgreSQL or start a server that would not return are
skipped. For ``api.md`` the page runs as one script after the CLI walk-through of
``cli.md`` has built a project, against a ``labelloop serve`` started here on a free
port; ``operations.md`` runs beside a trained project (its blocks are independent
fragments); of ``README.md`` only the shell walk-through runs, on a generated pool.
Too slow for the test suite (each command starts Python): run it after changing a
command, an endpoint or an example.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
# Blocks with these are skipped; lines starting a server are dropped from the others.
SKIP = ("pip install", "postgresql+psycopg://", "make ")
SERVER_LINE = re.compile(r"^labelloop (serve|demo)\b.*$", re.MULTILINE)
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def bash_blocks(page: Path) -> list[str]:
    """The ``bash`` blocks of a page, in order."""
    return _BLOCK.findall(page.read_text(encoding="utf-8"))


def _env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", COLUMNS="100")
    env.pop("LABELLOOP_DB", None)
    return env


def run_page(page: Path, folder: Path) -> int:
    """Run a page's blocks one by one in ``folder``; returns the number that failed."""
    failures = 0
    blocks = bash_blocks(page)
    if page.name == "README.md":
        blocks = [b for b in blocks if "labelloop init" in b]
    for block in blocks:
        first = block.strip().splitlines()[0]
        block = SERVER_LINE.sub("", block)
        if any(marker in block for marker in SKIP) or not block.strip():
            print(f"  skip  {first}")
            continue
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block],
            cwd=folder,
            env=_env(),
            capture_output=True,
            text=True,
        )
        mark = "ok  " if result.returncode == 0 else "FAIL"
        print(f"  {mark}  {first}")
        if result.returncode:
            failures += 1
            print(result.stdout[-2000:], result.stderr[-2000:], sep="\n")
    return failures


def _write_pool(path: Path) -> None:
    records = [
        {"id": f"r{i}", "text": f"review {i}: {'a fine film' if i % 2 else 'a dull film'}"}
        | ({"label": "pos" if i % 2 else "neg"} if i < 20 else {})
        for i in range(100)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _prepare_project(folder: Path) -> None:
    commands = (
        "labelloop init",
        "labelloop project create reviews --labels pos,neg",
        "labelloop import reviews reviews.jsonl",
        "labelloop train reviews",
    )
    subprocess.run(
        " && ".join(commands), shell=True, cwd=folder, env=_env(), check=True, capture_output=True
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_api_page(page: Path, folder: Path) -> int:
    """Build the CLI walk-through's project, serve it, run api.md's blocks as one script."""
    if run_page(ROOT / "docs" / "cli.md", folder):
        return 1
    # The walk-through ends with bob outside the project; api.md's reviewer needs him in it.
    subprocess.run(["labelloop", "user", "add-to", "bob", "reviews"], cwd=folder, env=_env())
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "labelloop"), "serve", "--port", str(port)],
        cwd=folder,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        script = []
        for block in bash_blocks(page):
            block = SERVER_LINE.sub("", block)
            block = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            # The walk-through made these users already: take fresh tokens instead.
            block = re.sub(
                r"labelloop user create (\w+) --role \w+(?: --project \w+)?",
                r"labelloop token create \1",
                block,
            )
            script.append(block)
        script.append('echo "api.md: every block ran"')
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", "\n".join(script)],
            cwd=folder,
            env=_env(),
            capture_output=True,
            text=True,
        )
        # An error body of the API starts {"error": "..."}; a job's "error": null is fine.
        failed = result.returncode != 0 or re.search(r'\{"error": ?"', result.stdout) is not None
        print(f"  {'FAIL' if failed else 'ok  '}  api.md as one script")
        if failed:
            print(result.stdout[-4000:], result.stderr[-2000:], sep="\n")
        return int(failed)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def main(pages: list[str]) -> int:
    pages = pages or ["cli.md", "operations.md", "README.md", "api.md"]
    failures = 0
    for name in pages:
        page = ROOT / name if name == "README.md" else ROOT / "docs" / name
        folder = Path(tempfile.mkdtemp(prefix=f"labelloop-{page.stem}-"))
        print(f"{name} (in {folder})")
        if name in ("README.md", "operations.md"):
            _write_pool(folder / "reviews.jsonl")
        if name == "operations.md":
            _prepare_project(folder)
        runner = run_api_page if name == "api.md" else run_page
        failures += runner(page, folder)
    print("all examples ran" if not failures else f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
