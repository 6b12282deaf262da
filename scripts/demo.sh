#!/usr/bin/env bash
# The main job: set up, then synthesise a health system, ingest it, analyse it, write the report.
#   scripts/demo.sh [FOLDER] [carejourney demo options…]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/carejourney demo "${@:-demo}"
