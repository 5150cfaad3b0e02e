"""The user and token commands, through Typer's runner on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.engine.users import authenticate_token, verify_password
from labelloop.store.db import Database


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    db = str(tmp_path / "cli.db")

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, [*args, "--db", db], input=input)

    assert invoke("init").exit_code == 0
    invoke.db = db
    return invoke


def test_user_create_prints_only_the_token_on_stdout(run):
    assert run("project", "create", "rev", "--labels", "pos,neg").exit_code == 0
    result = run(
        "user", "create", "ann", "--role", "annotator", "--project", "rev", "--password-stdin",
        input="long enough secret\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert result.stdout.strip() == token and token.startswith("ll_")
    assert "created user 'ann'" in result.stderr
    db = Database(f"sqlite:///{run.db}")
    try:
        user = authenticate_token(db, token)
        assert user.name == "ann" and user.role == "annotator"
        assert verify_password(db, "ann", "long enough secret") == user
    finally:
        db.dispose()
    listed = run("user", "list", "--json")
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["ann"]


def test_bad_role_and_unknown_project_exit_2(run):
    bad = run("user", "create", "x", "--role", "boss")
    assert bad.exit_code == 2 and "unknown role" in bad.stderr
    missing = run("user", "create", "y", "--role", "admin", "--project", "nope")
    assert missing.exit_code == 2 and "no project" in missing.stderr
    assert run("user", "list", "--json").stdout == ""


def test_add_to_and_tokens(run):
    assert run("project", "create", "rev", "--labels", "pos,neg").exit_code == 0
    assert run("user", "create", "bot", "--role", "model").exit_code == 0
    joined = run("user", "add-to", "bot", "rev")
    assert joined.exit_code == 0 and "joined" in joined.stderr
    created = run("token", "create", "bot", "--name", "ci")
    assert created.exit_code == 0
    secret = created.stdout.strip()
    tokens = [
        json.loads(line)
        for line in run("token", "list", "--user", "bot", "--json").stdout.splitlines()
    ]
    assert [t["name"] for t in tokens] == ["initial", "ci"]
    assert secret not in run("token", "list").stdout
    revoked = run("token", "revoke", str(tokens[1]["id"]))
    assert revoked.exit_code == 0, revoked.output
    db = Database(f"sqlite:///{run.db}")
    try:
        assert authenticate_token(db, secret) is None
    finally:
        db.dispose()
    assert run("token", "revoke", "999").exit_code == 2
    table = run("user", "list")
    assert "bot" in table.stdout and "model" in table.stdout
    off = run("user", "deactivate", "bot")
    assert off.exit_code == 0 and "deactivated" in off.stderr
    [row] = [json.loads(line) for line in run("user", "list", "--json").stdout.splitlines()]
    assert row["active"] is False


def test_set_password_ends_the_users_sessions_and_can_revoke_tokens(run):
    from labelloop.engine.users import create_browser_session, session_user

    created = run("user", "create", "ann", "--password-stdin", input="first secret\n")
    token = created.stdout.strip()
    db = Database(f"sqlite:///{run.db}")
    try:
        user = verify_password(db, "ann", "first secret")
        secret, _ = create_browser_session(db, user.id)
        missing = run("user", "set-password", "ann")
        assert missing.exit_code == 2 and "--password-stdin" in missing.stderr
        result = run(
            "user", "set-password", "ann", "--password-stdin", "--revoke-tokens",
            input="second secret\n",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "1 browser sessions ended, 1 API tokens revoked" in result.stderr
        assert verify_password(db, "ann", "second secret") == user
        assert verify_password(db, "ann", "first secret") is None
        assert session_user(db, secret) is None
        assert authenticate_token(db, token) is None
        short = run("user", "set-password", "ann", "--password-stdin", input="short\n")
        assert short.exit_code == 2 and "at least 8 characters" in short.stderr
    finally:
        db.dispose()


def test_set_password_lifts_a_lock_after_failed_log_ins(run):
    from labelloop.engine.users import LoginPolicy, check_login, login_throttle_state
    from labelloop.exceptions import ThrottledError

    run("user", "create", "ann", "--password-stdin", input="first secret\n")
    db = Database(f"sqlite:///{run.db}")
    try:
        policy = LoginPolicy(backoff_after=1, lock_after=1)
        with pytest.raises(ThrottledError) as locked:
            check_login(db, name="ann", password="wrong!!!", address=None, policy=policy)
        assert locked.value.locked
        reset = run("user", "set-password", "ann", "--password-stdin", input="second secret\n")
        assert reset.exit_code == 0, reset.output
        assert login_throttle_state(db, kind="account", key="ann") is None
        user = check_login(db, name="ann", password="second secret", address=None, policy=policy)
        assert user is not None and user.name == "ann"
    finally:
        db.dispose()
