"""Structured logging: one JSON object per line on stderr, carrying the camera name."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from vigil.redact import redact_text

# color_message: uvicorn's copy of the message with terminal colours, noise in a JSON log.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Last line of defence: a URL with credentials in any message, field or traceback.
        return redact_text(json.dumps(entry, default=str))


class CameraFilter(logging.Filter):
    """Stamps every record of a camera's process with that camera's name."""

    def __init__(self, camera: str) -> None:
        super().__init__()
        self.camera = camera

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "camera"):
            record.camera = self.camera
        return True


def setup_logging(level: str = "INFO", camera: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if camera is not None:
        handler.addFilter(CameraFilter(camera))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FFmpeg's own chatter (through PyAV) is noisy and carries no camera name.
    logging.getLogger("libav").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
