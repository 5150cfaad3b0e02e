"""Box projects made before ``box_score`` defaulted to ``mean`` keep ``max``.

The default aggregation of an image's box uncertainties changed from ``max`` to ``mean``
(informativeness per box labelled, since a box project's cost is counted in boxes). A
project's settings are stored over the defaults, so an existing box project that never
set ``box_score`` would change its ranking on upgrade; this writes the value it ran with
into its stored settings. Projects that set it keep their choice.

Downgrade leaves the stored value: it is a valid setting under either default.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

projects = sa.table(
    "projects",
    sa.column("id", sa.Integer),
    sa.column("task_type", sa.String),
    sa.column("settings", JSON),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(projects.c.id, projects.c.settings).where(projects.c.task_type == "boxes")
    ).all()
    for project_id, settings in rows:
        stored = dict(settings or {})
        if "box_score" in stored:
            continue
        stored["box_score"] = "max"
        conn.execute(projects.update().where(projects.c.id == project_id).values(settings=stored))


def downgrade() -> None:
    pass
