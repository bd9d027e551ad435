"""What some tests need that a fresh clone may lack: the shared assets beside the repository
(`../shared`, or `VIGIL_SHARED`: the YOLOX model and real footage with ground truth, never
committed), a browser, root.

Outside CI such a test is skipped with a one-line reason naming what is missing. In CI
(`CI=true`, which `.ci/run` sets) it fails instead: there, nothing may be skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VIGIL_SHARED", ROOT.parent / "shared"))
MODEL = SHARED / "models" / "yolox_nano.onnx"
REAL = SHARED / "data" / "real"
MOT17 = REAL / "MOT17-mini"
SHARED_HINT = "a shared asset: set VIGIL_SHARED to the folder that holds models/ and data/"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def absent(reason: str) -> NoReturn:
    """Skip the test for `reason`, or fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI runs every test: nothing may be skipped)", pytrace=False)
    pytest.skip(reason)


def needs(*paths: Path, hint: str = SHARED_HINT) -> pytest.MarkDecorator:
    """Mark a test that needs these files or folders; checked before its fixtures are set up
    (tests/conftest.py), so a missing one costs nothing."""
    return pytest.mark.needs(*paths, hint=hint)


def check_needs(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        missing = [str(p) for p in mark.args if not Path(p).exists()]
        if missing:
            absent(f"{', '.join(missing)} missing: {mark.kwargs.get('hint', SHARED_HINT)}")


def clips(*paths: Path) -> list[object]:
    """Parameters for a test run over each clip, each needing its own file."""
    return [pytest.param(path, marks=needs(path), id=path.name) for path in paths]
