"""Log-in throttling and idle session expiry.

``login_throttle`` counts failed log-ins per account name and per client address, so
every server worker refuses the same attempts and a restart forgets nothing.
``browser_sessions.last_seen_at`` is when a session was last used; sessions that exist
already start from their creation time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", WHEN, nullable=False),
        sa.Column("blocked_until", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttle")),
        sa.UniqueConstraint("kind", "key", name="uq_login_throttle_kind_key"),
    )
    op.create_index(
        op.f("ix_login_throttle_last_failure_at"),
        "login_throttle",
        ["last_failure_at"],
        unique=False,
    )
    op.add_column("browser_sessions", sa.Column("last_seen_at", WHEN, nullable=True))
    op.execute("UPDATE browser_sessions SET last_seen_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("browser_sessions") as batch:
        batch.drop_column("last_seen_at")
    op.drop_index(op.f("ix_login_throttle_last_failure_at"), table_name="login_throttle")
    op.drop_table("login_throttle")
