"""The label feed's table: one row per change of an item's standing final label.

Existing projects start their feed with one change per item that holds a final label
(``annotated`` or ``accepted``), in item order, so a client reading from the start after
the upgrade gets every label that stands.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "label_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("label", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_label_changes_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_label_changes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_changes")),
    )
    op.create_index(op.f("ix_label_changes_item_id"), "label_changes", ["item_id"], unique=False)
    op.create_index(
        "ix_label_changes_project_id", "label_changes", ["project_id", "id"], unique=False
    )
    op.execute(
        "INSERT INTO label_changes (project_id, item_id, label, created_at) "
        "SELECT project_id, id, final_label, COALESCE(labelled_at, created_at) FROM items "
        "WHERE status IN ('annotated', 'accepted') AND final_label IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    op.drop_table("label_changes")
