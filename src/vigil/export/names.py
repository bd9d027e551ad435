"""The names inside an export package and of the package itself (the offline verifier, which
must stand alone, repeats them; a test holds the two equal)."""

from __future__ import annotations

from pathlib import Path

FORMAT = "vigil-export-v1"
SIGNED_PREFIX = b"vigil-export-manifest-v1\n"  # the signature is over this and the manifest
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
KEY = "site-key.pem"
VERIFIER = "verify.py"
DERIVATIVE = "redacted.mp4"
SEGMENTS = "segments"


def package_name(export_id: int) -> str:
    return f"export-{export_id}"


def partial_dir(exports: Path, export_id: int) -> Path:
    """Where a package is built until it is sealed and renamed to its name."""
    return exports / f".{package_name(export_id)}.partial"
