"""What Vigil will never do, named so that a configuration asking for it is refused with a
message saying so, rather than an "unknown key" that invites a fix.

Not behind a flag, a plugin or an option: no face recognition or matching, no re-identifying
or following a person across cameras, no gait or other biometric identification, no
inference of gender, age, ethnicity, religion or emotion, no crowd, gathering or protest
detection (headcount alerts included), no plate reading, no watchlists. Detecting a person
or a face, to cover it in exports or to raise the events in the register, is allowed.
"""

from __future__ import annotations

_CAPABILITIES = {
    "face recognition": ("face_recognition", "facial_recognition", "face_matching",
                         "face_match", "face_id", "face_search", "faces_known"),
    "plate reading": ("plate_reading", "plate_recognition", "lpr", "alpr", "anpr",
                      "licence_plate", "license_plate", "licence_plates", "license_plates"),
    "re-identification": ("reid", "re_id", "re_identification", "reidentification",
                          "person_reid", "cross_camera_tracking", "follow_person", "gait",
                          "gait_recognition", "biometrics"),
    "crowd counting alerts": ("crowd", "crowd_count", "crowd_counting", "crowd_detection",
                              "headcount", "head_count", "gathering", "gatherings",
                              "protest", "protest_detection", "occupancy_alert"),
    "demographic attributes": ("demographics", "age", "age_estimation", "gender",
                               "ethnicity", "race", "religion", "emotion", "emotions",
                               "sentiment", "attributes"),
    "watchlists": ("watchlist", "watchlists", "blacklist", "hotlist"),
}  # fmt: skip
FORBIDDEN = {key: capability for capability, keys in _CAPABILITIES.items() for key in keys}


def refused(key: str) -> str | None:
    """The capability a configuration key asks for that Vigil does not provide, or None."""
    return FORBIDDEN.get(key.strip().lower().replace("-", "_").replace(" ", "_"))
