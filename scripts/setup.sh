#!/usr/bin/env bash
# Set up everything carejourney needs on a fresh machine with only Python 3.11+.
# Idempotent: a second run re-uses .venv and only installs what changed.
#   scripts/setup.sh          the package with the web and dev extras in .venv
#   scripts/setup.sh --test   also Java 17 (Spark tests) and Debian's chromium (browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.carejourney-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing carejourney and its dependencies into .venv (about a minute the first time)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[web,spark,fhir,nlp,dev]"
  touch "$stamp"
fi
if [ "${1:-}" = "--test" ]; then
  need_apt=()
  ls /usr/lib/jvm/java-17-openjdk-*/bin/java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      echo "[setup] installing ${need_apt[*]} from Debian"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
      echo "[setup] cannot install ${need_apt[*]} (needs root and apt-get); Spark/browser tests will be skipped"
    fi
  fi
fi
