#!/usr/bin/env bash
# Set up everything the tests need (incl. Java 17 and chromium), then run the whole suite.
#   scripts/test.sh [pytest options…]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
j17=$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -n1 || true)
if [ -n "$j17" ]; then export JAVA_HOME="$j17"; fi
export SPARK_LOCAL_IP=127.0.0.1
exec .venv/bin/python -m pytest -n 2 -p no:cacheprovider "$@"
