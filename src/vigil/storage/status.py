"""Live camera states and alarms, written by the supervisor and read by `vigil status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from vigil.storage.schema import alarms, camera_status
from vigil.timeutil import now_us


@dataclass(frozen=True)
class Alarm:
    kind: str
    subject: str
    message: str
    raised_us: int


class StatusStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put_cameras(self, states: dict[str, dict[str, Any]]) -> None:
        """Store every camera's whole state in one transaction (one fsync, however many
        cameras); a field a state leaves out is cleared."""
        updated = now_us()
        fields = [c.name for c in camera_status.columns if c.name != "camera"]
        rows = [
            {"key": camera, **{f: state.get(f) for f in fields}, "updated_us": updated}
            for camera, state in states.items()
        ]
        # Two statements with bound values, each run once for all the cameras: compiling one
        # per camera, every few seconds, was most of the supervisor's CPU at a hundred cameras.
        # Only the supervisor writes here, so update-then-insert cannot race.
        with self.engine.begin() as connection:
            known = set(
                connection.scalars(
                    select(camera_status.c.camera).where(camera_status.c.camera.in_(states))
                )
            )
            changes = [row for row in rows if row["key"] in known]
            if changes:
                connection.execute(
                    update(camera_status)
                    .where(camera_status.c.camera == bindparam("key"))
                    .values({f: bindparam(f) for f in fields}),
                    changes,
                )
            if additions := [row for row in rows if row["key"] not in known]:
                connection.execute(
                    insert(camera_status),
                    [{"camera": row.pop("key"), **row} for row in additions],
                )

    def cameras(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as connection:
            return {
                row.camera: dict(row._mapping) for row in connection.execute(select(camera_status))
            }

    def raise_alarm(self, kind: str, subject: str, message: str) -> None:
        with self.engine.begin() as connection:
            done = connection.execute(
                update(alarms)
                .where(alarms.c.kind == kind, alarms.c.subject == subject)
                .values(message=message)
            )
            if done.rowcount == 0:
                connection.execute(
                    insert(alarms).values(
                        kind=kind, subject=subject, message=message, raised_us=now_us()
                    )
                )

    def clear_alarm(self, kind: str, subject: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                delete(alarms).where(alarms.c.kind == kind, alarms.c.subject == subject)
            )

    def alarms(self) -> list[Alarm]:
        with self.engine.connect() as connection:
            return [Alarm(**row._mapping) for row in connection.execute(select(alarms))]
