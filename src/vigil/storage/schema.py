"""The one schema, shared by SQLite at the edge and PostgreSQL at the hub.

Times are integer microseconds since the epoch, UTC.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

# state: ok (file on disk), missing (row outlived its file), deleting (retention has
# claimed it; the file may or may not still exist; start-up finishes the job).
segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera", String(64), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("path", String(512), nullable=False, unique=True),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("hold", Boolean, nullable=False, server_default=false()),
    Column("state", String(16), nullable=False, server_default="ok"),
    Index("ix_segments_camera_start", "camera", "start_us"),
    Index("ix_segments_start", "start_us"),
)

camera_status = Table(
    "camera_status",
    metadata,
    Column("camera", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("last_packet_us", BigInteger),
    Column("codec", String(32)),
    Column("width", Integer),
    Column("height", Integer),
    Column("fps", Float),
    Column("bitrate", Float),
    Column("error", Text),
    Column("updated_us", BigInteger, nullable=False),
    Column("analysis_fps", Float),  # pictures analysed per second, over the last 10 s
    Column("analysis_dropped", BigInteger),  # packets or pictures analysis had to skip
    Column("analysis_lag", Float),  # seconds from a picture's time to its analysis
)

# An active alarm is a row; clearing the alarm deletes it.
alarms = Table(
    "alarms",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("message", Text, nullable=False),
    Column("raised_us", BigInteger, nullable=False),
)

# One row per event. The id is a UUIDv7 made at the edge, so inserts are idempotent and the hub
# de-duplicates on it. The box is normalised to 0..1 of the snapshot's frame, whose size is kept
# so pixels can be recovered; snapshot paths are relative to <storage.path>/snapshots.
events = Table(
    "events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("camera", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("label", String(32)),
    Column("zone", String(64)),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger),
    Column("score", Float),
    Column("box_x1", Float),
    Column("box_y1", Float),
    Column("box_x2", Float),
    Column("box_y2", Float),
    Column("frame_width", Integer),
    Column("frame_height", Integer),
    Column("attributes", JSON, nullable=False),
    Column("snapshot", String(512)),
    Column("clean_snapshot", String(512)),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_events_camera_start", "camera", "start_us"),
    Index("ix_events_type_start", "type", "start_us"),
    Index("ix_events_start", "start_us"),
)
