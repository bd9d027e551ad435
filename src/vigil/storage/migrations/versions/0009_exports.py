"""Export jobs and their packages.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_reference", sa.String(64), nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("until_us", sa.BigInteger, nullable=False),
        sa.Column("redacted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_us", sa.BigInteger, nullable=False),
        sa.Column("request_seq", sa.BigInteger),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_us", sa.BigInteger),
        sa.Column("approval_seq", sa.BigInteger),
        sa.Column("ended_by", sa.String(64)),
        sa.Column("phase", sa.String(16)),
        sa.Column("segments_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("segments_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("package", sa.String(128)),
        sa.Column("manifest_sha256", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("finished_us", sa.BigInteger),
    )
    op.create_index("ix_exports_case", "exports", ["case_reference"])
    op.create_index("ix_exports_state", "exports", ["state"])


def downgrade() -> None:
    op.drop_table("exports")
