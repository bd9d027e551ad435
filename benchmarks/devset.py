"""The development set: every clip in $VIGIL_SHARED/data/real and what happens in it.

The ground truth is transcribed from that folder's README, which was read by eye from the
footage; nothing here was chosen by looking at what Vigil does. Times are seconds from the
clip's start, boxes are normalised (x0, y0, x1, y1).

A `Truth` is an event that should be raised: `moment` is when the alert becomes due (an
object's owner has gone; a tamper has begun), `until` the last moment a raise still counts
for it (after that the situation is over). A raise of that type between `moment - EARLY` and
`until` that overlaps `box` (when given) matches it. An `optional` truth is one the clip's
README says may or may not alarm with this dwell: matching it is neither credit nor blame.
Every other raise of a scored type is a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EARLY = 2.0  # seconds a raise may precede the ground-truth moment (by-eye times are rough)
SCORED = ("unattended_object", "tamper")


@dataclass(frozen=True)
class Truth:
    type: str
    moment: float
    until: float
    box: tuple[float, float, float, float] | None = None
    reason: str | None = None  # for tamper: covered, moved, defocused
    optional: bool = False
    what: str = ""


@dataclass(frozen=True)
class Clip:
    path: str  # under data/real, or ../vtest.avi
    scene: str
    truths: tuple[Truth, ...] = ()
    # The camera keeps sending its last picture when a tamper lasts to the end of the clip.
    hold_last_s: float = 0.0
    # The picture as the camera made it, where the file stores it otherwise.
    true_size: tuple[int, int] | None = None
    # Events the scene should raise beyond the scored ones (informational).
    expects: dict[str, str] = field(default_factory=dict)


HOLD = 10.0

CLIPS: tuple[Clip, ...] = (
    Clip(
        "abandoned_backpack_indoor.mp4",
        "indoor lobby: a backpack put down, both people walk away",
        (Truth("unattended_object", 490 / 29.97, 41.3, (0.20, 0.67, 0.30, 0.77),
               what="backpack left on the floor"),),
    ),
    Clip(
        "abandon_ilids_avss07_platform_suitcase.mp4",
        "i-LIDS railway platform: a suitcase set down, owner beside it, then gone, then back",
        (Truth("unattended_object", 107.0, 180.0, (0.21, 0.47, 0.29, 0.64),
               what="suitcase unattended 107-178 s"),),
    ),
    Clip(
        "abandon_pets2006_cam3_backpack_stretched.mp4",
        "PETS 2006 concourse: a backpack put down at a barrier, owner walks off",
        (Truth("unattended_object", 35.0, 50.3, (0.43, 0.34, 0.48, 0.40),
               what="backpack unattended from 35 s"),),
        true_size=(720, 576),
    ),
    Clip(
        "putdown_pickup_plaza_red_cup.mp4",
        "outdoor plaza: a small cup put down and picked up again, never left long",
        (Truth("unattended_object", 147.0, 158.5, (0.53, 0.67, 0.555, 0.73), optional=True,
               what="cup alone 137-158.5 s: a 10 s dwell may alarm"),),
    ),
    Clip(
        "tamper_occlusion.mp4",
        "parked motorbikes: bubble wrap pulled across the lens",
        (Truth("tamper", 70 / 29.97, 4.32 + HOLD, reason="covered", what="lens covered"),),
        hold_last_s=HOLD,
    ),
    Clip(
        "tamper_hallway_ir_spray_turned.mp4",
        "night IR hallway: spray on the lens, then the camera turned to the ceiling",
        (Truth("tamper", 64.5, 99.2 + HOLD, what="sprayed, then turned away"),),
        hold_last_s=HOLD,
    ),
    Clip(
        "tamper_outdoor_stairs_camera_moved.mp4",
        "outdoor stairs: the camera swung to a new view",
        (Truth("tamper", 13.3, 18.4 + HOLD, reason="moved", what="camera moved"),),
        hold_last_s=HOLD,
    ),
    Clip(
        "tamper_ladder_hand_covers_lens.mp4",
        "a man on a ladder fills the view, then his hand covers the lens",
        (Truth("tamper", 8.1, 9.3 + HOLD, reason="covered", what="hand over the lens"),),
        hold_last_s=HOLD,
    ),
    Clip("shopfront_cctv.mp4", "shop door CCTV, compressed, a person near the end",
         expects={"intrusion": "person"}),
    Clip("indoor_people.mp4", "indoor, people walk up to a table one at a time",
         expects={"intrusion": "person"}),
    Clip("motorway_cctv.avi", "motorway CCTV: cars, vans, a lorry, a pedestrian",
         expects={"intrusion": "car"}),
    Clip("../vtest.avi", "pedestrians in a hall", expects={"intrusion": "person"}),
)  # fmt: skip

# One configuration for every clip: the general one.
GENERAL = {
    "analysis": {"fps": 5},
    "tamper": True,
    "unattended_object": {"seconds": 10},
    "zones": {
        "frame": {
            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "intrusion": {"objects": ["person", "car", "truck", "bus", "motorcycle", "bicycle"]},
        }
    },
}  # fmt: skip
