"""Detector benchmark: the detector service's throughput against raw ONNX Runtime.

    .venv/bin/python benchmarks/detector.py [--images 120] [--clients 1,2,4] [--model PATH]

Pictures: frames of vtest.avi (real footage), letterboxed to the model's 416x416 input.
Raw: `session.run` alone over the prepared inputs, one intra-op thread, run by as many threads
at once as the service has workers (one per core, its default), no pre/post-processing: the
limit. Service: the detector service as a separate process (as `vigil run` starts it) with
K client processes (as K cameras) each sending one picture per request, back to back; its
images/s include transport, letterboxing and decoding. Raw is measured before and after the
service runs and averaged, because run-to-run noise on a shared 2-core machine is about ±15%.
Target: service / raw >= 0.8.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Barrier
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.detector import start_detector_service
from vigil.analytics.detection.base import open_session
from vigil.analytics.detection.service import DetectorClient
from vigil.analytics.detection.yolox import YoloxDetector
from vigil.settings.detector import DetectorSettings

SHARED = Path(os.environ.get("VIGIL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
VIDEO = SHARED / "data" / "vtest.avi"
MODEL = SHARED / "models" / "yolox_nano.onnx"
WARMUP = 5


def letterboxed_frames(detector: YoloxDetector, count: int) -> list[np.ndarray]:
    """`count` frames spread over the clip, as the 416x416 BGR pictures the model sees."""
    capture = cv2.VideoCapture(str(VIDEO))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    pictures = []
    for index in np.linspace(0, total - 1, count).astype(int):
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"{VIDEO}: cannot read frame {index}")
        blob = detector.prepare(frame).blob
        pictures.append(np.ascontiguousarray(blob[0].transpose(1, 2, 0).astype(np.uint8)))
    return pictures


def raw_throughput(detector: YoloxDetector, pictures: list[np.ndarray], workers: int) -> float:
    blobs = [detector.prepare(p).blob for p in pictures]
    feed = detector.input_name

    def run(share: list[np.ndarray]) -> None:
        for blob in share:
            detector.session.run(None, {feed: blob})

    run(blobs[:WARMUP])
    with ThreadPoolExecutor(workers) as pool:
        start = time.perf_counter()
        list(pool.map(run, [blobs[i::workers] for i in range(workers)]))
        return len(blobs) / (time.perf_counter() - start)


def camera(address: Path, pictures: list[np.ndarray], barrier: Barrier) -> None:
    client = DetectorClient(address, timeout=60)
    for picture in pictures[:WARMUP]:
        client.detect([picture])
    barrier.wait()
    for picture in pictures:
        client.detect([picture])


def service_throughput(address: Path, pictures: list[np.ndarray], clients: int) -> float:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(clients + 1)
    shares = [pictures[i::clients] for i in range(clients)]
    processes = [context.Process(target=camera, args=(address, share, barrier)) for share in shares]
    for process in processes:
        process.start()
    barrier.wait()
    start = time.perf_counter()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a client process failed with exit code {process.exitcode}")
    return len(pictures) / (time.perf_counter() - start)


def start_service(address: Path, model: Path, workers: int) -> subprocess.Popen[bytes]:
    return start_detector_service(address, model, threads=1, workers=workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=120, help="pictures per measurement")
    parser.add_argument("--clients", default="1,2,4", help="client process counts to try")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--workers", type=int, default=DetectorSettings().workers)
    args = parser.parse_args()
    detector = YoloxDetector(open_session(args.model, threads=1))
    pictures = letterboxed_frames(detector, args.images)
    size = f"{detector.width}x{detector.height}"
    print(f"model {args.model.name}, input {size}, {len(pictures)} frames of {VIDEO.name}, "
          f"1 intra-op thread, {args.workers} worker(s), {os.cpu_count()} cores")  # fmt: skip
    raw_before = raw_throughput(detector, pictures, args.workers)
    print(f"raw ONNX Runtime (before): {raw_before:6.1f} images/s")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        address = Path(tmp) / "detector.sock"
        service = start_service(address, args.model, args.workers)
        try:
            for clients in (int(k) for k in args.clients.split(",")):
                results[clients] = service_throughput(address, pictures, clients)
                print(f"service, {clients} client process(es): {results[clients]:6.1f} images/s")
        finally:
            service.terminate()
            service.wait(timeout=10)
    raw_after = raw_throughput(detector, pictures, args.workers)
    raw = (raw_before + raw_after) / 2
    print(f"raw ONNX Runtime (after):  {raw_after:6.1f} images/s; mean {raw:.1f} images/s")
    print("clients  service images/s  service/raw")
    for clients, rate in results.items():
        verdict = "ok" if rate / raw >= 0.8 else "BELOW TARGET 0.8"
        print(f"{clients:>7}  {rate:>16.1f}  {rate / raw:>11.2f}  {verdict}")


if __name__ == "__main__":
    main()
