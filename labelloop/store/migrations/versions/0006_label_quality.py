"""The suspect queue's table: labels a round's out-of-fold check found likely wrong.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "label_suspects",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("round_number", sa.Integer(), nullable=False),
        sa.Column("given_label", JSON, nullable=False),
        sa.Column("suggested_label", JSON, nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reviewer_id", ID, nullable=True),
        sa.Column("corrected_label", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_label_suspects_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_suspects_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["users.id"],
            name=op.f("fk_label_suspects_reviewer_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_suspects")),
    )
    op.create_index(op.f("ix_label_suspects_item_id"), "label_suspects", ["item_id"], unique=False)
    op.create_index(
        "ix_label_suspects_queue",
        "label_suspects",
        ["project_id", "status", "quality"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_label_suspects_queue", table_name="label_suspects")
    op.drop_index(op.f("ix_label_suspects_item_id"), table_name="label_suspects")
    op.drop_table("label_suspects")
