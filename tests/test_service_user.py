"""`./run.sh` started as root runs Vigil as the `vigil` system user, so what it records belongs
to that user alone: another account (`nobody`, a web server's) can read no segment, no
snapshot and no password hash."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.assets import absent
from support.vigil import wait_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def vigil_home() -> Iterator[tuple[Path, pwd.struct_passwd]]:
    if os.geteuid() != 0:
        absent("run.sh is tested started as root; this run is not root")
    subprocess.run([ROOT / "scripts" / "setup.sh", "run"], check=True, timeout=600)
    account = pwd.getpwnam("vigil")  # setup made it
    # Outside the suite's temporary directory, which is root's alone.
    home = Path(tempfile.mkdtemp(prefix="vigil-home-", dir="/tmp"))
    os.chown(home, account.pw_uid, account.pw_gid)
    try:
        yield home, account
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_run_sh_as_root_records_as_the_vigil_user(
    vigil_home: tuple[Path, pwd.struct_passwd],
) -> None:
    home, account = vigil_home
    assert account.pw_shell == "/usr/sbin/nologin" and account.pw_uid < 1000, "a system user"
    log = (home / "run.log").open("wb")
    process = subprocess.Popen(
        [ROOT / "run.sh"], cwd=ROOT, env={**os.environ, "VIGIL_HOME": str(home)},
        stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        storage = home / "storage"
        wait_for("a demo segment", lambda: list(storage.rglob("*.ts")), 120)
        owners = {p.lstat().st_uid for p in [storage, *storage.rglob("*")]}
        assert owners == {account.pw_uid}, "everything Vigil made is the vigil user's"
        # `nobody` can neither list the storage nor read the index or a segment.
        for path in [storage, storage / "vigil.db", next(storage.rglob("*.ts"))]:
            probe = subprocess.run(
                ["runuser", "-u", "nobody", "--", "cat" if path.is_file() else "ls", path],
                capture_output=True, timeout=30,
            )  # fmt: skip
            assert probe.returncode != 0 and b"Permission denied" in probe.stderr, path
        modes = {p.lstat().st_mode & 0o7777 for p in [storage, *storage.rglob("*")]}
        assert modes <= {0o700, 0o600}, f"{sorted(oct(m) for m in modes)}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(60)
        log.close()
    assert code == 0, (home / "run.log").read_text()[-2000:]
