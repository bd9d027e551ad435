#!/usr/bin/env bash
# Set up (first time) and run every test against real components.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
