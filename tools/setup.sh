#!/usr/bin/env bash
# Installs what Tallystick needs beyond the Swift toolchain: LMDB's headers and library
# (Debian's liblmdb-dev), Debian's nginx, which the end-to-end test starts in front of the
# server (tools/nginx/tallystick.conf; the test runs its own nginx on free loopback ports with
# a temporary prefix and never touches a system nginx service), and Debian's postgresql, whose
# initdb and server the PostgreSQL event-log tests and benchmark start in a temporary
# directory of their own (EventLogTestSupport/TemporaryPostgres.swift; a system cluster the
# package may create is never used), and Debian's chromium, which the audit report's test
# runs headless on a report (no display; the page's policy refuses any request) and
# screenshots into .build/. Sourced by tools/run and tools/test; safe to run repeatedly.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "tallystick: the Swift toolchain (6.2 or later) is not on PATH" >&2
    exit 1
fi

# require_packages "WHAT" PACKAGE...: installs Debian's PACKAGEs when running as root with
# apt-get, else stops with the command that would. Callers test first whether WHAT is there.
require_packages() {
    local what=$1
    shift
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "tallystick: installing $*" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "tallystick: $what is missing; run: sudo apt-get install -y $*" >&2
        exit 1
    fi
}

if ! pkg-config --exists lmdb 2>/dev/null || [ ! -f /usr/include/lmdb.h ]; then
    require_packages LMDB liblmdb-dev pkg-config
fi

# Only the nginx binary is used; Debian's package may start its own service on port 80
# (policy-rc.d is not ours to change): the tests never talk to it.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    require_packages nginx nginx
fi

# The binaries live in /usr/lib/postgresql/NN/bin, not on PATH; the tests find the newest.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    require_packages PostgreSQL postgresql
fi

# Only run headless by the tests, with a temporary profile; never as anyone's browser.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    require_packages Chromium chromium
fi
