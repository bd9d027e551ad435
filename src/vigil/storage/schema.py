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
    # The camera's segment hash chain (vigil.storage.chain): place in it, and the link.
    # NULL for segments indexed before the chain existed.
    Column("chain_seq", BigInteger),
    Column("chain", String(64)),
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
# de-duplicates on it; the key is (id, start_us) because the hub's PostgreSQL partitions the
# table by month of start_us, and a partitioned table's keys must hold the partition key. site
# and ingested_us are the hub's: the site the event came from, and when the hub took it. The box
# is normalised to 0..1 of the snapshot's frame, whose size is kept so pixels can be recovered;
# snapshot paths are relative to <storage.path>/snapshots.
events = Table(
    "events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("camera", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("label", String(32)),
    Column("zone", String(64)),
    Column("start_us", BigInteger, primary_key=True, autoincrement=False),
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
    Column("site", String(31)),
    Column("ingested_us", BigInteger),
    Index("ix_events_camera_start", "camera", "start_us"),
    Index("ix_events_type_start", "type", "start_us"),
    Index("ix_events_start", "start_us"),
    Index("ix_events_site_start", "site", "start_us"),
    Index("ix_events_updated", "updated_us"),
)

# How an operator judged an event: acknowledged, or a false alarm, with a note (both audited).
event_reviews = Table(
    "event_reviews",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("verdict", String(16), nullable=False),  # acknowledged | false_alarm
    Column("note", Text, nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)

# Local accounts. roles: a list of viewer | investigator | admin | auditor. The scope is the
# cameras and sites the account may see; both null means every camera.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("roles", JSON, nullable=False),
    Column("cameras", JSON),
    Column("sites", JSON),
    Column("password_hash", Text, nullable=False),
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# Browser sessions and machine tokens are stored only as SHA-256 of the secret, so a copy of the
# database does not let anyone in.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("last_seen_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("label", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger),
    Column("revoked", Boolean, nullable=False, server_default=false()),
    Index("ix_api_tokens_user", "user_id"),
)

# The audit trail: an append-only hash chain, record n's hash covering record n-1's. seq starts
# at 1 with no gaps, so a deletion or insertion shows as a break in the chain.
audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("cameras", JSON, nullable=False),
    Column("since_us", BigInteger),
    Column("until_us", BigInteger),
    Column("reason", Text),
    Column("source", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_at", "at_us"),
)

# Signed checkpoints of the audit chain: (size, head hash) signed with the site's Ed25519 key, so
# an overseer holding the public key can prove the log was not rewritten after a checkpoint.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("head_hash", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(128), nullable=False),
    # The Merkle tree head over records 1..size (audit/merkle.py), and the subtree roots that
    # let the next checkpoint extend it; NULL in checkpoints signed before the tree existed.
    Column("root", String(64), nullable=True),
    Column("frontier", JSON, nullable=True),
)

# Per camera, the count and bytes of its segments in state ok, kept in the same transaction as
# every change to `segments`, so status pages need not add up millions of rows.
camera_totals = Table(
    "camera_totals",
    metadata,
    Column("camera", String(64), primary_key=True),
    Column("segments", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

# Evidence: an investigation (case) and the footage it keeps from deletion (holds).
# A case's reference is what evidence requests carry in X-Vigil-Case.
cases = Table(
    "cases",
    metadata,
    Column("reference", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("opened_by", String(64), nullable=False),
    Column("opened_us", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, server_default="open"),  # open | closed
    Column("closed_by", String(64)),
    Column("closed_us", BigInteger),
)

# state: requested → active (a second account approved) → release_requested → released;
# requested → refused; active or release_requested → expired (expires_us passed).
# Only active and release_requested holds keep footage (segments.hold).
HOLDS_IN_FORCE = ("active", "release_requested")
holds = Table(
    "holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_reference", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("until_us", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("state", String(24), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("approved_by", String(64)),
    Column("approved_us", BigInteger),
    Column("release_requested_by", String(64)),
    Column("release_reason", Text),
    Column("ended_by", String(64)),  # who released or refused it; "vigil" when it expired
    Column("ended_us", BigInteger),
    Index("ix_holds_camera", "camera", "since_us"),
    Index("ix_holds_case", "case_reference"),
)

# The head of each camera's segment hash chain, changed in the transaction of every insert.
segment_chain = Table(
    "segment_chain",
    metadata,
    Column("camera", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
)

# A chained segment that retention deleted: what it was, so the chain still verifies, and
# why it went, so an overseer can tell "erased on schedule" from "missing".
segment_erasures = Table(
    "segment_erasures",
    metadata,
    Column("camera", String(64), primary_key=True),
    Column("chain_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("chain", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("erased_us", BigInteger, nullable=False),
)

# An export job and its package. state: requested (unredacted: waits for a second account)
# → queued → running → complete | failed; complete → expired (evidence.export_days later, its
# package removed); requested → refused; requested, queued or running → cancelled. A redacted
# export is queued at once. `package` is the package's directory
# under <storage>/exports, set only once the directory is complete and in place.
EXPORTS_WAITING = ("requested", "queued", "running")
exports = Table(
    "exports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_reference", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("until_us", BigInteger, nullable=False),
    Column("redacted", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("request_seq", BigInteger),  # the audit record of the request
    Column("approved_by", String(64)),
    Column("approved_us", BigInteger),
    Column("approval_seq", BigInteger),  # the audit record of the approval
    Column("ended_by", String(64)),  # who cancelled or refused it
    Column("phase", String(16)),  # copying | redacting | sealing, while running
    Column("segments_total", Integer, nullable=False, server_default="0"),
    Column("segments_done", Integer, nullable=False, server_default="0"),
    Column("bytes_total", BigInteger, nullable=False, server_default="0"),
    Column("bytes_done", BigInteger, nullable=False, server_default="0"),
    Column("package", String(128)),
    Column("unmasked", Boolean, nullable=False, server_default=false()),  # a mask lift was used
    Column("manifest_sha256", String(64)),
    Column("error", Text),
    Column("finished_us", BigInteger),
    Index("ix_exports_case", "case_reference"),
    Index("ix_exports_state", "state"),
)

# Lifting a camera's privacy masks for one look at footage: asked for with a case and reason by
# an account whose role may (roles.<role>.mask_lift), approved by a second account when
# privacy.lift_approval is set, and used once. state: requested → active → used; requested →
# refused; requested or active → expired (expires_us passed).
mask_lifts = Table(
    "mask_lifts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_reference", String(64), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("until_us", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("approved_by", String(64)),
    Column("approved_us", BigInteger),
    Column("expires_us", BigInteger, nullable=False),
    Column("used_for", String(32)),  # playback | export
    Column("used_us", BigInteger),
)


# -- federation ------------------------------------------------------------------------------
# At a site: how far the uplink has published each table to the site's stream (its JetStream
# acknowledged, with sync_interval always, so durable on the site's disk).
uplink_cursors = Table(
    "uplink_cursors",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# At the hub: what each site has sent. Keys are the site's own (event id, audit seq, segment
# id), so a message delivered twice inserts nothing the second time.
site_audit_records = Table(
    "site_audit_records",
    metadata,
    Column("site", String(31), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("record", JSON, nullable=False),  # the site's audit record, hash and all
    Column("ingested_us", BigInteger, nullable=False),
)

site_checkpoints = Table(
    "site_checkpoints",
    metadata,
    Column("site", String(31), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("checkpoint", JSON, nullable=False),  # audit.log.Checkpoint.public()
    Column("public_key", Text, nullable=False),  # PEM of the key the site signed with
    Column("ingested_us", BigInteger, nullable=False),
)

# The site's segment index, no video. state: available (at the site) | gone (the site erased
# it) | retrieved (a verified copy is in the hub's storage at `path`).
site_segments = Table(
    "site_segments",
    metadata,
    Column("site", String(31), primary_key=True),
    Column("segment_id", BigInteger, primary_key=True, autoincrement=False),
    Column("camera", String(64), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("hold", Boolean, nullable=False),
    Column("chain_seq", BigInteger),
    Column("state", String(16), nullable=False, server_default="available"),
    Column("path", String(512)),
    Index("ix_site_segments_camera", "site", "camera", "start_us"),
)

site_cameras = Table(
    "site_cameras",
    metadata,
    Column("site", String(31), primary_key=True),
    Column("camera", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("detail", JSON, nullable=False),
)

# A site's active alarms (storage, power, camera), replaced by each report the site sends.
site_alarms = Table(
    "site_alarms",
    metadata,
    Column("site", String(31), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("message", Text, nullable=False),
    Column("raised_us", BigInteger, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("name", String(31), primary_key=True),
    Column("first_seen_us", BigInteger, nullable=False),
    Column("last_message_us", BigInteger, nullable=False),  # when the site sent it
    Column("last_ingest_us", BigInteger, nullable=False),  # when the hub took it
    Column("refused", BigInteger, nullable=False, server_default="0"),  # forged or malformed
)

# At the hub: footage asked of a site, with a case and a reason, for one camera and range.
# state: queued → running → complete | failed. Segments arrive byte for byte and are checked
# against the SHA-256 of the site's index (site_segments) before they count.
retrievals = Table(
    "retrievals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(31), nullable=False),
    Column("camera", String(64), nullable=False),
    Column("since_us", BigInteger, nullable=False),
    Column("until_us", BigInteger, nullable=False),
    Column("case_reference", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("segments_total", Integer, nullable=False, server_default="0"),
    Column("segments_done", Integer, nullable=False, server_default="0"),
    Column("bytes_done", BigInteger, nullable=False, server_default="0"),
    Column("error", Text),
    Column("finished_us", BigInteger),
    Index("ix_retrievals_site_state", "site", "state"),
)
