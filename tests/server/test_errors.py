"""The last lines of defence: unexpected errors, and the serve command's own errors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from labelloop.cli import app as cli_app
from labelloop.server import ServerSettings, create_app


def test_an_unexpected_error_is_logged_and_answered_as_json(sqlite_db, caplog) -> None:
    app = create_app(ServerSettings(), db=sqlite_db)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "internal error: the server logged it",
        "field": None,
    }
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text


def test_unknown_routes_and_methods_answer_json(sqlite_db) -> None:
    with TestClient(create_app(ServerSettings(), db=sqlite_db)) as client:
        missing = client.get("/api/v1/nothing-here")
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
        wrong = client.delete("/healthz")
        assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")


def test_serve_refuses_a_missing_database(tmp_path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert "labelloop init" in result.output
