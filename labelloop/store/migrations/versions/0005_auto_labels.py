"""Auto-labels and their pauses: what certified each auto-label, and when spot checks failed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _foreign_key(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "auto_labels",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("annotation_id", ID, nullable=False),
        sa.Column("model_version_id", ID, nullable=True),
        sa.Column("round_number", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("bound", sa.Float(), nullable=False),
        sa.Column("spot_check", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _foreign_key("auto_labels", "project_id", "projects", "CASCADE"),
        _foreign_key("auto_labels", "item_id", "items", "CASCADE"),
        _foreign_key("auto_labels", "annotation_id", "annotations", "CASCADE"),
        _foreign_key("auto_labels", "model_version_id", "model_versions", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_labels")),
    )
    op.create_index(op.f("ix_auto_labels_item_id"), "auto_labels", ["item_id"], unique=False)
    op.create_index(
        op.f("ix_auto_labels_annotation_id"), "auto_labels", ["annotation_id"], unique=False
    )
    op.create_index(
        "ix_auto_labels_project_spot", "auto_labels", ["project_id", "spot_check", "id"]
    )
    op.create_table(
        "auto_label_pauses",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resumed_by", sa.String(length=200), nullable=True),
        _foreign_key("auto_label_pauses", "project_id", "projects", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_label_pauses")),
    )
    op.create_index("ix_auto_label_pauses_project", "auto_label_pauses", ["project_id", "id"])


def downgrade() -> None:
    op.drop_table("auto_label_pauses")
    op.drop_table("auto_labels")
