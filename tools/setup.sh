#!/usr/bin/env bash
# Installs what Tallystick needs beyond the Swift toolchain: LMDB's headers and library
# (Debian's liblmdb-dev). Sourced by tools/run and tools/test; safe to run repeatedly.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "tallystick: the Swift toolchain (6.2 or later) is not on PATH" >&2
    exit 1
fi

if ! pkg-config --exists lmdb 2>/dev/null || [ ! -f /usr/include/lmdb.h ]; then
    missing="liblmdb-dev pkg-config"
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "tallystick: installing $missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq $missing >/dev/null
    else
        echo "tallystick: LMDB is missing; run: sudo apt-get install -y $missing" >&2
        exit 1
    fi
fi
