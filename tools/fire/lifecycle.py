"""Faults of the server's surroundings: a full disk, a full map and its growth, a log of
another format version, a second server on one data directory, SIGTERM under load."""

import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time

from firelib import (
    kill_all,
    cleanup,
    Failed,
    Server,
    basic,
    bearer,
    binary,
    check,
    parallel,
    say,
    taler_error,
    temporary_directory,
    tokens_in_log,
    tool,
    verify,
    admin_password,
    child_setup,
    fault_paths,
)


class Minting(threading.Thread):
    """`clients` threads minting with one parent token until stopped; keeps every 200 (its
    description and token) and every other answer."""

    def __init__(self, server, parent, secrets, clients=4, tag="load", prefix=""):
        super().__init__(daemon=True)
        self.prefix = prefix  # "/instances/ID" to mint for an instance other than admin
        self.server = server
        self.parent = parent
        self.secrets = secrets
        self.clients = clients
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.minted = {}
        self.failures = []  # (status, body) of every answer other than 200
        self.errors = 0  # connection failures

    def run(self):
        workers = [threading.Thread(target=self.client, args=(i,)) for i in range(self.clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    def client(self, number):
        client = self.server.client(timeout=20)
        n = 0
        while not self.stop.is_set():
            n += 1
            description = f"fire {self.tag} c{number} n{n}"
            try:
                status, body = client.mint(bearer(self.parent), "readonly", description, prefix=self.prefix)
            except Exception:
                with self.lock:
                    self.errors += 1
                if not self.server.alive():
                    return
                continue
            if status == 200:
                token = body.split(b'"access_token":"', 1)[1].split(b'"', 1)[0].decode()
                self.secrets.token(token)
                with self.lock:
                    self.minted[description] = token
            else:
                with self.lock:
                    self.failures.append((status, body))
        client.close()

    def count(self):
        with self.lock:
            return len(self.minted), len(self.failures)

    def finish(self):
        self.stop.set()
        self.join(timeout=60)
        check(not self.is_alive(), "a load client hung")


def mint_parent(server, secrets, password, description="fire parent"):
    client = server.client()
    status, body = client.mint(basic("admin", password), "all:refreshable", description)
    client.close()
    check(status == 200, f"parent mint: {status} {body[:200]!r}")
    token = body.split(b'"access_token":"', 1)[1].split(b'"', 1)[0].decode()
    secrets.token(token)
    return token


def check_all_present(data_dir, minted, store=None, instance="admin"):
    statuses, _ = tokens_in_log(data_dir, store)
    lost = [d for d in minted if statuses.get((instance, d)) != "valid"]
    check(not lost, f"{len(lost)} acknowledged mint(s) lost or not valid, e.g. {lost[:3]}")


def probe_tokens(server, tokens, expected=200, prefix=""):
    def probe(token):
        status, _ = server.client().request(
            "GET", prefix + "/private/tokens?limit=1", {"Authorization": bearer(token)}
        )
        return None if status == expected else f"{status}"

    failures = parallel(tokens, probe)
    check(not failures, f"{len(failures)} token check(s) failed: {failures[:3]}")


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise Failed(f"timed out after {timeout} s waiting for {what}")


def serve_once(data_dir, password, extra=(), file_limit=None):
    """Runs `tallystick serve` on `data_dir` expecting it to refuse to start: its exit status
    and everything it printed."""
    run = subprocess.run(
        [binary("tallystick"), "serve", "--port", "0", "--data-dir", data_dir, *extra],
        capture_output=True, timeout=60,
        env={**os.environ, "TALER_MERCHANT_PASSWORD": password},
        preexec_fn=child_setup(file_limit=file_limit),
    )
    return run.returncode, (run.stdout + run.stderr).decode()


def no_secrets(secrets, paths):
    leaks = secrets.find_in(paths)
    check(not leaks, f"secrets found: {leaks}")


# MARK: disk full


def disk_full(short):
    """The data directory on a 32 MiB ext4 image, loop-mounted; a filler file takes the free
    space while clients mint."""
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        raise Failed("needs root and mkfs.ext4 (e2fsprogs) to loop-mount an ext4 image")
    base = temporary_directory("diskfull")
    image, mount = base + "/fs.img", base + "/mnt"
    os.mkdir(mount)
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", image], check=True)
    mounted = subprocess.run(["mount", "-o", "loop", image, mount], capture_output=True)
    if mounted.returncode != 0:
        raise Failed(f"mount -o loop failed: {mounted.stderr.decode().strip()}")
    try:
        return _disk_full(short, base, mount)
    finally:
        kill_all()  # a server left running by a failed check would keep the mount busy
        subprocess.run(["umount", mount], capture_output=True)
        cleanup(base)


def fill(path):
    """Writes zeros to `path` until the filesystem is full; the bytes written."""
    written = 0
    with open(path, "wb") as f:
        for size in (1 << 20, 64 << 10, 4 << 10):
            chunk = b"\0" * size
            while True:
                try:
                    f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                    written += size
                except OSError as error:
                    check(error.errno == errno.ENOSPC, f"filler: {error}")
                    break
    return written


def _disk_full(short, base, mount):
    data_dir = mount + "/data"
    output = base + "/server.out"
    password, secrets = admin_password()
    server = Server(data_dir, password, output, log_level="debug").start()
    parent = mint_parent(server, secrets, password)
    load = Minting(server, parent, secrets, tag="diskfull")
    load.start()
    wait_until(lambda: load.count()[0] >= 200, 60, "200 mints before filling")
    cycles = 1 if short else 3
    failures = []
    for cycle in range(1, cycles + 1):
        written = fill(mount + "/filler")
        wait_until(lambda: len(load.failures) >= len(failures) + 20, 60, "mints to fail on the full disk")
        acknowledged_when_full = load.count()[0]
        with load.lock:
            failures = list(load.failures)
        bad = [(s, b[:200]) for s, b in failures if s != 500 or taler_error(s, b)]
        check(not bad, f"answers other than a Taler 500 on a full disk: {bad[:3]}")
        codes = {json.loads(b)["code"] for _, b in failures}
        hints = {json.loads(b)["hint"] for _, b in failures}
        check(codes == {54}, f"codes on a full disk: {codes}")
        check(all("disk is full" in h for h in hints), f"hints on a full disk: {hints}")
        check(server.alive(), "the server died on a full disk")
        client = server.client()
        check(client.request("GET", "/config")[0] == 200, "GET /config failed on a full disk")
        first = next(iter(load.minted.values()))
        status, _ = client.request("GET", "/private/tokens?limit=1", {"Authorization": bearer(first)})
        check(status == 200, f"a token minted before the disk filled: {status} on a full disk")
        client.close()
        os.remove(mount + "/filler")
        wait_until(lambda: load.count()[0] >= acknowledged_when_full + 100, 60, "mints after freeing space")
        say(f"fire disk-full: cycle {cycle}/{cycles}: {written >> 20} MiB filler, {len(failures)} 500s so far, minting again")
    load.finish()
    minted = dict(load.minted)
    check(load.errors == 0, f"{load.errors} connection failure(s) during the run")
    check_all_present(data_dir, minted)
    verify(data_dir)
    status = server.stop()
    check(status == 0, f"SIGTERM exit status {status}")
    server.start()
    check_all_present(data_dir, minted)
    probe_tokens(server, list(minted.values())[:: max(1, len(minted) // 300)])
    check(server.stop() == 0, "second SIGTERM exit status")
    no_secrets(secrets, [data_dir, output])
    return (
        f"filled a 32 MiB ext4 loop mount {cycles} time(s) under 4 minting clients: "
        f"{len(failures)} mints answered 500 code 54 'the event log's disk is full', GET /config "
        f"and token checks kept answering, {len(minted)} acknowledged mints all kept; after "
        f"removing the filler, minting resumed without a restart; log verified; no secret found"
    )


# MARK: map full and growth


def map_full(short):
    """A 256 KiB map that may grow to 1 MiB: minting grows it twice, then fails with a clear
    500 while everything else keeps working; a restart with a larger maximum serves again."""
    base, data_dir, output = fault_paths("mapfull")
    password, secrets = admin_password()
    backwards = ["--map-size", str(2 << 20), "--max-map-size", str(1 << 20)]
    status, printed = serve_once(data_dir, password, backwards)
    check(status != 0 and "map-size (2097152 bytes) is larger than max-map-size (1048576 bytes)"
          in printed, f"a map size above its maximum was not refused: {status} {printed[-300:]!r}")
    check(not os.path.exists(data_dir + "/data.mdb"), "the refused start created a log")
    sizes = ["--map-size", str(256 << 10), "--max-map-size", str(1 << 20)]
    server = Server(data_dir, password, output, extra=sizes).start()
    parent = mint_parent(server, secrets, password)
    load = Minting(server, parent, secrets, tag="mapfull")
    load.start()
    wait_until(lambda: load.count()[1] >= 20, 120, "mints to fail on a full map")
    check(server.alive(), "the server died on a full map")
    client = server.client()
    check(client.request("GET", "/config")[0] == 200, "GET /config failed on a full map")
    load.finish()
    minted = dict(load.minted)
    failures = list(load.failures)
    bad = [(s, b[:200]) for s, b in failures if s != 500 or taler_error(s, b)]
    check(not bad, f"answers other than a Taler 500 on a full map: {bad[:3]}")
    hints = {json.loads(b)["hint"] for _, b in failures}
    check(hints == {"the event log reached its configured maximum size"}, f"hints: {hints}")
    size = os.path.getsize(data_dir + "/data.mdb")
    check(size > 512 << 10, f"data.mdb is {size} bytes: the map did not grow past 512 KiB")
    check(server.stop() == 0, "SIGTERM exit status on a full map")
    check_all_present(data_dir, minted)
    verify(data_dir)
    server.extra = ["--max-map-size", str(4 << 20)]
    server.start()
    status, _ = server.client().mint(bearer(parent), "readonly", "fire after growth")
    check(status == 200, f"mint after raising the maximum: {status}")
    probe_tokens(server, list(minted.values())[:: max(1, len(minted) // 200)])
    check(server.stop() == 0, "SIGTERM exit status")
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return (
        f"map 256 KiB growing to at most 1 MiB: {len(minted)} mints acknowledged while it grew "
        f"(data.mdb {size >> 10} KiB), then {len(failures)} answered 500 code 54 'reached its "
        f"configured maximum size' while GET /config kept answering; restart with 4 MiB serves; "
        f"a map size above its maximum is refused at start"
    )


# MARK: format versions


def old_format(short):
    """A log whose format marker says 0 (older than any this build reads) or 3 (newer) is
    refused by the server and the tools with a message naming both versions, and is not
    changed. (Format 1, the previous one, is upgraded by a writable open: EventLogTests.)"""
    try:
        import lmdb  # from PyPI, in the fire venv
    except ImportError:
        raise Failed("needs the Python lmdb package: run tools/fire/run (it sets up the venv)")
    base, data_dir, output = fault_paths("format")
    password, secrets = admin_password()
    server = Server(data_dir, password, output).start()
    mint_parent(server, secrets, password)
    check(server.stop() == 0, "SIGTERM exit status")
    results = []
    for version in (0, 3):
        copy = f"{base}/v{version}"
        shutil.copytree(data_dir, copy)
        os.remove(copy + "/writer.lock") if os.path.exists(copy + "/writer.lock") else None
        env = lmdb.open(copy, max_dbs=8, subdir=True, map_size=64 << 20)
        meta = env.open_db(b"meta", create=False)
        with env.begin(write=True, db=meta) as txn:
            txn.put(b"format", version.to_bytes(4, "little"))
        env.close()
        before = hashlib.sha256(open(copy + "/data.mdb", "rb").read()).hexdigest()
        expected = f"log format version {version} is not supported (this build reads version 2)"
        status, said = serve_once(copy, password)
        check(status != 0, f"the server started on a format-{version} log")
        check(expected in said, f"server on a format-{version} log said: {said.strip()[:300]}")
        status, _, err = tool("verify", "--data-dir", copy, check_status=False)
        check(status != 0 and expected in err.decode(), f"verify of format {version}: {err.decode()[:300]}")
        after = hashlib.sha256(open(copy + "/data.mdb", "rb").read()).hexdigest()
        check(before == after, f"the refused format-{version} log was changed")
        results.append(version)
    verify(data_dir)
    cleanup(base)
    return (
        "logs marked format 0 (older) and 3 (newer) refused by serve and verify with "
        "'log format version N is not supported (this build reads version 2)', left unchanged"
    )


# MARK: a second server


def second_server(short):
    """A second `serve` on the same directory (also through a symlink) exits non-zero with a
    clear message; the first keeps serving."""
    base, data_dir, output = fault_paths("second")
    password, secrets = admin_password()
    server = Server(data_dir, password, output).start()
    parent = mint_parent(server, secrets, password)
    os.symlink(data_dir, base + "/link")
    for directory in (data_dir, base + "/link"):
        status, said = serve_once(directory, password)
        check(status != 0, f"a second server started on {directory}")
        check("already open for writing" in said, f"second server said: {said.strip()[:300]}")
        check(password not in said, "the second server printed the password")
    probe_tokens(server, [parent])
    status, _ = server.client().mint(bearer(parent), "readonly", "fire after second")
    check(status == 200, f"the first server stopped minting: {status}")
    check(server.stop() == 0, "SIGTERM exit status")
    verify(data_dir)
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return "a second serve (same path and through a symlink) refused: 'already open for writing'"


# MARK: SIGTERM under load


def sigterm(short):
    """SIGTERM while clients mint: exit 0 in bounded time, every acknowledged mint kept."""
    rounds = 2 if short else 5
    base, data_dir, output = fault_paths("sigterm")
    password, secrets = admin_password()
    server = Server(data_dir, password, output).start()
    parent = mint_parent(server, secrets, password)
    minted = {}
    rng = random.Random()
    for number in range(1, rounds + 1):
        load = Minting(server, parent, secrets, clients=16, tag=f"term{number}")
        load.start()
        wait_until(lambda: load.count()[0] >= 50, 60, "mints before SIGTERM")
        time.sleep(rng.uniform(0.1, 1.0))  # the random moment of the signal
        server.signal(signal.SIGTERM)
        status = server.wait(timeout=30)
        load.finish()
        check(status == 0, f"exit status {status} after SIGTERM under load")
        bad = [(s, b[:200]) for s, b in load.failures if s >= 500 and b"shutting down" not in b]
        check(not bad, f"5xx other than 'shutting down' under SIGTERM: {bad[:3]}")
        minted.update(load.minted)
        check_all_present(data_dir, minted)
        verify(data_dir)
        server.start()
        probe_tokens(server, list(load.minted.values())[-200:])
        say(f"fire sigterm: round {number}/{rounds}: {len(load.minted)} acknowledged, exit 0, all kept")
    check(server.stop() == 0, "final SIGTERM exit status")
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return f"{rounds} SIGTERMs under 16 minting clients: exit 0 each time, {len(minted)} acknowledged mints kept"
