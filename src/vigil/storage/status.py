"""Live camera states and alarms, written by the supervisor and read by `vigil status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

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
        """Store every camera's state in one transaction (one fsync, however many cameras)."""
        updated = now_us()
        # Only the supervisor writes here, so update-then-insert cannot race.
        with self.engine.begin() as connection:
            for camera, fields in states.items():
                values = {**fields, "updated_us": updated}
                done = connection.execute(
                    update(camera_status).where(camera_status.c.camera == camera).values(**values)
                )
                if done.rowcount == 0:
                    connection.execute(insert(camera_status).values(camera=camera, **values))

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
