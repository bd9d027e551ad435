"""The audit trail's Merkle tree head in each checkpoint.

Checkpoints signed before this revision keep their chain-only message (no root) and still
verify; every checkpoint signed after it also commits to the Merkle root of its records.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as table:
        table.add_column(sa.Column("root", sa.String(64), nullable=True))
        table.add_column(sa.Column("frontier", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as table:
        table.drop_column("frontier")
        table.drop_column("root")
