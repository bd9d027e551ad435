"""The one exception hierarchy of Vigil.

Every message names the camera, file or field concerned and says what to do.
"""

from vigil.redact import redact_text


class VigilError(Exception):
    """Base of every error Vigil raises on purpose."""


class ConfigError(VigilError):
    """The configuration file is missing, unreadable or invalid."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class StorageError(VigilError):
    """The recordings directory or the index cannot be used."""


class SourceError(VigilError):
    """A camera stream cannot be opened or read."""

    def __init__(self, camera: str, message: str) -> None:
        # The one place errors leave the media layer: FFmpeg echoes whole URLs, credentials
        # included, and these messages reach viewers, the log and `vigil status`.
        super().__init__(f"camera {camera!r}: {redact_text(message)}")
        self.camera = camera


class RecordingError(VigilError):
    """A segment cannot be written."""


class SourceOffline(SourceError):
    """The camera cannot be reached or stopped sending; it will be retried."""


class AuditError(VigilError):
    """An audit record cannot be written or the audit trail fails verification.

    Access that cannot be audited is refused (fail closed)."""


class AccessDenied(VigilError):
    """Authentication failed or the account may not do this."""


class EvidenceError(VigilError):
    """A case or hold request that cannot be carried out; `kind` says why, for the API's
    answer: not_found (404), conflict (409, its state does not allow it), forbidden (403, the
    two-person rule) or invalid (422)."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind
