#!/usr/bin/env bash
# Set up (first time) and run Vigil. Without -c it records a demo camera from real footage.
# Started as root, Vigil runs as the `vigil` system user, which owns its storage.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh run
if [ "$(id -u)" -ne 0 ]; then
  exec .venv/bin/vigil run "$@"
fi
export VIGIL_HOME="${VIGIL_HOME:-/var/lib/vigil/demo}" HOME=/var/lib/vigil
# setpriv execs in place (runuser would stay as a parent and cut a slow clean stop short).
as_vigil=(setpriv --reuid=vigil --regid=vigil --init-groups --)
if ! "${as_vigil[@]}" test -x .venv/bin/vigil; then
  echo "run.sh: the vigil user cannot run $PWD/.venv/bin/vigil; clone Vigil where it can" \
    "read it (e.g. /opt/vigil) or start run.sh as an ordinary user" >&2
  exit 1
fi
exec "${as_vigil[@]}" .venv/bin/vigil run "$@"
