#!/usr/bin/env bash
# Sets up what the fault harness needs beyond tools/setup.sh: e2fsprogs (mkfs.ext4, for the
# disk-full fault) from Debian, and a Python venv in .venv (git-ignored) with the packages of
# tools/fire/requirements.txt from PyPI. Sourced by tools/fire/run; safe to run repeatedly.
set -euo pipefail

if ! command -v python3 >/dev/null 2>&1; then
    echo "tallystick: python3 (3.10 or later, with venv) is needed by tools/fire" >&2
    exit 1
fi
command -v mkfs.ext4 >/dev/null 2>&1 || require_packages mkfs.ext4 e2fsprogs
if ! cmp -s tools/fire/requirements.txt .venv/fire-requirements.txt 2>/dev/null; then
    echo "tallystick: installing tools/fire/requirements.txt into .venv" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r tools/fire/requirements.txt >&2
    cp tools/fire/requirements.txt .venv/fire-requirements.txt
fi
