"""Faults of the shared PostgreSQL store (issue #16, RELIABILITY.md): PostgreSQL restarted
under load, and one of two servers on one store killed under load while the other serves.

Each fault starts a throwaway PostgreSQL cluster of its own (Debian's `postgresql`, which
tools/setup.sh installs): `initdb` into a temporary directory, a server listening only on a
UNIX socket there, `fsync` on, run as the `postgres` user when the harness runs as root
(PostgreSQL refuses root). Stopped and removed at the end of the fault.
"""

import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

from firelib import (
    Failed,
    Server,
    admin_password,
    basic,
    bearer,
    check,
    cleanup,
    fault_paths,
    new_password,
    say,
    taler_error,
    verify,
)
from lifecycle import Minting, check_all_present, mint_parent, no_secrets, probe_tokens, wait_until


class Postgres:
    """A cluster in a temporary directory with one database, `fire`."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        if not found:
            raise Failed("PostgreSQL's initdb is missing; run tools/setup.sh (apt-get install postgresql)")
        self.bin = os.path.dirname(found[-1])
        self.directory = tempfile.mkdtemp(prefix="tallystick-fire-pg-")
        self.run_as = "postgres" if os.getuid() == 0 else None
        if self.run_as:
            account = pwd.getpwnam(self.run_as)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self.data = self.directory + "/data"
        self._run("initdb", "-D", self.data, "-U", "tallystick", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        self.start()
        self._run("psql", "-X", "-q", "-h", self.directory, "-U", "tallystick", "-d", "postgres",
                  "-c", "CREATE DATABASE fire", as_server=False)

    def url(self):
        return f"postgres://tallystick@/fire?host={self.directory}"

    def start(self):
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.directory}' "
                   "-c fsync=on -c synchronous_commit=on -c max_connections=200")
        self._run("pg_ctl", "-D", self.data, "-l", self.directory + "/server.log", "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self, mode="fast"):
        """`fast` is an operator's restart: sessions ended, open transactions rolled back."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self):
        subprocess.run(self._argv("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"),
                       capture_output=True, timeout=120)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _argv(self, program, *args, as_server=True):
        path = os.path.join(self.bin, program)
        prefix = ["/usr/sbin/runuser", "-u", self.run_as, "--"] if self.run_as and as_server else []
        return prefix + [path, *args]

    def _run(self, program, *args, as_server=True):
        result = subprocess.run(self._argv(program, *args, as_server=as_server), capture_output=True,
                                timeout=120)
        if result.returncode != 0:
            said = (result.stderr or result.stdout).decode().strip().splitlines()
            raise Failed(f"PostgreSQL: {program} exited {result.returncode}: {said[:1]}")


def unexpected(load, allowed=()):
    """The answers of `load` other than 200 and the `allowed` statuses with a Taler body."""
    return [(s, b[:200]) for s, b in load.failures if s not in allowed or taler_error(s, b)]


def restart(short):
    """PostgreSQL stopped and started again while clients mint through one server: while it
    is down every answer is 503 with a Taler error body (none hangs past the commit timeout,
    the connection stays open), nothing acknowledged is lost, and minting resumes without
    restarting Tallystick; `verify` passes after each round."""
    rounds = 1 if short else 3
    base, data_dir, output = fault_paths("pg-restart")
    postgres = Postgres()
    try:
        password, secrets = admin_password()
        store = postgres.url()
        extra = ["--store", store, "--key-dir", base + "/keys"]
        server = Server(data_dir, password, output, extra=extra).start()
        parent = mint_parent(server, secrets, password)
        minted = {}
        unavailable = 0
        for number in range(1, rounds + 1):
            load = Minting(server, parent, secrets, clients=8, tag=f"pg{number}")
            load.start()
            wait_until(lambda: load.count()[0] >= 100, 60, "mints before the restart")
            postgres.stop()
            refused = load.count()[1]
            wait_until(lambda: load.count()[1] >= refused + 8, 60, "answers while PostgreSQL is down")
            postgres.start()
            resumed = load.count()[0]
            wait_until(lambda: load.count()[0] >= resumed + 100, 120, "mints after PostgreSQL is back")
            load.finish()
            bad = unexpected(load, allowed=(503,))
            check(not bad, f"answers other than 200 or 503 with a Taler body: {bad[:3]}")
            check(load.errors == 0, f"{load.errors} connection(s) failed while PostgreSQL restarted")
            unavailable += len(load.failures)
            minted.update(load.minted)
            check_all_present(data_dir, minted, store=store)
            verify(data_dir, store=store)
            probe_tokens(server, list(load.minted.values())[-100:])
            say(f"fire postgres-restart: round {number}/{rounds}: {len(load.minted)} acknowledged, "
                f"{len(load.failures)} answered 503 while down, all kept")
        check(server.stop() == 0, "SIGTERM exit status")
        no_secrets(secrets, [data_dir, output])
    finally:
        postgres.destroy()
    cleanup(base)
    return (f"{rounds} PostgreSQL restart(s) under 8 minting clients: {unavailable} answers 503 with a "
            f"Taler body while down, minting resumed, {len(minted)} acknowledged mints kept, verify ok")


def kill_one(short):
    """Two servers on one store, each minting for an instance of its own (as when the proxy
    routes an instance's paths to one server, README "Several servers"); one SIGKILLed: the
    other keeps serving (every answer 200), every mint either acknowledged is in the log and
    valid, the killed one starts again on the same store, and `verify` passes."""
    rounds = 1 if short else 3
    base, _, _ = fault_paths("pg-kill")
    postgres = Postgres()
    try:
        password, secrets = admin_password()
        store = postgres.url()
        extra = ["--store", store, "--key-dir", base + "/keys"]
        a = Server(base + "/a", password, base + "/a.out", extra=extra).start()
        parent = mint_parent(a, secrets, password)
        shop_password = new_password()
        secrets.password("shop", shop_password)
        status, said = a.client().request(
            "POST", "/management/instances",
            {"Authorization": bearer(parent), "Content-Type": "application/json"},
            json.dumps({"id": "shop", "name": "Shop",
                        "auth": {"method": "token", "password": shop_password}}).encode())
        check(status == 204, f"creating shop: {status} {said[:200]!r}")
        b = Server(base + "/b", "not used", base + "/b.out", extra=extra).start()
        status, said = b.client().mint(basic("shop", shop_password), "all:refreshable",
                                       "fire shop parent", prefix="/instances/shop")
        check(status == 200, f"shop's parent on the second server: {status} {said[:200]!r}")
        shop_parent = json.loads(said)["access_token"]
        secrets.token(shop_parent)
        minted = {}
        kept = {}
        for number in range(1, rounds + 1):
            on_a = Minting(a, parent, secrets, clients=6, tag=f"a{number}")
            on_b = Minting(b, shop_parent, secrets, clients=6, tag=f"b{number}",
                           prefix="/instances/shop")
            on_a.start()
            on_b.start()
            wait_until(lambda: on_a.count()[0] >= 100 and on_b.count()[0] >= 100, 60,
                       "mints on both servers")
            a.signal(signal.SIGKILL)
            a.wait()
            on_a.finish()
            after = on_b.count()[0]
            wait_until(lambda: on_b.count()[0] >= after + 200, 60, "mints on the survivor")
            on_b.finish()
            check(not on_b.failures, f"the survivor answered {unexpected(on_b)[:3]}")
            check(on_b.errors == 0, f"{on_b.errors} connection(s) to the survivor failed")
            minted.update(on_a.minted)
            kept.update(on_b.minted)
            check_all_present(None, minted, store=store)
            check_all_present(None, kept, store=store, instance="shop")
            verify(None, store=store)
            a.start()
            probe_tokens(a, list(on_b.minted.values())[-100:], prefix="/instances/shop")
            say(f"fire postgres-kill-one: round {number}/{rounds}: {len(on_a.minted)} acknowledged "
                f"by the killed server, {len(on_b.minted)} by the survivor, all kept")
        check(a.stop() == 0 and b.stop() == 0, "SIGTERM exit status")
        no_secrets(secrets, [base])
    finally:
        postgres.destroy()
    cleanup(base)
    return (f"{rounds} SIGKILL(s) of one of two servers under load: the other kept minting with no "
            f"error, {len(minted) + len(kept)} acknowledged mints kept, verify ok")
