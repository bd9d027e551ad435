"""Events: one row per detected event, linked to recordings by camera and time.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("label", sa.String(32)),
        sa.Column("zone", sa.String(64)),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger),
        sa.Column("score", sa.Float),
        sa.Column("box_x1", sa.Float),
        sa.Column("box_y1", sa.Float),
        sa.Column("box_x2", sa.Float),
        sa.Column("box_y2", sa.Float),
        sa.Column("frame_width", sa.Integer),
        sa.Column("frame_height", sa.Integer),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.String(512)),
        sa.Column("clean_snapshot", sa.String(512)),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_camera_start", "events", ["camera", "start_us"])
    op.create_index("ix_events_type_start", "events", ["type", "start_us"])
    op.create_index("ix_events_start", "events", ["start_us"])


def downgrade() -> None:
    op.drop_index("ix_events_start", "events")
    op.drop_index("ix_events_type_start", "events")
    op.drop_index("ix_events_camera_start", "events")
    op.drop_table("events")
