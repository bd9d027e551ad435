"""What may enter the audit trail: printable text of bounded size, whatever a caller sent.

Names and reasons come from requests. Stored as sent, one account could grow the trail by
megabytes a second or write terminal escapes into an overseer's report, and an over-long value
would make the record unwritable and so refuse the access. So every text field is cut to a
bound and every non-printable character is written as its escape (\\n, \\x1b, \\u202e); a
record that was altered says which fields in `detail["cleaned"]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.audit.log import AuditRecord

LIMITS = {"actor": 64, "role": 64, "action": 48, "outcome": 16, "source": 64, "reason": 600}
CAMERA_LIMIT = 64  # a camera name is at most 63 characters; more is not a camera
CAMERAS_LIMIT = 256  # names in one record
DETAIL_TEXT_LIMIT = 2000  # the longest note the API accepts
ELLIPSIS = "…"


def _text(value: str, limit: int) -> str:
    escaped = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value
    )
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + ELLIPSIS


def _detail(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value, DETAIL_TEXT_LIMIT)
    if isinstance(value, Mapping):
        return {_text(str(k), CAMERA_LIMIT): _detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_detail(v) for v in value]
    return value


def clean(record: AuditRecord) -> AuditRecord:
    """The record as it may be stored."""
    changes: dict[str, Any] = {}
    for name, limit in LIMITS.items():
        value = getattr(record, name)
        if isinstance(value, str) and (stored := _text(value, limit)) != value:
            changes[name] = stored
    cameras = [_text(c, CAMERA_LIMIT) if isinstance(c, str) else c for c in record.cameras]
    if len(cameras) > CAMERAS_LIMIT:
        cameras = [*cameras[: CAMERAS_LIMIT - 1], ELLIPSIS]
    if cameras != list(record.cameras):
        changes["cameras"] = cameras
    detail = _detail(dict(record.detail))
    if detail != dict(record.detail):
        changes["detail"] = detail
    if not changes:
        return record
    detail = dict(changes.get("detail", record.detail))
    detail["cleaned"] = sorted(changes)
    return replace(record, **{**changes, "detail": detail})
