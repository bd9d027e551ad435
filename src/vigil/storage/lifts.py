"""Lifting a camera's privacy masks for one look at footage (Milestone's liftable masks).

An account whose role may lift masks asks, with a case and a reason, for one camera and range.
When privacy.lift_approval is set the lift waits for a second account, never the requester;
either way it lasts at most privacy.lift_minutes and is used once, by the one who asked, for a
playback or an export of that range. Every step commits with its audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert

from vigil.errors import EvidenceError
from vigil.storage.evidence import Audit, open_case
from vigil.storage.requests import change, fetch, found, one, second_person
from vigil.storage.schema import mask_lifts
from vigil.timeutil import now_us, to_iso


@dataclass(frozen=True)
class Lift:
    id: int
    case_reference: str
    camera: str
    since_us: int
    until_us: int
    reason: str
    state: str
    requested_by: str
    requested_us: int
    approved_by: str | None
    approved_us: int | None
    expires_us: int
    used_for: str | None
    used_us: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.case_reference,
            "camera": self.camera,
            "since": to_iso(self.since_us),
            "until": to_iso(self.until_us),
            "reason": self.reason,
            "state": self.state,
            "requested_by": self.requested_by,
            "requested": to_iso(self.requested_us),
            "approved_by": self.approved_by,
            "approved": to_iso(self.approved_us),
            "expires": to_iso(self.expires_us),
            "used_for": self.used_for,
            "used": to_iso(self.used_us),
        }

    def record(self) -> dict[str, Any]:
        return {
            "lift": self.id,
            "case": self.case_reference,
            "camera": self.camera,
            "since": to_iso(self.since_us),
            "until": to_iso(self.until_us),
            "state": self.state,
        }


class LiftStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def request(
        self,
        case_reference: str,
        camera: str,
        span: tuple[int, int],
        reason: str,
        user: str,
        approval: bool,
        minutes: float,
        audit: Audit,
    ) -> Lift:
        since_us, until_us = span
        if until_us <= since_us:
            raise EvidenceError("a lift needs until after since")
        now = now_us()
        with self.engine.begin() as connection:
            open_case(connection, case_reference)
            row = {
                "case_reference": case_reference,
                "camera": camera,
                "since_us": since_us,
                "until_us": until_us,
                "reason": reason,
                "state": "requested" if approval else "active",
                "requested_by": user,
                "requested_us": now,
                "expires_us": now + int(minutes * 60_000_000),
            }
            lift_id = int(
                connection.execute(insert(mask_lifts).values(**row)).inserted_primary_key[0]
            )
            lift = _lift(connection, lift_id)
            audit(connection, "mask.lift.request", {**lift.record(), "why": reason})
            return lift

    def approve(self, lift_id: int, user: str, minutes: float, audit: Audit) -> Lift:
        """The second person; the lift then lasts `minutes` from now."""
        with self.engine.begin() as connection:
            lift = _lift(connection, lift_id, lock=True)
            second_person(
                "lift", lift_id, _state(lift), "requested", lift.requested_by, user, "approve"
            )
            now = now_us()
            _set(
                connection,
                lift_id,
                state="active",
                approved_by=user,
                approved_us=now,
                expires_us=now + int(minutes * 60_000_000),
            )
            lift = _lift(connection, lift_id)
            audit(connection, "mask.lift.approve", lift.record())
            return lift

    def use(
        self, lift_id: int, user: str, camera: str, span: tuple[int, int], what: str, audit: Audit
    ) -> Lift:
        """Spend the lift on one playback or export of `camera` within its range, by the one
        who asked for it; EvidenceError saying why it cannot be."""
        since_us, until_us = span
        with self.engine.begin() as connection:
            lift = _lift(connection, lift_id, lock=True)
            if lift.requested_by != user:
                raise EvidenceError(f"lift {lift_id} was asked for by another account", "forbidden")
            if lift.state != "active" or lift.expires_us <= now_us():
                raise EvidenceError(
                    f"lift {lift_id} is {_state(lift)}, not active: ask for a new one", "conflict"
                )
            if lift.camera != camera or since_us < lift.since_us or until_us > lift.until_us:
                raise EvidenceError(
                    f"lift {lift_id} covers camera {lift.camera!r} from {to_iso(lift.since_us)} "
                    f"to {to_iso(lift.until_us)}, not what was asked",
                    "forbidden",
                )
            _set(connection, lift_id, state="used", used_for=what, used_us=now_us())
            lift = _lift(connection, lift_id)
            audit(connection, "mask.lift.use", {**lift.record(), "for": what})
            return lift

    def list(self, cameras: set[str]) -> list[Lift]:
        return [Lift(**row) for row in found(self.engine, mask_lifts, None, cameras)]

    def get(self, lift_id: int) -> Lift | None:
        row = one(self.engine, mask_lifts, lift_id)
        return None if row is None else Lift(**row)


def _state(lift: Lift) -> str:
    return (
        "expired"
        if lift.state in ("requested", "active") and lift.expires_us <= now_us()
        else lift.state
    )


def _lift(connection: Connection, lift_id: int, *, lock: bool = False) -> Lift:
    return Lift(**fetch(connection, mask_lifts, lift_id, "lift", lock=lock))


def _set(connection: Connection, lift_id: int, **values: Any) -> None:
    change(connection, mask_lifts, lift_id, **values)
