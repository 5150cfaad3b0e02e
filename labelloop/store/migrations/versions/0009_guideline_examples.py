"""Guideline examples: items an admin picked from the disagreements, shown beside the
guidelines with their right label and a note, and a version's "what changed" note.

``guideline_examples`` holds one row per example, with the guideline version that added
it; ``guideline_versions.note`` says what a version changed (none for older versions).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "guideline_examples",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("label", JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_guideline_examples_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_guideline_examples_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline_examples")),
    )
    op.create_index(
        "ix_guideline_examples_version",
        "guideline_examples",
        ["project_id", "version"],
        unique=False,
    )
    with op.batch_alter_table("guideline_versions") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guideline_versions") as batch:
        batch.drop_column("note")
    op.drop_index("ix_guideline_examples_version", table_name="guideline_examples")
    op.drop_table("guideline_examples")
