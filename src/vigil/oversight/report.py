"""The transparency report: what was looked at, by whom and why, what was kept, taken out
and erased, over a period. It is made from the audit trail and the register alone, never from
anything an operator types into it, and it says whether the trail verifies.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine

from vigil.audit.log import AuditEntry, read_checkpoints, read_records
from vigil.audit.verify import verify
from vigil.config import VigilConfig
from vigil.oversight import register
from vigil.timeutil import DAY_US, now_us, to_datetime, to_iso

# The looks at footage and evidence, by audit action, as the report names them.
ACCESSES = {
    "live.start": "live",
    "playback": "playback",
    "recordings.list": "timeline",
    "events.search": "event search",
    "event.view": "event",
    "snapshot.view": "snapshot",
    "export.open": "export opened",
    "export.download": "export taken",
}
HOLDS = {
    "hold.request": "requested",
    "hold.approve": "placed",
    "hold.refuse": "refused",
    "hold.release": "released",
    "hold.expire": "expired",
}
PAGE = 5000


def _records(engine: Engine, since_us: int, until_us: int) -> Iterator[AuditEntry]:
    after: int | None = None
    while page := read_records(engine, since_us, until_us, limit=PAGE, after_seq=after):
        yield from page
        after = page[-1].seq


def transparency(
    config: VigilConfig,
    engine: Engine,
    since_us: int,
    until_us: int,
    public_keys: Sequence[Ed25519PublicKey] | None = None,
) -> dict[str, Any]:
    """The report over [since, until) as a JSON-ready document."""
    accesses: Counter[tuple[str, str, str]] = Counter()
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    holds: Counter[str] = Counter()
    exports: dict[int, dict[str, Any]] = {}
    lifts: list[dict[str, Any]] = []
    refusals: Counter[tuple[str, str, str]] = Counter()
    erasures: dict[str, dict[str, Any]] = {}
    retention = {e["camera"]: e["retention_days"] for e in register.entries(config)}
    for record in _records(engine, since_us, until_us):
        detail = record.detail or {}
        if record.outcome in ("denied", "refused"):
            why = str(detail.get("why", ""))[:120]
            refusals[(record.action, record.outcome, why)] += 1
            continue
        if record.action in ACCESSES and record.outcome == "ok":
            cameras = record.cameras or ["(all in scope)"]
            for camera in cameras:
                accesses[(ACCESSES[record.action], record.role, camera)] += 1
                per_day[camera][to_datetime(record.at_us).date().isoformat()] += 1
        if record.reason and "case" in detail:
            text = record.reason.removeprefix(f"{detail['case']}: ")
            reasons[str(detail["case"])][text] += 1
        if record.action in HOLDS:
            holds[HOLDS[record.action]] += 1
        if record.action.startswith("export.") and "export" in detail:
            _export(exports, record, detail)
        if record.action.startswith("mask.lift"):
            lifts.append(
                {
                    "at": to_iso(record.at_us),
                    "actor": record.actor,
                    "action": record.action,
                    "cameras": list(record.cameras),
                    "reason": record.reason,
                }
            )
        if record.action == "retention.erase":
            _erasure(erasures, record, retention)
    checkpoints = read_checkpoints(engine, since_us, until_us)
    verified = verify(engine, public_keys)
    return {
        "title": "Vigil transparency report",
        "since": to_iso(since_us),
        "until": to_iso(until_us),
        "generated": to_iso(now_us()),
        "made_from": "the audit trail and the camera register only",
        "register": register.entries(config),
        "accesses": [
            {"kind": kind, "role": role, "camera": camera, "count": count}
            for (kind, role, camera), count in sorted(accesses.items())
        ],
        "accesses_per_day": {
            camera: dict(sorted(days.items())) for camera, days in sorted(per_day.items())
        },
        "reasons_by_case": {
            case: [{"reason": text, "count": n} for text, n in sorted(found.items())]
            for case, found in sorted(reasons.items())
        },
        "holds": {name: holds.get(name, 0) for name in HOLDS.values()},
        "exports": [exports[key] for key in sorted(exports)],
        "mask_lifts": lifts,
        "refusals": [
            {"action": action, "outcome": outcome, "why": why, "count": count}
            for (action, outcome, why), count in sorted(refusals.items())
        ],
        "erasures": [erasures[camera] for camera in sorted(erasures)],
        "checkpoints": [
            {"size": c.size, "at": to_iso(c.at_us), "key_id": c.key_id} for c in checkpoints
        ],
        "audit_verifies": {
            "ok": verified.ok,
            "records": verified.records,
            "checkpoints": verified.checkpoints,
            "signatures_checked": verified.signatures_checked,
            "first_problem": None
            if verified.first_problem is None
            else f"record #{verified.first_problem.seq}: {verified.first_problem.what}",
        },
    }


def _export(exports: dict[int, dict[str, Any]], record: AuditEntry, detail: Any) -> None:
    export = exports.setdefault(
        int(detail["export"]),
        {
            "export": int(detail["export"]),
            "camera": detail.get("camera"),
            "case": detail.get("case"),
            "redacted": detail.get("redacted"),
            "requested_by": None,
            "approved_by": None,
            "state": None,
            "taken": 0,
        },
    )
    match record.action:
        case "export.request":
            export["requested_by"] = record.actor
        case "export.approve":
            export["approved_by"] = record.actor
        case "export.download":
            export["taken"] += 1
        case "export.complete" | "export.failed" | "export.cancel" | "export.refuse":
            export["state"] = record.action.removeprefix("export.")
        case "export.expire":
            export["state"] = "expired"


def _erasure(erasures: dict[str, Any], record: AuditEntry, retention: dict[str, float]) -> None:
    for camera in record.cameras:
        found = erasures.setdefault(
            camera,
            {
                "camera": camera,
                "declared_retention_days": retention.get(camera),
                "passes": 0,
                "segments": 0,
                "bytes": 0,
                "rules": [],
                "early": [],
            },
        )
        found["passes"] += 1
        found["segments"] += int(record.detail.get("segments", 0))
        found["bytes"] += int(record.detail.get("bytes", 0))
        found["rules"] = sorted(set(found["rules"]) | set(record.detail.get("rules", [])))
        days = found["declared_retention_days"]
        if days is not None and record.until_us is not None:
            age_days = (record.at_us - record.until_us) / DAY_US
            if age_days < days:  # footage went before its declared retention: a deviation
                found["early"].append(
                    {
                        "at": to_iso(record.at_us),
                        "until": to_iso(record.until_us),
                        "age_days": round(age_days, 2),
                        "rules": record.detail.get("rules", []),
                    }
                )
