"""Federation: events keyed (id, start_us) and, on PostgreSQL, partitioned by month of
start_us; the site's uplink cursors; the hub's tables of what sites sent.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

EVENT_INDEXES = {
    "ix_events_camera_start": ["camera", "start_us"],
    "ix_events_type_start": ["type", "start_us"],
    "ix_events_start": ["start_us"],
}
NEW_EVENT_INDEXES = {
    "ix_events_site_start": ["site", "start_us"],
    "ix_events_updated": ["updated_us"],  # the site's uplink reads events in update order
}
HUB_TABLES = (
    "retrievals",
    "sites",
    "site_alarms",
    "site_cameras",
    "site_segments",
    "site_checkpoints",
    "site_audit_records",
    "uplink_cursors",
)
EVENT_COLUMNS = (
    "id, camera, type, label, zone, start_us, end_us, score, box_x1, box_y1, box_x2, box_y2, "
    "frame_width, frame_height, attributes, snapshot, clean_snapshot, updated_us"
)


def _event_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(36), nullable=False),
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
        sa.Column("site", sa.String(31)),
        sa.Column("ingested_us", sa.BigInteger),
    ]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in EVENT_INDEXES:
        op.drop_index(name, "events")
    op.rename_table("events", "events_0010")
    partitioned = {"postgresql_partition_by": "RANGE (start_us)"} if postgresql else {}
    op.create_table(
        "events", *_event_columns(), sa.PrimaryKeyConstraint("id", "start_us"), **partitioned
    )
    if postgresql:
        # Rows no month partition takes yet (storage.partitions creates the months ahead).
        op.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
    op.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM events_0010")
    op.drop_table("events_0010")
    for name, columns in {**EVENT_INDEXES, **NEW_EVENT_INDEXES}.items():
        op.create_index(name, "events", columns)

    op.create_table(
        "uplink_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "site_audit_records",
        sa.Column("site", sa.String(31), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("ingested_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "site_checkpoints",
        sa.Column("site", sa.String(31), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("checkpoint", sa.JSON, nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("ingested_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "site_segments",
        sa.Column("site", sa.String(31), primary_key=True),
        sa.Column("segment_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("start_us", sa.BigInteger, nullable=False),
        sa.Column("end_us", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("hold", sa.Boolean, nullable=False),
        sa.Column("chain_seq", sa.BigInteger),
        sa.Column("state", sa.String(16), nullable=False, server_default="available"),
        sa.Column("path", sa.String(512)),
    )
    op.create_index("ix_site_segments_camera", "site_segments", ["site", "camera", "start_us"])
    op.create_table(
        "site_cameras",
        sa.Column("site", sa.String(31), primary_key=True),
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "site_alarms",
        sa.Column("site", sa.String(31), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raised_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sites",
        sa.Column("name", sa.String(31), primary_key=True),
        sa.Column("first_seen_us", sa.BigInteger, nullable=False),
        sa.Column("last_message_us", sa.BigInteger, nullable=False),
        sa.Column("last_ingest_us", sa.BigInteger, nullable=False),
        sa.Column("refused", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "retrievals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(31), nullable=False),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("until_us", sa.BigInteger, nullable=False),
        sa.Column("case_reference", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("segments_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("segments_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("finished_us", sa.BigInteger),
    )
    op.create_index("ix_retrievals_site_state", "retrievals", ["site", "state"])


def downgrade() -> None:
    for table in HUB_TABLES:
        op.drop_table(table)
    for name in [*EVENT_INDEXES, *NEW_EVENT_INDEXES]:
        op.drop_index(name, "events")
    op.rename_table("events", "events_0011")
    op.create_table("events", *_event_columns()[:-2], sa.PrimaryKeyConstraint("id"))
    op.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM events_0011")
    op.drop_table("events_0011")
    for name, columns in EVENT_INDEXES.items():
        op.create_index(name, "events", columns)
