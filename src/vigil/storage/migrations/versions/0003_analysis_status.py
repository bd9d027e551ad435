"""Analysis figures in the camera status: rate, drops and lag.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("camera_status") as batch:
        batch.add_column(sa.Column("analysis_fps", sa.Float))
        batch.add_column(sa.Column("analysis_dropped", sa.BigInteger))
        batch.add_column(sa.Column("analysis_lag", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("camera_status") as batch:
        batch.drop_column("analysis_lag")
        batch.drop_column("analysis_dropped")
        batch.drop_column("analysis_fps")
