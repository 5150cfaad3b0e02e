"""Fixtures shared by the strategy tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=[0, 1, 2], ids=lambda s: f"seed{s}")
def seed(request: pytest.FixtureRequest) -> int:
    return request.param
