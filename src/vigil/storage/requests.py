"""What the stores of two-person requests share (holds, exports, mask lifts): reading one
request (locked against a second approver at once), changing it, listing them, and the
two-person rule itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update

from vigil.errors import EvidenceError


def fetch(
    connection: Connection, table: Table, row_id: int, noun: str, *, lock: bool = False
) -> Mapping[str, Any]:
    """The request's row; EvidenceError(not_found) when there is none. With `lock`, PostgreSQL
    locks it: of two approvers at once, one waits, then sees the state the other left."""
    query = select(table).where(table.c.id == row_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise EvidenceError(f"{noun} {row_id} not found", "not_found")
    return row._mapping


def one(engine: Engine, table: Table, row_id: int) -> Mapping[str, Any] | None:
    """The request's row, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.id == row_id)).first()
    return None if row is None else row._mapping


def change(connection: Connection, table: Table, row_id: int, **values: Any) -> None:
    connection.execute(update(table).where(table.c.id == row_id).values(**values))


def found(
    engine: Engine, table: Table, case_reference: str | None, cameras: set[str] | None
) -> list[Mapping[str, Any]]:
    """The requests of a case and of cameras (None: any), newest first."""
    query = select(table).order_by(table.c.id.desc())
    if case_reference is not None:
        query = query.where(table.c.case_reference == case_reference)
    if cameras is not None:
        query = query.where(table.c.camera.in_(sorted(cameras)))
    with engine.connect() as connection:
        return [row._mapping for row in connection.execute(query)]


def second_person(
    noun: str, row_id: int, state: str, wanted: str, requester: str, user: str, verb: str
) -> None:
    """The two-person rule: the request is in the state `wanted`, and `user` is not the one
    who asked for it."""
    if state != wanted:
        raise EvidenceError(f"{noun} {row_id} is {state}; there is nothing to {verb}", "conflict")
    if requester == user:
        raise EvidenceError(
            f"{user} asked for this, so another account must {verb} {noun} {row_id} "
            "(two-person rule)",
            "forbidden",
        )
