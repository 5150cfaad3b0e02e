"""What every command shares: how it opens the database and how it reports errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from labelloop.cli import app

runner = CliRunner()

# One command of each module that opens an existing database.
READERS = [
    ("project", "list"),
    ("status", "rev"),
    ("versions", "list", "rev"),
    ("user", "list"),
    ("token", "list"),
    ("audit", "verify", "--global"),
    ("db", "upgrade"),
]


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_file_that_is_no_database_is_named_without_a_traceback(tmp_path, command):
    notes = tmp_path / "notes.db"
    notes.write_text("this is not a database file, it is a shopping list\n" * 20)
    result = runner.invoke(app, [*command, "--db", str(notes)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert result.stderr.strip().splitlines() == [
        f"error: cannot use database {notes}: file is not a database"
    ]


def test_a_database_without_schema_is_named_without_a_traceback(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    result = runner.invoke(app, ["project", "list", "--db", str(empty)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"cannot use database {empty}" in result.stderr


def test_names_that_look_like_markup_are_printed_as_typed(tmp_path):
    db = str(tmp_path / "cli.db")
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    created = runner.invoke(app, ["project", "create", "rev[b]", "--labels", "a,b", "--db", db])
    assert created.exit_code == 0, created.output
    assert "created project 'rev[b]'" in created.stderr
    missing = runner.invoke(app, ["project", "show", "x[/]y[b]", "--db", db])
    assert missing.exit_code == 2
    assert "no project 'x[/]y[b]'" in missing.stderr
    user = runner.invoke(app, ["user", "create", "ann[i]", "--db", db])
    assert user.exit_code == 0, user.output
    assert "created user 'ann[i]'" in user.stderr
