"""Events: stored with their snapshots, linked to recordings, published on a bus and to MQTT."""

from pathlib import Path


def snapshots_dir(storage_path: Path) -> Path:
    """Where event snapshots live: <storage.path>/snapshots/<camera>/<YYYY-MM-DD>/."""
    return storage_path / "snapshots"
