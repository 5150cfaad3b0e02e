"""Alembic environment: runs on the connection `labelloop.store.migrate` hands over.

Migrations are applied in code (``labelloop db upgrade`` / `Database.create_schema`), never
from an ``alembic.ini``: the caller puts an open connection in ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from labelloop.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "labelloop migrations run through labelloop.store.migrate "
        "(`labelloop db upgrade`), which supplies the database connection"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
