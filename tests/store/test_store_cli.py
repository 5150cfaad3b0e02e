"""``labelloop init``, ``db upgrade``, ``audit verify`` and ``audit export`` through Typer."""

from __future__ import annotations

import json

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.engine.projects import create_project
from labelloop.store.db import Database
from labelloop.store.migrate import alembic_config, current_revision, head_revision, upgrade

runner = CliRunner()

# Every state a database of an older labelloop can be in: empty, or at an older revision.
_SCRIPTS = ScriptDirectory.from_config(alembic_config())
OLDER = [None] + [r.revision for r in _SCRIPTS.walk_revisions() if r.revision != head_revision()]


def _project_with_events(db: Database) -> int:
    project = create_project(
        db, actor="cli:test", name="reviews", task_type="classification", labels=["pos", "neg"]
    )
    create_project(db, actor="cli:test", name="other", task_type="classification", labels="a,b")
    return project.id


def test_init_creates_the_default_database_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABELLOOP_DB", raising=False)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "labelloop.db") in result.output
    db = Database(str(tmp_path / "labelloop.db"))
    assert current_revision(db) == head_revision()
    db.dispose()
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 0 and "already exists" in again.output


def test_init_honours_db_option_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELLOOP_DB", str(tmp_path / "env.db"))
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (tmp_path / "env.db").exists()
    result = runner.invoke(app, ["init", "--db", f"sqlite:///{tmp_path / 'opt.db'}"])
    assert result.exit_code == 0 and (tmp_path / "opt.db").exists()


def test_init_on_postgresql(pg_server):
    name = pg_server.create_database()
    try:
        result = runner.invoke(app, ["init", "--db", pg_server.url(name)])
        assert result.exit_code == 0, result.output
        assert "created database" in result.output
        db = Database(pg_server.url(name))
        assert current_revision(db) == head_revision()
        db.dispose()
    finally:
        pg_server.drop_database(name)


def test_bad_databases_exit_2(tmp_path):
    not_db = tmp_path / "notes.db"
    not_db.write_text("this is not a database file, it is a shopping list\n" * 20)
    result = runner.invoke(app, ["init", "--db", str(not_db)])
    assert result.exit_code == 2 and "notes.db" in result.output
    result = runner.invoke(app, ["db", "upgrade", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "labelloop init" in result.output
    result = runner.invoke(app, ["init", "--db", "mysql://u@h/x"])
    assert result.exit_code == 2 and "unsupported database" in result.output


@pytest.mark.parametrize("older", OLDER, ids=lambda r: r or "empty")
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_db_upgrade_brings_an_older_database_to_head(request, tmp_path, kind, older):
    if kind == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        server = request.getfixturevalue("pg_server")
        name = server.create_database()
        url, cleanup = server.url(name), lambda: server.drop_database(name)
    try:
        db = Database(url)
        if older is None:
            with db.write_connection() as conn:  # an existing database, never migrated
                conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
        else:
            upgrade(db, older)
        result = runner.invoke(app, ["db", "upgrade", "--db", url])
        assert result.exit_code == 0, result.output
        assert f"to {head_revision()}" in result.output
        assert current_revision(db) == head_revision()
        again = runner.invoke(app, ["db", "upgrade", "--db", url])
        assert again.exit_code == 0 and "already at" in again.output
        db.dispose()
    finally:
        if cleanup:
            cleanup()


def test_audit_verify_intact_then_tampered(database):
    project_id = _project_with_events(database)
    result = runner.invoke(app, ["audit", "verify", "reviews", "--db", database.url])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert (
        runner.invoke(app, ["audit", "verify", str(project_id), "--db", database.url]).exit_code
        == 0
    )
    with database.transaction() as s:
        s.execute(
            text("""UPDATE audit_events SET "after" = '{"labels": ["pos"]}' WHERE chain = :c"""),
            {"c": f"project:{project_id}"},
        )
    result = runner.invoke(app, ["audit", "verify", "reviews", "--db", database.url])
    assert result.exit_code == 1
    assert "seq 1" in result.output and "edited" in result.output
    other = runner.invoke(app, ["audit", "verify", "other", "--db", database.url])
    assert other.exit_code == 0


def test_audit_verify_global_and_bad_arguments(sqlite_db):
    url = sqlite_db.url
    assert runner.invoke(app, ["audit", "verify", "--global", "--db", url]).exit_code == 0
    assert runner.invoke(app, ["audit", "verify", "--db", url]).exit_code == 2
    missing = runner.invoke(app, ["audit", "verify", "nope", "--db", url])
    assert missing.exit_code == 2 and "nope" in missing.output


def test_audit_export_to_stdout_and_file(database, tmp_path):
    _project_with_events(database)
    result = runner.invoke(app, ["audit", "export", "reviews", "--db", database.url])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["action"] for e in events] == ["project.created"]
    assert events[0]["seq"] == 1 and len(events[0]["hash"]) == 64
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(
        app, ["audit", "export", "reviews", "--out", str(out), "--db", database.url]
    )
    assert result.exit_code == 0 and "exported 1 events" in result.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == events
    missing = runner.invoke(
        app, ["audit", "export", "nope", "--out", str(tmp_path / "x.jsonl"), "--db", database.url]
    )
    assert missing.exit_code == 2 and not (tmp_path / "x.jsonl").exists()
