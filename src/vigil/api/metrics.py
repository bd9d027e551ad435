"""Prometheus metrics, written out by hand: a dozen series do not need a client library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from vigil.storage.report import status_report

if TYPE_CHECKING:
    from vigil.api.context import ApiContext

STATES = ("online", "offline", "error", "starting", "stopped", "disabled")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{{{labels}}} {value}" for labels, value in samples]
    return lines


def vigil_processes() -> dict[int, str]:
    """The supervisor (this API's parent) and every process under it, by role; the cameras
    are the launcher's children."""
    parent = os.getppid()
    found = {parent: "supervisor", os.getpid(): "api"}
    parents = [parent]
    while parents:
        pid = parents.pop()
        for child in _children(pid):
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").split()
            except OSError:
                continue
            words = [a.decode(errors="replace") for a in argv]
            if "vigil.runtime.camera" in words:
                found[child] = f"camera:{words[-1]}"
            elif "vigil.analytics.detection.service" in words:
                found[child] = "detector"
            elif "vigil.runtime.launcher" in words:
                found[child] = "launcher"
                parents.append(child)
            elif child not in found:
                found[child] = "api" if "vigil.api.server" in words else "other"
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _process_usage(pid: int) -> tuple[float, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    return cpu_s, int(statm[1]) * PAGE_SIZE


def render_metrics(context: ApiContext) -> str:
    report = status_report(context.config, context.engine)["cameras"]
    lines: list[str] = []
    state = [
        (f'camera="{_label(n)}",state="{s}"', 1.0 if c["state"] == s else 0.0)
        for n, c in report.items()
        for s in STATES
    ]
    lines += _series("vigil_camera_state", "gauge", "1 for the camera's current state", state)
    per_camera = (
        ("vigil_camera_fps", "frames per second received", lambda c: c["fps"]),
        ("vigil_camera_bitrate_bps", "bits per second received", lambda c: c["bitrate"]),
        ("vigil_camera_recorded_bytes", "bytes of recordings kept", lambda c: c["bytes"]),
        ("vigil_camera_recorded_segments", "segments kept", lambda c: c["segments"]),
        (
            "vigil_camera_analysis_lag_seconds",
            "seconds from a picture to its analysis",
            lambda c: (c["analysis"] or {}).get("lag"),
        ),
    )
    for name, help_text, value_of in per_camera:
        samples = [
            (f'camera="{_label(n)}"', float(v))
            for n, c in report.items()
            if (v := value_of(c)) is not None
        ]
        lines += _series(name, "gauge", help_text, samples)
    cpu, memory = [], []
    for pid, role in sorted(vigil_processes().items()):
        usage = _process_usage(pid)
        if usage is not None:
            labels = f'process="{_label(role)}",pid="{pid}"'
            cpu.append((labels, round(usage[0], 2)))
            memory.append((labels, float(usage[1])))
    lines += _series("vigil_process_cpu_seconds_total", "counter", "CPU time used", cpu)
    lines += _series("vigil_process_resident_bytes", "gauge", "resident memory", memory)
    return "\n".join(lines) + "\n"
