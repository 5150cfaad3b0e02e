"""The documentation stays true to the code.

- Every fenced ``python`` block of the pages in ``RUNNABLE`` runs, in order, in one
  namespace per page, in a temporary working directory (``python skip`` blocks are
  shown but not run: they need an optional extra or a running server).
- Every command and option the CLI's ``--help`` shows is named in ``docs/cli.md``, whose
  command reference is what ``docs/gen_cli_reference.py`` makes of the current help, and
  every endpoint of the REST API is listed in ``docs/api.md``.
- The project settings table of ``docs/concepts.md`` is what ``docs/gen_settings_table.py``
  makes of the settings table in the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUNNABLE = ("library.md", "api.md", "formats.md")
_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """The runnable ``python`` blocks of a page, with the line each starts on."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group("info").strip() == "python":
            line = text.count("\n", 0, match.start()) + 2
            blocks.append((line, match.group("body")))
    return blocks


@pytest.mark.parametrize("name", RUNNABLE)
def test_python_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = DOCS / name
    blocks = python_blocks(page)
    assert blocks, f"{page} has no runnable python block"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for line, body in blocks:
        code = compile("\n" * (line - 1) + body, str(page), "exec")
        exec(code, namespace)  # noqa: S102 - the docs' own examples


def _cli_commands():
    from typer.main import get_command

    from labelloop.cli import app

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(get_command(app), [])


def test_cli_reference_names_every_command_and_option() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = []
    for path, command in _cli_commands():
        if path and f"labelloop {' '.join(path)}" not in text:
            missing.append(f"command: labelloop {' '.join(path)}")
        for param in command.params:
            for option in param.opts:
                if option.startswith("-") and option != "--help" and option not in text:
                    missing.append(f"option: labelloop {' '.join(path)} {option}")
    assert not missing, "docs/cli.md does not mention:\n" + "\n".join(missing)


def test_cli_reference_is_regenerated() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_cli_reference", DOCS / "gen_cli_reference.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"{generator.START}\n\n{generator.reference()}\n{generator.END}" in text, (
        "docs/cli.md is out of date: run .venv/bin/python docs/gen_cli_reference.py"
    )


def test_settings_table_is_regenerated() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_settings_table", DOCS / "gen_settings_table.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    assert f"{generator.START}\n\n{generator.table()}\n{generator.END}" in text, (
        "docs/concepts.md's settings table is out of date: "
        "run .venv/bin/python docs/gen_settings_table.py"
    )


def test_api_reference_lists_every_endpoint() -> None:
    import importlib

    from labelloop.server.app import _API_ROUTERS

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = {
        f"{method} {shape(path)}"
        for method, path in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`\[,|]+)", text)
    }
    missing = []
    for name in _API_ROUTERS:
        router = importlib.import_module(f"labelloop.server.routers.{name}").router
        for route in router.routes:
            for method in sorted(route.methods):
                if f"{method} {shape(route.path)}" not in documented:
                    missing.append(f"{method} /api/v1{route.path}")
    # The Label Studio ML-backend routes live outside /api/v1, under their own prefix.
    backend = importlib.import_module("labelloop.server.routers.label_studio").router
    for route in backend.routes:
        for method in sorted(route.methods):
            if f"{method} {shape(route.path)}" not in documented:
                missing.append(f"{method} {route.path}")
    assert not missing, "docs/api.md does not list:\n" + "\n".join(missing)
