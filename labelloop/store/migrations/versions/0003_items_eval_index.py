"""An index of the evaluation items by status, for the queue's count of labelled ones.

Until `eval_min_labels` evaluation items are labelled, every lease counts them (up to
the minimum); without this index the count walked the project's labelled items, about
eval_min_labels / eval_share rows a lease. Partial: only evaluation items are in it, so
imports pay for a few per cent of the rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_items_eval_status",
        "items",
        ["project_id", "status"],
        sqlite_where=sa.text("is_eval IS 1"),
        postgresql_where=sa.text("is_eval IS true"),
    )


def downgrade() -> None:
    op.drop_index("ix_items_eval_status", table_name="items")
