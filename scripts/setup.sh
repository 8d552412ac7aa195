#!/usr/bin/env bash
# Set up everything the workbench needs on a fresh Debian machine with Python 3.11:
# Debian's chromium (for the browser tests), a virtualenv in .venv with the exact
# versions of requirements.lock (plus requirements-reference.txt, the test-time
# reference ligo.skymap), and the package itself in editable mode.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing Debian's chromium for the browser tests"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    else
        echo "setup: chromium is missing and cannot be installed here (not root): browser tests will skip" >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.installed-$(cat requirements.lock requirements-reference.txt pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    echo "setup: installing pinned dependencies (requirements.lock)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r requirements.lock
    # ligo.skymap is a test-time reference (GPL): tests compare against it, code never imports it
    .venv/bin/python -m pip install -q -r requirements-reference.txt
    .venv/bin/python -m pip install -q --no-deps -e .
    rm -f .venv/.installed-*
    touch "$stamp"
fi
