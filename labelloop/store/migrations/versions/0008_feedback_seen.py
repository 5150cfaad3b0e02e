"""What the people's loop keeps: how far each user has read the reviews of their labels,
and which of a user's browser tabs holds a label lease.

``feedback_seen`` holds one row per user and project: the newest review of the user's
labels they have seen, for the unread count of "My feedback". ``task_leases.holder``
names the tab (or other client session) a lease was given to, so the same annotator in
two tabs is given two tasks; existing leases have none, as leases of API clients do.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The column types as tables.py declared them at this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback_seen",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("last_review_id", ID, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feedback_seen_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feedback_seen_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "project_id", name=op.f("pk_feedback_seen")),
    )
    with op.batch_alter_table("task_leases") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_leases") as batch:
        batch.drop_column("holder")
    op.drop_table("feedback_seen")
