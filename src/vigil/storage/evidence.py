"""Cases and holds: an investigation, and the footage it keeps from deletion.

A hold is placed by two people: one requests it (camera, range, case, reason, expiry), a
second account approves it, and never the requester. Only then are the segments it covers
flagged `hold`, which retention never deletes (by age, for free space or in events mode).
Releasing a hold takes the same two people; a hold also ends by itself at its expiry. When a
hold ends, its segments keep their flag only while another hold still covers them.

Every change commits with its audit record (`audit(connection, action, hold_or_case)`), so a
hold is never in force, or ended, without the record of who did it and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, select, update

from vigil.errors import EvidenceError
from vigil.storage.requests import change, fetch, found, one, second_person
from vigil.storage.schema import HOLDS_IN_FORCE as IN_FORCE
from vigil.storage.schema import cases, holds, segments
from vigil.timeutil import now_us, to_iso

# Writes the audit record of a change in its transaction; returns the record's place (seq).
Audit = Callable[[Connection, str, Mapping[str, Any]], int | None]


@dataclass(frozen=True)
class Case:
    reference: str
    title: str
    description: str
    opened_by: str
    opened_us: int
    state: str
    closed_by: str | None
    closed_us: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "title": self.title,
            "description": self.description,
            "opened_by": self.opened_by,
            "opened": to_iso(self.opened_us),
            "state": self.state,
            "closed_by": self.closed_by,
            "closed": to_iso(self.closed_us),
        }


@dataclass(frozen=True)
class Hold:
    id: int
    case_reference: str
    camera: str
    since_us: int
    until_us: int
    reason: str
    expires_us: int
    state: str
    requested_by: str
    requested_us: int
    approved_by: str | None
    approved_us: int | None
    release_requested_by: str | None
    release_reason: str | None
    ended_by: str | None
    ended_us: int | None

    def to_json(self, held_bytes: int | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "case": self.case_reference,
            "camera": self.camera,
            "since": to_iso(self.since_us),
            "until": to_iso(self.until_us),
            "reason": self.reason,
            "expires": to_iso(self.expires_us),
            "state": self.state,
            "requested_by": self.requested_by,
            "requested": to_iso(self.requested_us),
            "approved_by": self.approved_by,
            "approved": to_iso(self.approved_us),
            "release_requested_by": self.release_requested_by,
            "release_reason": self.release_reason,
            "ended_by": self.ended_by,
            "ended": to_iso(self.ended_us),
        }
        if held_bytes is not None:
            document["held_bytes"] = held_bytes
        return document

    def record(self) -> dict[str, Any]:
        """What its audit records carry."""
        return {"hold": self.id, "case": self.case_reference, "camera": self.camera,
                "since": to_iso(self.since_us), "until": to_iso(self.until_us),
                "state": self.state, "expires": to_iso(self.expires_us)}  # fmt: skip


class CaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open(self, reference: str, title: str, description: str, user: str, audit: Audit) -> Case:
        row = {"reference": reference, "title": title, "description": description,
               "opened_by": user, "opened_us": now_us(), "state": "open"}  # fmt: skip
        with self.engine.begin() as connection:
            if _case(connection, reference) is not None:
                raise EvidenceError(f"case {reference!r} exists already; choose another "
                                    "reference or add to that case", "conflict")  # fmt: skip
            connection.execute(insert(cases).values(**row))
            case = _case(connection, reference)
            assert case is not None
            audit(connection, "case.open", {"case": reference, "title": title})
        return case

    def get(self, reference: str) -> Case | None:
        with self.engine.connect() as connection:
            return _case(connection, reference)

    def list(self, state: str | None = None) -> list[Case]:
        query = select(cases).order_by(cases.c.opened_us.desc())
        if state is not None:
            query = query.where(cases.c.state == state)
        with self.engine.connect() as connection:
            return [Case(**row._mapping) for row in connection.execute(query)]

    def close(self, reference: str, user: str, audit: Audit) -> Case:
        """Close an open case; its holds stay until they are released or expire."""
        with self.engine.begin() as connection:
            case = open_case(connection, reference)
            connection.execute(
                update(cases).where(cases.c.reference == case.reference)
                .values(state="closed", closed_by=user, closed_us=now_us())
            )  # fmt: skip
            audit(connection, "case.close", {"case": reference})
            closed = _case(connection, reference)
        assert closed is not None
        return closed


class HoldStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def request(
        self,
        case_reference: str,
        camera: str,
        since_us: int,
        until_us: int,
        reason: str,
        expires_us: int,
        user: str,
        audit: Audit,
    ) -> Hold:
        now = now_us()
        if until_us <= since_us:
            raise EvidenceError("a hold needs until after since")
        if until_us > now:
            raise EvidenceError(
                f"a hold covers footage already recorded; until {to_iso(until_us)} is in the "
                "future: request it again once the footage exists"
            )
        if expires_us <= now:
            raise EvidenceError("the hold's expiry must be in the future")
        with self.engine.begin() as connection:
            open_case(connection, case_reference)
            row = {"case_reference": case_reference, "camera": camera, "since_us": since_us,
                   "until_us": until_us, "reason": reason, "expires_us": expires_us,
                   "state": "requested", "requested_by": user, "requested_us": now}  # fmt: skip
            hold_id = connection.execute(insert(holds).values(**row)).inserted_primary_key[0]
            hold = _hold(connection, int(hold_id))
            audit(connection, "hold.request", hold.record())
        return hold

    def approve(self, hold_id: int, user: str, audit: Audit) -> Hold:
        """The second person: the hold takes effect and its segments are kept."""
        with self.engine.begin() as connection:
            hold = _hold(connection, hold_id, lock=True)
            _second_person(hold, hold.requested_by, user, "approve", "requested")
            if hold.expires_us <= now_us():
                raise EvidenceError(f"hold {hold_id} expired before it was approved; request "
                                    "it again", "conflict")  # fmt: skip
            _set(connection, hold_id, state="active", approved_by=user, approved_us=now_us())
            _flag(connection, hold)
            hold = _hold(connection, hold_id)
            audit(connection, "hold.approve", hold.record())
        return hold

    def refuse(self, hold_id: int, user: str, audit: Audit) -> Hold:
        with self.engine.begin() as connection:
            hold = _hold(connection, hold_id, lock=True)
            _second_person(hold, hold.requested_by, user, "refuse", "requested")
            _set(connection, hold_id, state="refused", ended_by=user, ended_us=now_us())
            hold = _hold(connection, hold_id)
            audit(connection, "hold.refuse", hold.record())
        return hold

    def request_release(self, hold_id: int, reason: str, user: str, audit: Audit) -> Hold:
        with self.engine.begin() as connection:
            hold = _hold(connection, hold_id, lock=True)
            if hold.state != "active":
                raise EvidenceError(f"hold {hold_id} is {hold.state}; only an active hold can "
                                    "be released", "conflict")  # fmt: skip
            _set(connection, hold_id, state="release_requested", release_requested_by=user,
                 release_reason=reason)  # fmt: skip
            hold = _hold(connection, hold_id)
            audit(connection, "hold.release_request", {**hold.record(), "why": reason})
        return hold

    def approve_release(self, hold_id: int, user: str, audit: Audit) -> Hold:
        with self.engine.begin() as connection:
            hold = _hold(connection, hold_id, lock=True)
            requester = hold.release_requested_by or ""
            _second_person(hold, requester, user, "approve the release of", "release_requested")
            _set(connection, hold_id, state="released", ended_by=user, ended_us=now_us())
            _unflag(connection, hold)
            hold = _hold(connection, hold_id)
            audit(connection, "hold.release", hold.record())
        return hold

    def expire(self, audit: Audit, at_us: int | None = None) -> list[Hold]:
        """End every hold whose expiry has passed; each ends with its own audit record."""
        at_us = now_us() if at_us is None else at_us
        due = select(holds.c.id).where(holds.c.state.in_(IN_FORCE), holds.c.expires_us <= at_us)
        ended = []
        with self.engine.connect() as connection:
            ids = list(connection.execute(due).scalars())
        for hold_id in ids:
            with self.engine.begin() as connection:
                hold = _hold(connection, hold_id, lock=True)
                if hold.state not in IN_FORCE:
                    continue  # released meanwhile
                _set(connection, hold_id, state="expired", ended_by="vigil", ended_us=at_us)
                _unflag(connection, hold)
                hold = _hold(connection, hold_id)
                audit(connection, "hold.expire", hold.record())
                ended.append(hold)
        return ended

    def get(self, hold_id: int) -> Hold | None:
        row = one(self.engine, holds, hold_id)
        return None if row is None else Hold(**row)

    def list(
        self, case_reference: str | None = None, cameras: set[str] | None = None
    ) -> list[Hold]:
        return [Hold(**row) for row in found(self.engine, holds, case_reference, cameras)]

    def held_bytes(self, hold: Hold) -> int:
        """The bytes of the stored segments the hold covers."""
        query = select(func.coalesce(func.sum(segments.c.bytes), 0)).where(_covers(hold))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def cases_in_force(self) -> list[str]:
        """The cases whose holds keep footage now (for the storage alarm)."""
        query = (
            select(holds.c.case_reference).where(holds.c.state.in_(IN_FORCE)).distinct()
            .order_by(holds.c.case_reference)
        )  # fmt: skip
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())


def _case(connection: Connection, reference: str) -> Case | None:
    row = connection.execute(select(cases).where(cases.c.reference == reference)).first()
    return None if row is None else Case(**row._mapping)


def open_case(connection: Connection, reference: str) -> Case:
    case = _case(connection, reference)
    if case is None:
        raise EvidenceError(f"case {reference!r} not found; open it first", "not_found")
    if case.state != "open":
        raise EvidenceError(f"case {reference!r} is closed; open a new case", "conflict")
    return case


def _hold(connection: Connection, hold_id: int, *, lock: bool = False) -> Hold:
    return Hold(**fetch(connection, holds, hold_id, "hold", lock=lock))


def _second_person(hold: Hold, requester: str, user: str, verb: str, state: str) -> None:
    second_person("hold", hold.id, hold.state, state, requester, user, verb)


def _set(connection: Connection, hold_id: int, **values: Any) -> None:
    change(connection, holds, hold_id, **values)


def _covers(hold: Hold) -> Any:
    return and_(
        segments.c.camera == hold.camera,
        segments.c.start_us < hold.until_us,
        segments.c.end_us > hold.since_us,
    )


def _flag(connection: Connection, hold: Hold) -> None:
    connection.execute(update(segments).where(_covers(hold)).values(hold=True))


def _unflag(connection: Connection, hold: Hold) -> None:
    """Clear the flag of the hold's segments that no other hold in force still covers."""
    other = holds.alias("other")
    still_held = exists().where(
        other.c.id != hold.id,
        other.c.state.in_(IN_FORCE),
        other.c.camera == segments.c.camera,
        other.c.since_us < segments.c.end_us,
        other.c.until_us > segments.c.start_us,
    )
    connection.execute(update(segments).where(_covers(hold), ~still_held).values(hold=False))
