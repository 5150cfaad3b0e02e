"""Every command, argument and option explains itself in ``--help``, in plain text."""

from __future__ import annotations

from typer.main import get_command

from labelloop.cli import app


def _walk(command, path):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, [*path, name])


def test_every_option_has_help_and_no_markup_leaks() -> None:
    problems = []
    for path, command in _walk(get_command(app), []):
        where = " ".join(["labelloop", *path])
        texts = {where: command.help or ""}
        for param in command.params:
            if param.name == "help":
                continue
            name = f"{where} {param.opts[0] if param.opts else param.name}"
            texts[name] = getattr(param, "help", None) or ""
            if not texts[name].strip():
                problems.append(f"{name}: no help text")
        problems += [f"{name}: literal ``" for name, text in texts.items() if "``" in text]
    assert not problems, "\n".join(problems)
