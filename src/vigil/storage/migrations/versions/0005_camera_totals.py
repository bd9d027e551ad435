"""Running per-camera totals of recorded segments.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "camera_totals",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("segments", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO camera_totals (camera, segments, bytes) "
        "SELECT camera, COUNT(*), COALESCE(SUM(bytes), 0) FROM segments WHERE state = 'ok' "
        "GROUP BY camera"
    )


def downgrade() -> None:
    op.drop_table("camera_totals")
