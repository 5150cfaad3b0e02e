"""Dawid-Skene fits of a project's annotators, the newest deciding overlapping labels.

``consensus_fits`` holds one row per fit: the label keys it knows, their prior, and per
annotator a confusion matrix and the estimated accuracy. Projects whose ``consensus``
setting is ``dawid_skene`` settle items with two or more votes by the newest fit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "consensus_fits",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("classes", JSON, nullable=False),
        sa.Column("prior", JSON, nullable=False),
        sa.Column("annotators", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_consensus_fits_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consensus_fits")),
    )
    op.create_index(
        "ix_consensus_fits_project", "consensus_fits", ["project_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_consensus_fits_project", table_name="consensus_fits")
    op.drop_table("consensus_fits")
