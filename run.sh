#!/usr/bin/env bash
# Set up (first time) and run Vigil. Without -c it records a demo camera from real footage.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh run
exec .venv/bin/vigil run "$@"
