"""A schema-driven fuzz run: schemathesis against /openapi.json finds no server errors."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from labelloop.engine import users

MAX_EXAMPLES = 10


def test_no_request_from_the_schema_gets_a_500(world) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    _spare, _secret = users.create_token(world.db, actor="cli:test", user="admin", name="spare")
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30

    def fuzz(operation) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy())
        def call(case) -> None:
            params = case.path_parameters or {}
            if "project_id" in params:  # reach past the 404 of a made-up project
                params["project_id"] = world.project_id
            if "token_id" in params:  # never revoke the token the run itself uses
                params["token_id"] = _spare.id
            # Generous: the first rounds/status call imports scikit-learn on a busy machine.
            response = case.call(headers=headers, timeout=300)
            statuses.setdefault(label, set()).add(response.status_code)
            assert response.status_code < 500, (label, response.status_code, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error", "detail", "field"}, response.text

        call()

    for operation in operations:
        fuzz(operation)
    assert any(200 <= code < 300 for codes in statuses.values() for code in codes)
