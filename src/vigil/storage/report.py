"""The state of every configured camera and its recordings, as `vigil status` and the console
show it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from vigil.config import VigilConfig
from vigil.storage.index import SegmentIndex
from vigil.storage.status import StatusStore
from vigil.timeutil import DAY_US, now_us, to_iso

STALE_AFTER_US = 15_000_000  # a status older than this means Vigil is not running


def status_report(config: VigilConfig, engine: Engine) -> dict[str, Any]:
    totals = SegmentIndex(engine).totals()
    status = StatusStore(engine)
    live = status.cameras()
    now = now_us()
    cameras: dict[str, Any] = {}
    for name, camera in config.cameras.items():
        row = live.get(name, {})
        total = totals.get(name)
        stale = not row or now - row["updated_us"] > STALE_AFTER_US
        cameras[name] = {
            "state": "stopped" if stale and row.get("state") != "disabled" else row["state"],
            "since": to_iso(row.get("since_us")),
            "last_packet": to_iso(row.get("last_packet_us")),
            "codec": row.get("codec"),
            "width": row.get("width"),
            "height": row.get("height"),
            "fps": None if stale else row.get("fps"),
            "bitrate": None if stale else row.get("bitrate"),
            "error": row.get("error"),
            "analysis": None
            if row.get("analysis_fps") is None
            else {
                "fps": None if stale else row["analysis_fps"],
                "dropped": row.get("analysis_dropped"),
                "lag": None if stale else row.get("analysis_lag"),
            },
            "site": camera.site,
            "location": list(camera.location) if camera.location else None,
            "retention_days": camera.retention_days,
            "segments": total.segments if total else 0,
            "bytes": total.bytes if total else 0,
            "oldest": to_iso(total.oldest_us) if total else None,
            "newest": to_iso(total.newest_us) if total else None,
            # How far back the footage actually reaches, against the retention configured.
            "horizon_days": round((now - total.oldest_us) / DAY_US, 3) if total else None,
        }
    alarms = [
        {"kind": a.kind, "subject": a.subject, "message": a.message, "since": to_iso(a.raised_us)}
        for a in status.alarms()
    ]
    return {"generated": to_iso(now), "cameras": cameras, "alarms": alarms}
