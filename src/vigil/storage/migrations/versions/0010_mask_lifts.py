"""Privacy mask lifts, and whether an export was made under one.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "mask_lifts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_reference", sa.String(64), nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("until_us", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_us", sa.BigInteger, nullable=False),
        sa.Column("approved_by", sa.String(64)),
        sa.Column("approved_us", sa.BigInteger),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("used_for", sa.String(32)),
        sa.Column("used_us", sa.BigInteger),
    )
    with op.batch_alter_table("exports") as table:
        table.add_column(
            sa.Column("unmasked", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("exports") as table:
        table.drop_column("unmasked")
    op.drop_table("mask_lifts")
