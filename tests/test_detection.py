"""Object detection on real footage: YOLOX, the HOG fallback, the YOLOv8 decoder, the service."""

from __future__ import annotations

import logging
import multiprocessing
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.assets import MODEL, MOT17, REAL, needs
from support.detector import start_detector_service
from support.media import source_video
from support.mot17 import frames_with_truth, match
from vigil.analytics.detection import models
from vigil.analytics.detection.base import Prepared, letterbox
from vigil.analytics.detection.factory import adapter_of, choose_model, load_detector
from vigil.analytics.detection.hog import HogPeopleDetector
from vigil.analytics.detection.service import (
    DetectorClient,
    DetectorService,
    DetectorTimeout,
    DetectorUnavailable,
    receive,
    send,
)
from vigil.analytics.detection.ssd import SsdMobilenetDetector
from vigil.analytics.detection.yolov8 import decode_yolov8
from vigil.analytics.detection.yolox import YoloxDetector
from vigil.analytics.types import Detection
from vigil.box import Box
from vigil.coco import COCO_CLASSES, VEHICLES
from vigil.settings.detector import DetectorSettings

VTEST = source_video()
INDOOR = REAL / "indoor_people.mp4"


def frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    found = []
    for index in indices:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        assert ok, f"{path}: no frame {index}"
        found.append(frame)
    capture.release()
    return found


@pytest.fixture(scope="module")
def yolox() -> YoloxDetector:
    detector = load_detector(DetectorSettings(model=str(MODEL)))
    assert isinstance(detector, YoloxDetector)
    return detector


@needs(MODEL, MOT17)
def test_yolox_person_precision_and_recall_on_mot17(yolox: YoloxDetector) -> None:
    true = false = total = 0
    for image, wanted, ignored in frames_with_truth(MOT17):
        (found,) = yolox.detect([cv2.imread(str(image))], classes=["person"])
        t, f = match(found, wanted, ignored)
        true, false, total = true + t, false + f, total + len(wanted)
    precision, recall = true / max(1, true + false), true / max(1, total)
    print(f"MOT17-mini persons at score {yolox.score}: precision {precision:.3f}, "
          f"recall {recall:.3f} ({true} of {total}, {false} false)")  # fmt: skip
    # 1080p letterboxed to 416 loses people under ~40 px tall: recall is modest by design.
    assert precision >= 0.7
    assert recall >= 0.35


@needs(MODEL)
def test_yolox_finds_the_people_in_vtest(yolox: YoloxDetector) -> None:
    pictures = frames(VTEST, list(range(0, 500, 50)))
    found = yolox.detect(pictures)
    people = [sum(d.label == "person" for d in per) for per in found]
    assert min(people) >= 1, people
    assert np.mean(people) >= 4, people
    height, width = pictures[0].shape[:2]
    for per in found:
        for d in per:
            assert 0 <= d.box.x1 < d.box.x2 <= width and 0 <= d.box.y1 < d.box.y2 <= height
            assert d.score >= yolox.score
    only = yolox.detect(pictures[:2], classes=["person"])
    assert all(d.label == "person" for per in only for d in per)
    assert [len(p) for p in only] == [people[0], people[1]]


@needs(MODEL, INDOOR)
def test_hog_fallback_finds_people_that_yolox_also_sees(yolox: YoloxDetector) -> None:
    hog = HogPeopleDetector()
    for path, index in ((VTEST, 50), (INDOOR, 300)):
        (frame,) = frames(path, [index])
        (people,) = hog.detect([frame])
        (reference,) = yolox.detect([frame], classes=["person"])
        assert people, f"{path.name} frame {index}: HOG found nobody"
        assert any(p.box.iou(r.box) >= 0.3 for p in people for r in reference), path.name
    assert hog.detect([frame], classes=["car"]) == [[]]


def test_yolov8_decode_on_a_synthetic_output() -> None:
    # No YOLOv8 model is available offline, so the decoder is checked on a tensor laid out
    # as the export's: (4 + 80) x N, cx cy w h in input pixels, then class scores.
    picture = np.zeros((360, 640, 3), np.uint8)
    canvas, scale, pad = letterbox(picture, 640, 640, centre=True)
    assert (scale, pad) == (1.0, (0, 140))
    assert (canvas[:140] == 114).all() and (canvas[500:] == 114).all()
    assert (canvas[140:500] == 0).all()
    prepared = Prepared(canvas[None], scale, pad, (640, 360))
    rows = [  # cx, cy, w, h, class, score
        (100, 240, 40, 80, 0, 0.9),  # a person
        (102, 242, 40, 80, 0, 0.8),  # the same person again: suppressed
        (104, 240, 40, 80, 2, 0.7),  # a car on the same spot: another class, kept
        (400, 300, 20, 20, 0, 0.1),  # below the operating point
    ]
    output = np.zeros((84, len(rows)), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        output[:4, i] = cx, cy, w, h
        output[4 + cls, i] = score
    labels = [f"c{i}" for i in range(80)]
    labels[:3] = ["person", "bicycle", "car"]
    found = decode_yolov8(output, prepared, labels, score=0.3, nms_iou=0.45)
    assert [(d.label, round(d.score, 2)) for d in found] == [("person", 0.9), ("car", 0.7)]
    assert found[0].box == Box(80.0, 60.0, 120.0, 140.0)  # the 140 px of top padding removed
    only = decode_yolov8(output, prepared, labels, 0.3, 0.45, class_ids=np.array([0]))
    assert [d.label for d in only] == ["person"]


@needs(MODEL)
def test_factory_picks_yolox_when_present() -> None:
    found = load_detector(DetectorSettings(models_dir=MODEL.parent))
    assert isinstance(found, YoloxDetector) and adapter_of(found.session) == "yolox"
    choice = choose_model(DetectorSettings(models_dir=MODEL.parent))
    assert (choice.name, choice.fallback) == ("yolox-nano", False)


def test_without_yolox_the_installed_ssd_then_hog_with_advice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh install has no YOLOX file: it detects with the CNN its packages brought, and
    only without that too with HOG. Each fallback says why and what to do."""
    caplog.set_level(logging.WARNING, logger="vigil.analytics.detection.factory")
    missing = tmp_path / "absent.onnx"
    assert isinstance(load_detector(DetectorSettings(model=str(missing))), SsdMobilenetDetector)
    assert isinstance(load_detector(DetectorSettings(models_dir=tmp_path)), SsdMobilenetDetector)
    monkeypatch.setattr(models, "packaged_dir", lambda _package: None)
    assert isinstance(load_detector(DetectorSettings(models_dir=tmp_path)), HogPeopleDetector)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    assert str(missing) in warnings[0] and "SSD-MobileNet-v2" in warnings[0]
    assert str(tmp_path / "yolox_nano.onnx") in warnings[1] and "weaker" in warnings[1]
    assert "HOG" in warnings[2] and "vigil models pull yolox-nano" in warnings[2]


def test_the_installed_ssd_finds_people_and_keeps_to_the_classes_asked() -> None:
    ssd = load_detector(DetectorSettings(model="ssd-mobilenet-v2"))
    assert isinstance(ssd, SsdMobilenetDetector)
    pictures = frames(VTEST, list(range(0, 500, 50)))
    found = ssd.detect(pictures)
    people = [sum(d.label == "person" for d in per) for per in found]
    # vtest: three to eight people walk through every sampled picture.
    assert min(people) >= 2 and np.mean(people) >= 4, people
    height, width = pictures[0].shape[:2]
    for per in found:
        for d in per:
            assert 0 <= d.box.x1 < d.box.x2 <= width and 0 <= d.box.y1 < d.box.y2 <= height
            assert d.score >= ssd.score and d.label in COCO_CLASSES
    assert [d.label for d in found[0]] != [], "some picture has boxes to compare"
    only = ssd.detect(pictures[:3], classes=["person"])
    assert [len(p) for p in only] == people[:3]
    assert ssd.detect(pictures[:1], classes=["car"]) == [[d for d in found[0] if d.label == "car"]]
    assert ssd.detect([]) == []


@needs(REAL / "motorway_cctv.avi")
def test_the_installed_ssd_finds_vehicles_on_the_motorway() -> None:
    ssd = load_detector(DetectorSettings(model="ssd-mobilenet-v2"))
    pictures = frames(REAL / "motorway_cctv.avi", list(range(0, 200, 25)))
    vehicles = [sum(d.label in VEHICLES for d in per) for per in ssd.detect(pictures)]
    assert sum(vehicles) >= len(pictures), vehicles


# --- the detector service -------------------------------------------------------------------


def start_service(address: Path) -> subprocess.Popen[bytes]:
    return start_detector_service(address, MODEL, timeout=30)


def stop_service(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    address = tmp_path / "detector.sock"
    process = start_service(address)
    yield address, process
    if process.poll() is None:
        stop_service(process)


def detect_in_client(address: Path, pictures: list[np.ndarray]) -> list[list[Detection]]:
    """What a camera process does: its own client, its own connection."""
    return DetectorClient(address, timeout=30).detect(pictures)


def same(a: list[list[Detection]], b: list[list[Detection]]) -> bool:
    def key(per: list[list[Detection]]) -> list[list[tuple[object, ...]]]:
        return [
            [(d.label, round(d.score, 4), round(d.box.x1, 2), round(d.box.y2, 2)) for d in p]
            for p in per
        ]

    return key(a) == key(b)


@needs(MODEL)
def test_service_answers_two_camera_processes_like_the_detector_in_process(
    yolox: YoloxDetector, service: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    address, _ = service
    pictures = frames(VTEST, [0, 100, 200])
    crops = [pictures[0][100:400, 200:600].copy(), pictures[1]]  # a crop and a whole frame
    expected = yolox.detect(pictures)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        answers = pool.starmap(detect_in_client, [(address, pictures), (address, pictures)])
    assert all(same(answer, expected) for answer in answers)
    assert same(DetectorClient(address).detect(crops, timeout=30), yolox.detect(crops))
    in_process = DetectorService(yolox)
    try:
        assert same(in_process.detect(pictures, timeout=30), expected)
    finally:
        in_process.close()


@needs(MODEL)
def test_client_survives_a_service_restart(
    tmp_path: Path, service: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    address, process = service
    (picture,) = frames(VTEST, [0])
    client = DetectorClient(address, timeout=30)
    before = client.detect([picture])
    stop_service(process)
    with pytest.raises(DetectorUnavailable, match=r"detector\.sock"):
        client.detect([picture])
    restarted = start_service(address)
    try:
        assert same(client.detect([picture]), before)
    finally:
        stop_service(restarted)


@needs(MODEL)
def test_timeouts_raise_and_leave_the_client_usable(
    yolox: YoloxDetector, service: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    address, _ = service
    (picture,) = frames(VTEST, [0])
    client = DetectorClient(address)
    with pytest.raises(DetectorTimeout, match="the frame is dropped"):
        client.detect([picture] * 8, timeout=0.001)
    assert same(client.detect([picture], timeout=30), yolox.detect([picture]))
    in_process = DetectorService(yolox)
    try:
        with pytest.raises(DetectorTimeout):
            in_process.detect([picture] * 8, timeout=0.001)
    finally:
        in_process.close()


@needs(MODEL)
def test_service_survives_a_client_hanging_up_mid_request(
    service: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    address, process = service
    (picture,) = frames(VTEST, [0])
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(address))
        send(raw, b'{"timeout": 5, "classes": null, "shapes": [[576, 768], [576, 768]]}')
        send(raw, picture.tobytes())  # the second crop never comes
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(address))
        send(raw, b"not json")
        assert b"bad request" in receive(raw)
    assert DetectorClient(address, timeout=30).detect([picture])[0]
    assert process.poll() is None
