"""The exporter: a child of the supervisor that makes export packages, one job at a time.

`python -m vigil.export.worker CONFIG`. A job left running by a crash or a stop is taken up
first and resumes; a cancelled job's partial directory is removed. The detector is loaded at
the first redacted export, in this process, so recording and live analysis never wait for it.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading

from vigil.analytics.detection.factory import load_detector
from vigil.audit import open_audit_log
from vigil.config import VigilConfig, load_config
from vigil.errors import VigilError
from vigil.export.package import PackageBuilder
from vigil.export.redaction import RedactionSettings, Redactor
from vigil.lifeline import start_child
from vigil.storage.database import connect, migrate
from vigil.storage.exports import ExportStore
from vigil.storage.layout import Layout, fsync_dir
from vigil.timeutil import DAY_US, now_us

log = logging.getLogger(__name__)

POLL_S = 1.0
ENDED = ("expired", "cancelled", "failed", "refused")  # states whose files are removed


class Exporter:
    def __init__(self, config: VigilConfig) -> None:
        engine = connect(config.database_url())
        migrate(engine)
        self.config = config
        self.stopping = threading.Event()
        self.store = ExportStore(engine)
        self.layout = Layout(config.storage.path)
        self._redactor: Redactor | None = None
        self.builder = PackageBuilder(
            config, open_audit_log(config, engine), self.redactor, self.stopping.is_set
        )

    def redactor(self) -> Redactor:
        if self._redactor is None:
            detector = load_detector(self.config.detector, self.config.storage.path)
            self._redactor = Redactor(detector, RedactionSettings(self.config.evidence.redact_fps))
        return self._redactor

    def run_once(self) -> bool:
        """Work on the next job; False when there was none."""
        self._tidy()
        job = self.store.next_job()
        if job is None:
            return False
        log.info("export started", extra={"camera": job.camera, "export": job.id})
        finished = self.builder.build(job)
        if finished is not None:
            log.info(
                "export finished",
                extra={"camera": job.camera, "export": job.id, "state": finished.state},
            )
        return True

    def run(self) -> None:
        while not self.stopping.is_set():
            if not self.run_once():
                self.stopping.wait(POLL_S)

    def _tidy(self) -> None:
        """Expire packages past evidence.export_days, and remove what expired, cancelled and
        failed jobs left behind (a package, or a partial directory)."""
        keep_us = int(self.config.evidence.export_days * DAY_US)
        for job in self.store.expire(now_us() - keep_us, self.builder.audit):
            log.info("export package expired after evidence.export_days",
                     extra={"camera": job.camera, "export": job.id})  # fmt: skip
        if not self.layout.exports.is_dir():
            return
        for path in self.layout.exports.glob("*export-*"):
            number = path.name.removeprefix(".").removeprefix("export-").split(".")[0]
            job = self.store.get(int(number)) if number.isdigit() else None
            # A job it cannot name is left alone: nothing is deleted that is not accounted for.
            if job is not None and job.state in ENDED:
                shutil.rmtree(path, ignore_errors=True)
                fsync_dir(self.layout.exports)


def main(argv: list[str]) -> int:
    config = start_child(argv, "vigil.export.worker")
    if config is None:
        return 0
    try:
        exporter = Exporter(load_config(config))
    except VigilError as exc:
        log.error("the exporter cannot start", extra={"error": str(exc)})
        return 2
    signal.signal(signal.SIGTERM, lambda *_: exporter.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: exporter.stopping.set())
    exporter.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
