"""Cases and holds (evidence lock).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("reference", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_us", sa.BigInteger),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_reference", sa.String(64), nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("until_us", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_us", sa.BigInteger, nullable=False),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_us", sa.BigInteger),
        sa.Column("release_requested_by", sa.String(64)),
        sa.Column("release_reason", sa.Text),
        sa.Column("ended_by", sa.String(64)),
        sa.Column("ended_us", sa.BigInteger),
    )
    op.create_index("ix_holds_camera", "holds", ["camera", "since_us"])
    op.create_index("ix_holds_case", "holds", ["case_reference"])


def downgrade() -> None:
    op.drop_table("holds")
    op.drop_table("cases")
