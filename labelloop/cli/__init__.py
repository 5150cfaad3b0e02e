"""The ``labelloop`` command line: Typer commands that call engine functions.

Each module below registers its commands on `app`; none holds business rules.
"""

from __future__ import annotations

from labelloop.cli.common import app

__all__ = ["app", "main"]


def _register_commands() -> None:
    # Imported for their side effect: each module adds its commands to `app`.
    import importlib

    for module in (
        "labelloop.cli.simulate",
        "labelloop.cli.projects",
        "labelloop.cli.rounds",
        "labelloop.cli.stream",
        "labelloop.cli.quality",
        "labelloop.cli.guidelines",
        "labelloop.cli.feedback",
        "labelloop.cli.store",
        "labelloop.cli.users",
        "labelloop.cli.serve",
        "labelloop.cli.demo",
        "labelloop.cli.label_studio",
    ):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_register_commands()


def main() -> None:
    """Entry point of the ``labelloop`` console script."""
    app()
