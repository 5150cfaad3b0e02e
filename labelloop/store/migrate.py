"""Schema migrations with Alembic; the migration scripts live in ``migrations/``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelloop.store.db import Database

__all__ = ["upgrade"]


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (default: the newest)."""
    from labelloop.store.tables import Base

    # Replaced by the Alembic migration chain in migrations/.
    Base.metadata.create_all(db.engine)
