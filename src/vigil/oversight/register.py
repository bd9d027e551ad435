"""The public camera register: where the cameras are, why they record, on what basis, who
answers for them, how long footage is kept and which analytics run. No video, no snapshot,
no stream address: nothing in it opens footage.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping
from typing import Any, get_args

from vigil.config import CameraConfig, VigilConfig
from vigil.events.model import EventType

# Every event type Vigil can raise, as the register explains it to the public. The set is
# closed: a test fails if an event type is added without its line here.
ANALYTICS: Mapping[str, str] = {
    "intrusion": "intrusion: a person or vehicle entering a restricted area",
    "line_crossing": "line counts: people or vehicles crossing a line, counted by direction",
    "stopped_vehicle": "stopped vehicle: a vehicle stopping at a protected site",
    "unattended_object": "unattended object: a bag or object left alone",
    "tamper": "tamper: the camera covered, defocused or turned away",
    "camera_offline": "camera offline: the camera stops sending pictures",
}
FIELDS = ("site", "camera", "location", "purpose", "legal_basis", "operator", "signage",
          "recording", "retention_days", "privacy_masks", "analytics")  # fmt: skip


def analytics_of(camera: CameraConfig) -> list[str]:
    """The event types the camera's configuration raises, in ANALYTICS order."""
    running = {"camera_offline"}
    zones = camera.zones.values()
    if any(zone.intrusion for zone in zones):
        running.add("intrusion")
    if any(zone.stopped_vehicle for zone in zones):
        running.add("stopped_vehicle")
    if camera.lines:
        running.add("line_crossing")
    if camera.unattended_object:
        running.add("unattended_object")
    if camera.tamper:
        running.add("tamper")
    return [name for name in ANALYTICS if name in running]


def entry(name: str, camera: CameraConfig) -> dict[str, Any]:
    """One camera as the register publishes it (and as export manifests name it)."""
    return {
        "site": camera.site,
        "camera": name,
        "location": list(camera.location) if camera.location else None,
        "purpose": camera.purpose,
        "legal_basis": camera.legal_basis,
        "operator": camera.operator,
        "signage": camera.signage,
        "recording": camera.enabled,
        "retention_days": camera.retention_days,
        "privacy_masks": len(camera.privacy_masks),
        "analytics": analytics_of(camera),
    }


def entries(config: VigilConfig) -> list[dict[str, Any]]:
    """One entry per configured camera, by site and name."""
    found = [entry(name, camera) for name, camera in config.cameras.items()]
    return sorted(found, key=lambda e: (e["site"] or "", e["camera"]))


def as_json(config: VigilConfig) -> str:
    analytics = {name: ANALYTICS[name] for name in get_args(EventType)}
    return json.dumps({"cameras": entries(config), "analytics": analytics}, indent=2)


def as_csv(config: VigilConfig) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS)
    writer.writeheader()
    for entry in entries(config):
        location = entry["location"]
        writer.writerow({**entry, "location": "" if location is None else f"{location[0]} "
                         f"{location[1]}", "analytics": " ".join(entry["analytics"])})  # fmt: skip
    return out.getvalue()


def as_html(config: VigilConfig) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "<td>not stated</td>"
        if isinstance(value, bool):
            return f"<td>{'yes' if value else 'no'}</td>"
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        return f"<td>{html.escape(str(value))}</td>"

    heads = "".join(f"<th>{html.escape(f.replace('_', ' '))}</th>" for f in FIELDS)
    rows = []
    for entry in entries(config):
        shown = {**entry, "analytics": [ANALYTICS[a].split(":")[0] for a in entry["analytics"]]}
        rows.append("<tr>" + "".join(cell(shown[f]) for f in FIELDS) + "</tr>")
    explained = "".join(
        f"<li>{html.escape(text)}</li>" for text in (ANALYTICS[n] for n in get_args(EventType))
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Camera register</title></head><body>\n<h1>Camera register</h1>\n"
        "<p>Every camera this Vigil node records: where it is, why, on what legal basis, who "
        "is responsible, how long its footage is kept and which automatic analytics run. "
        "Vigil does no face recognition, plate reading, re-identification, crowd counting "
        "or inference of personal attributes.</p>\n"
        f'<table id="register"><thead><tr>{heads}</tr></thead><tbody>\n'
        + "\n".join(rows)
        + f"\n</tbody></table>\n<h2>The analytics</h2>\n<ul>{explained}</ul>\n</body></html>\n"
    )
