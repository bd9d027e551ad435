"""Each camera's segment hash chain, its head, and the record of erased segments.

Segments indexed before this revision have no place in the chain; it starts with the first
segment indexed after it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("segments") as table:
        table.add_column(sa.Column("chain_seq", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("chain", sa.String(64), nullable=True))
    op.create_table(
        "segment_chain",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
    )
    op.create_table(
        "segment_erasures",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("chain_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("chain", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("erased_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("segment_erasures")
    op.drop_table("segment_chain")
    with op.batch_alter_table("segments") as table:
        table.drop_column("chain")
        table.drop_column("chain_seq")
