"""A model's structured output beside its class probabilities: ``predictions.structure``.

Entity projects store the predicted spans (``[{start, end, label, score}]``, character
offsets into the item's text) and box projects the predicted boxes (``[{bbox: [x1, y1,
x2, y2], label, score, probabilities?}]``, pixels). Whole-item projects leave it empty,
and so do existing predictions.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("structure", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("structure")
