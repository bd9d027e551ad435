"""Segments, camera status and alarms.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("path", sa.String(512), nullable=False, unique=True),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("hold", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(16), nullable=False, server_default="ok"),
    )
    op.create_index("ix_segments_camera_start", "segments", ["camera", "start_us"])
    op.create_index("ix_segments_start", "segments", ["start_us"])
    op.create_table(
        "camera_status",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("last_packet_us", sa.BigInteger),
        sa.Column("codec", sa.String(32)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("fps", sa.Float),
        sa.Column("bitrate", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alarms",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raised_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alarms")
    op.drop_table("camera_status")
    op.drop_index("ix_segments_start", "segments")
    op.drop_index("ix_segments_camera_start", "segments")
    op.drop_table("segments")
