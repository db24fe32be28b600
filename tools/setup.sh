#!/usr/bin/env bash
# Installs what Tallystick needs beyond the Swift toolchain: LMDB's headers and library
# (Debian's liblmdb-dev), Debian's nginx, which the end-to-end test starts in front of the
# server (tools/nginx/tallystick.conf; the test runs its own nginx on free loopback ports with
# a temporary prefix and never touches a system nginx service), and Debian's postgresql, whose
# initdb and server the PostgreSQL event-log tests and benchmark start in a temporary
# directory of their own (EventLogTestSupport/TemporaryPostgres.swift; a system cluster the
# package may create is never used). Sourced by tools/run and tools/test; safe to run
# repeatedly.
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

# Only the nginx binary is used; Debian's package may start its own service on port 80
# (policy-rc.d is not ours to change): the tests never talk to it.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "tallystick: installing nginx" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq nginx >/dev/null
    else
        echo "tallystick: nginx is missing; run: sudo apt-get install -y nginx" >&2
        exit 1
    fi
fi

# The binaries live in /usr/lib/postgresql/NN/bin, not on PATH; the tests find the newest.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "tallystick: installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq postgresql >/dev/null
    else
        echo "tallystick: PostgreSQL is missing; run: sudo apt-get install -y postgresql" >&2
        exit 1
    fi
fi
