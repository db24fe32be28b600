"""Power cut: what the disk may hold after the machine loses power, not just the process.

SIGKILL leaves the page cache to the kernel; a power cut does not. This fault records every
call that changes the disk under a data directory (`powercut_shim.c`, an LD_PRELOAD library:
writes with their bytes and offsets, flushes, creations, renames, removals), while
`tallystick serve` makes its data directory on a first start and serves a mixed load, while
`tallystick-log backup` copies the log, and while `tallystick-log load` fills a new one. From
each recording `crash_states.py` builds disk states a power cut could leave at chosen moments
(what was durable, plus prefixes, subsets and torn pages of what was not, directory entries
lost), and each state is checked:

- every file the programs create is absent or whole (`tan.key`, `tree-head.key`: 32 bytes,
  the very key of the run; a key the log depends on is there);
- `tallystick-log verify` passes and the log is a prefix of the log the run ended with (no
  half-written or foreign record), holding every append acknowledged to a client before the
  crash (a mint, refresh, revocation, challenge step, credential change, instance creation);
- `tallystick serve` starts on it, answers `GET /config`, mints with the admin password and
  accepts the newest acknowledged token still valid there, and exits 0 on SIGTERM;
- a backup or a load that had finished holds the whole log, and one that had not is absent
  or a whole log (never a file a reader would take for a log and misread).
"""

import json
import os
import random
import shutil
import subprocess
import threading
import time

import crash_states as model
from firelib import (
    ROOT,
    Failed,
    Server,
    admin_password,
    basic,
    bearer,
    binary,
    check,
    cleanup,
    new_password,
    say,
    temporary_directory,
)
from tan import helper_script, last_code

SHIM_SOURCE = os.path.join(ROOT, "tools", "fire", "powercut_shim.c")
KEYS = ("tan.key", "tree-head.key")


def build_shim(base):
    """Compiles the recorder with the first C compiler found (the Swift toolchain has clang)."""
    out = base + "/powercut_shim.so"
    for compiler in ("cc", "gcc", "clang"):
        if shutil.which(compiler):
            built = subprocess.run(
                [compiler, "-O2", "-shared", "-fPIC", "-o", out, SHIM_SOURCE, "-ldl", "-lpthread"],
                capture_output=True,
            )
            check(built.returncode == 0, f"{compiler} could not build the recorder: {built.stderr.decode()[-400:]}")
            return out
    raise Failed("no C compiler (cc, gcc or clang) to build the recorder")


def recording(shim, root, trace):
    return {"LD_PRELOAD": shim, "POWERCUT_ROOT": root, "POWERCUT_LOG": trace}


class Acks:
    """Each answer a client got that promises something durable, with the moment it came."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []  # (ns, witness, token or None)

    def add(self, witness, token=None):
        with self.lock:
            self.items.append((time.time_ns(), witness, token))


def dump(data_dir):
    result = subprocess.run(
        [binary("tallystick-log"), "dump", "--data-dir", data_dir], capture_output=True, timeout=300
    )
    check(result.returncode == 0, f"dump of {data_dir} failed: {result.stderr.decode()[-300:]}")
    return result.stdout.decode().splitlines()


class LogIndex:
    """Where each acknowledged thing sits in the final log (its sequence number)."""

    def __init__(self, lines):
        self.lines = lines
        self.issued = {}  # (stream, description) -> seq
        self.serials = {}  # (stream, description) -> serial
        self.revoked = {}  # (stream, serial) -> seq
        self.nth = {}  # (stream, type) -> [seq]
        self.tree_heads = []
        self.codes = []
        for line in lines:
            record = json.loads(line)
            seq, stream, kind, payload = record["sequence"], record["stream"], record["type"], record.get("payload") or {}
            self.nth.setdefault((stream, kind), []).append(seq)
            if kind == "token-issued.v1":
                self.issued[(stream, payload.get("description"))] = seq
                self.serials[(stream, payload.get("description"))] = payload["serial"]
            elif kind == "token-revoked.v1":
                self.revoked.setdefault((stream, payload["serial"]), seq)
            elif kind == "challenge-code-transmitted.v1":
                self.codes.append(seq)
            if stream == "$tree-heads":
                self.tree_heads.append(seq)

    def sequence(self, witness):
        """The sequence number of the record an acknowledgement promised."""
        kind = witness[0]
        if kind == "mint":
            return self.issued[(witness[1], witness[2])]
        if kind == "revoke":
            return self.revoked[(witness[1], self.serials[(witness[1], witness[2])])]
        stream, event, n = witness[1], witness[2], witness[3]
        return self.nth[(stream, event)][n - 1]


# MARK: the mixed load


def _token(body):
    return json.loads(body)["access_token"]


def _admin_client(server, parent, acks, secrets, number, stop):
    """Mints (60 %), refreshes with a refreshable token of its own (20 %) and revokes one of
    its tokens (20 %)."""
    client = server.client()
    rng = random.Random(number)
    live, refreshable = [], []
    n = 0
    while not stop.is_set():
        n += 1
        roll = rng.random()
        if roll < 0.2 and live:
            description, token = live.pop(rng.randrange(len(live)))
            if token in refreshable:
                refreshable.remove(token)
            status, _ = client.request("DELETE", "/private/token", {"Authorization": bearer(token)})
            check(status == 204, f"revocation: {status}")
            acks.add(("revoke", "admin", description))
            continue
        presenting = rng.choice(refreshable) if roll < 0.4 and refreshable else parent
        scope = "readonly:refreshable" if roll > 0.8 else "readonly"
        description = f"power c{number} n{n}"
        status, body = client.mint(bearer(presenting), scope, description)
        check(status == 200, f"mint: {status} {body[:200]!r}")
        token = _token(body)
        secrets.token(token)
        acks.add(("mint", "admin", description), token)
        live.append((description, token))
        if scope.endswith(":refreshable"):
            refreshable.append(token)
    client.close()


def _challenge_client(server, shop_password, messages, acks, secrets, stop):
    """Logs in to `shop` with its password through a TAN challenge, again and again."""
    client = server.client()
    counts = {"challenge-created.v1": 0, "challenge-code-transmitted.v1": 0, "challenge-solved.v1": 0}

    def ack(event):
        counts[event] += 1
        acks.add(("nth", "shop", event, counts[event]))

    n = 0
    while not stop.is_set():
        n += 1
        request = json.dumps({"scope": "readonly", "description": f"power tan {n}"}).encode()
        headers = {"Authorization": basic("shop", shop_password), "Content-Type": "application/json"}
        status, body = client.request("POST", "/instances/shop/private/token", headers, request)
        check(status == 202, f"password mint of shop: {status} {body[:200]!r}")
        ack("challenge-created.v1")
        challenge = json.loads(body)["challenges"][0]["challenge_id"]
        status, body = client.request("POST", f"/instances/shop/challenge/{challenge}", {}, b"{}")
        check(status == 200, f"TAN request: {status} {body[:200]!r}")
        ack("challenge-code-transmitted.v1")
        code = last_code(messages, "owner@shop.example")
        secrets.password("tan", code)
        status, body = client.request(
            "POST", f"/instances/shop/challenge/{challenge}/confirm", {}, json.dumps({"tan": code}).encode()
        )
        check(status == 204, f"TAN confirmation: {status} {body[:200]!r}")
        ack("challenge-solved.v1")
        repeated = dict(headers, **{"Taler-Challenge-Ids": challenge})
        status, body = client.request("POST", "/instances/shop/private/token", repeated, request)
        check(status == 200, f"mint after the challenge: {status} {body[:200]!r}")
        token = _token(body)
        secrets.token(token)
        acks.add(("mint", "shop", f"power tan {n}"), token)
    client.close()


def _credentials_client(server, admin, acks, secrets, stop):
    """Changes the password of `plain` through the management API, again and again."""
    client = server.client()
    n = 0
    while not stop.is_set():
        password = new_password()
        secrets.password("plain", password)
        status, body = client.request(
            "POST",
            "/management/instances/plain/auth",
            {"Authorization": bearer(admin), "Content-Type": "application/json"},
            json.dumps({"method": "token", "password": password}).encode(),
        )
        check(status == 204, f"credential change: {status} {body[:200]!r}")
        n += 1
        acks.add(("nth", "plain", "instance-credentials-changed.v1", n))
    client.close()


def _run_threads(targets, seconds):
    stop = threading.Event()
    errors = []

    def guarded(target):
        try:
            target(stop)
        except Exception as error:  # reported after the join: a load that failed is a failure
            errors.append(f"{type(error).__name__}: {error}")
            stop.set()

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    stop.wait(seconds)  # the length of the load, not a synchronisation
    stop.set()
    for t in threads:
        t.join(timeout=60)
        check(not t.is_alive(), "a load client hung")
    check(not errors, f"the load failed: {errors[:3]}")


def record_serve(base, shim, seconds):
    """First start on a missing directory, then the mixed load, then SIGTERM; all recorded.
    Returns what the checks need."""
    root = os.path.realpath(base) + "/serve"
    os.mkdir(root, 0o700)
    data_dir = root + "/var/lib/data"
    trace = base + "/serve.trace"
    helper, messages = helper_script(base)
    password, secrets = admin_password()
    acks = Acks()
    server = Server(
        data_dir,
        password,
        base + "/serve.out",
        # Tree heads every second, and a checkpoint every 100 events: crash states fall
        # between the parts of checkpoints too.
        extra=["--helper-email", helper, "--seal-interval", "1", "--checkpoint-interval", "100"],
        env=recording(shim, root, trace),
    ).start()
    client = server.client()
    status, body = client.mint(basic("admin", password), "all:refreshable", "power parent")
    check(status == 200, f"first mint: {status} {body[:200]!r}")
    admin = _token(body)
    secrets.token(admin)
    acks.add(("mint", "admin", "power parent"), admin)
    shop_password = new_password()
    secrets.password("shop", shop_password)
    for instance, extra in (("shop", {"email": "owner@shop.example"}), ("plain", {})):
        body = {"id": instance, "name": instance, "auth": {"method": "token", "password": shop_password}, **extra}
        status, answer = client.request(
            "POST",
            "/management/instances",
            {"Authorization": bearer(admin), "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        check(status == 204, f"creation of {instance}: {status} {answer[:200]!r}")
        acks.add(("nth", instance, "instance-created.v1", 1))
    client.close()
    targets = [
        (lambda stop, i=i: _admin_client(server, admin, acks, secrets, i, stop)) for i in range(4)
    ] + [
        lambda stop: _challenge_client(server, shop_password, messages, acks, secrets, stop),
        lambda stop: _credentials_client(server, admin, acks, secrets, stop),
    ]
    _run_threads(targets, seconds)
    check(server.stop() == 0, "SIGTERM exit status of the recorded server")
    return {
        "root": root,
        "data": "var/lib/data",
        "trace": trace,
        "password": password,
        "secrets": secrets,
        "acks": acks.items,
        "output": base + "/serve.out",
    }


def record_tool(base, shim, name, arguments, data):
    """Runs `tallystick-log ARGUMENTS` recorded, under a new root `base/NAME`, whose `data`
    (a path under it) the tool creates. The tool's exit is the one acknowledgement."""
    root = os.path.realpath(base) + "/" + name
    os.mkdir(root, 0o700)
    trace = f"{base}/{name}.trace"
    env = {**os.environ, **recording(shim, root, trace)}
    result = subprocess.run(
        [binary("tallystick-log"), *[a.replace("{root}", root) for a in arguments]],
        capture_output=True,
        timeout=600,
        env=env,
    )
    check(result.returncode == 0, f"recorded {name} exited {result.returncode}: {result.stderr.decode()[-300:]}")
    return {"root": root, "data": data, "trace": trace, "acks": [(time.time_ns(), ("all",), None)]}


def format1_copy(source, dest, lines):
    """A copy of the log in `source` as format 1 stored it (the records, event ids and
    checkpoints as they are; format 1's `streams` index, stream ‖ 0 ‖ version → sequence,
    built from the dump `lines`; no stream heads, links, tree nodes or checkpoint parts)."""
    import lmdb  # from PyPI, in the fire venv

    shutil.copytree(source, dest)
    for leftover in ("lock.mdb", "writer.lock"):
        if os.path.exists(os.path.join(dest, leftover)):
            os.remove(os.path.join(dest, leftover))
    size = os.path.getsize(dest + "/data.mdb")
    env = lmdb.open(dest, max_dbs=16, subdir=True, map_size=max(64 << 20, 2 * size))
    streams = env.open_db(b"streams")
    with env.begin(write=True) as txn:
        for name in (b"stream-heads", b"stream-links", b"tree-nodes", b"checkpoint-parts"):
            txn.drop(env.open_db(name, txn=txn, create=False), delete=True)
        txn.drop(env.open_db(b"checkpoints", txn=txn, create=False), delete=False)
        for line in lines:
            record = json.loads(line)
            key = record["stream"].encode() + b"\0" + record["stream_version"].to_bytes(8, "big")
            txn.put(key, record["sequence"].to_bytes(8, "big"), db=streams)
        txn.put(b"format", (1).to_bytes(4, "little"), db=env.open_db(b"meta", txn=txn, create=False))
    env.close()
    os.remove(dest + "/lock.mdb")


def record_upgrade(base, shim, final_dir, final_lines, password):
    """`tallystick serve` started on a format-1 copy of the final log, which it upgrades to
    format 2 before it listens; recorded from that start to its SIGTERM. Every record was
    durable before the recording began (its files are the model's initial state)."""
    root = os.path.realpath(base) + "/upgrade"
    data_dir = root + "/var/lib/data"
    os.makedirs(root + "/var/lib", mode=0o700)
    format1_copy(final_dir, data_dir, final_lines)
    initial = {"": None}
    for directory, names, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        if relative != ".":
            initial[relative] = None
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                initial[os.path.relpath(path, root)] = f.read()
    trace = base + "/upgrade.trace"
    server = Server(data_dir, password, base + "/upgrade.out", env=recording(shim, root, trace)).start()
    client = server.client()
    check(client.request("GET", "/config")[0] == 200, "GET /config after the upgrade")
    client.close()
    check(server.stop() == 0, "SIGTERM after the upgrade")
    return {
        "root": root,
        "data": "var/lib/data",
        "trace": trace,
        # Acknowledged before the recording: every state must hold every record.
        "acks": [(0, ("all",), None)],
        "initial": initial,
        "upgrade": True,
    }


# MARK: checking a state


class Checker:
    """The checks of one workload's states against its final log."""

    def __init__(self, run, final_lines, keys, serve_checks, base):
        self.run = run
        self.index = LogIndex(final_lines)
        self.final = final_lines
        self.keys = keys  # name -> the run's final bytes
        self.serve_checks = serve_checks
        self.base = base
        self.required = {}
        for ns, witness, token in run["acks"]:
            seq = len(final_lines) if witness == ("all",) else self.index.sequence(witness)
            self.required[(ns, witness)] = seq
        # (seq of the mint, seq of its revocation or None, token, instance) of every token
        self.tokens = [
            (self.index.sequence(w), self.index.revoked.get((w[1], self.index.serials[(w[1], w[2])])), token, w[1])
            for _, w, token in run["acks"]
            if token is not None
        ]

    def needed(self, before_ns):
        """The log length every acknowledgement before `before_ns` needs (None: the end)."""
        return max(
            (seq for (ns, _), seq in self.required.items() if before_ns is None or ns < before_ns), default=0
        )

    def check(self, state_dir, before_ns, password):
        data = os.path.join(state_dir, self.run["data"])
        for name, content in self.keys.items():
            path = os.path.join(data, name)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    kept = f.read()
                check(kept == content, f"{name} is there but not whole ({len(kept)} bytes, not the run's key)")
        needed = self.needed(before_ns)
        upgrade = self.run.get("upgrade", False)
        if upgrade:
            # A state from before the upgrade committed is still format 1, which only a
            # writable open reads (and upgrades): the server goes first here, and the
            # record its check mints is left out of the comparison below.
            self._serve(data, len(self.final), password, state_dir.rstrip("/") + ".serve.out")
        if os.path.exists(data + "/data.mdb"):
            verified = subprocess.run(
                [binary("tallystick-log"), "verify", "--json", "--data-dir", data], capture_output=True, timeout=300
            )
            report = json.loads(verified.stdout) if verified.stdout.strip() else {}
            check(
                verified.returncode == 0 and report.get("valid") is True,
                f"verify failed: {verified.stdout.decode()[:200]} {verified.stderr.decode()[-300:]}",
            )
            lines = dump(data)
            if upgrade:
                lines = lines[: len(self.final)]
        else:
            lines = []
        check(lines == self.final[: len(lines)], f"the log is not a prefix of the run's ({len(lines)} records)")
        check(len(lines) >= needed, f"{len(lines)} records, but acknowledged appends reach record {needed}")
        kept = len(lines)
        if "tree-head.key" in self.keys and any(seq <= kept for seq in self.index.tree_heads):
            check(os.path.exists(data + "/tree-head.key"), "signed tree heads in the log but tree-head.key is gone")
        if "tan.key" in self.keys and any(seq <= kept for seq in self.index.codes):
            check(os.path.exists(data + "/tan.key"), "TAN codes in the log but tan.key is gone")
        if self.serve_checks and not upgrade:
            self._serve(data, kept, password, state_dir.rstrip("/") + ".serve.out")
        return kept, needed

    def _serve(self, data, kept, password, output):
        server = Server(data, password, output)
        try:
            server.start(timeout=60)
        except Failed as failure:
            with open(output, "rb") as f:
                said = f.read().decode(errors="replace")
            raise Failed(f"serve did not start: {failure}: {said.strip()[-300:]}")
        client = server.client()
        check(client.request("GET", "/config")[0] == 200, "GET /config")
        status, _ = client.mint(basic("admin", password), "readonly", "power check")
        check(status == 200, f"mint with the admin password: {status}")
        alive = [t for t in self.tokens if t[0] <= kept and (t[1] is None or t[1] > kept)]
        if alive:
            _, _, token, instance = max(alive, key=lambda t: t[0])
            prefix = "" if instance == "admin" else f"/instances/{instance}"
            status, _ = client.request("GET", prefix + "/private/tokens?limit=1", {"Authorization": bearer(token)})
            check(status == 200, f"the newest acknowledged token kept answers {status}")
        client.close()
        check(server.stop() == 0, "SIGTERM exit status on the state")


def explore(name, run, checker, cuts_wanted, variants, rng, base, password, early=0):
    """Builds and checks crash states of one recording; returns (states, distinct, cut
    points there were, failures)."""
    records = model.read_trace(run["trace"])
    check(records, f"{name}: nothing was recorded")
    cuts, points, end = model.crash_states(
        records, cuts_wanted, variants, rng, initial=run.get("initial"), early=early
    )
    check(not end.problems, f"{name}: the model could not follow the trace: {end.problems[:3]}")
    _replay_matches(end, run["root"], name)
    seen = {}
    states = 0
    failures = []
    lock = threading.Lock()
    work = []
    for cut in cuts:
        for label, state in cut.variants:
            states += 1
            key = model.digest(state)
            if key in seen:
                continue
            seen[key] = True
            work.append((cut, label, state, len(work)))

    def check_one(item):
        cut, label, state, number = item
        directory = f"{base}/{name}-state-{number}"
        model.materialise(state, directory)
        try:
            checker.check(directory, cut.before_ns, password)
        except Failed as failure:
            with lock:
                failures.append(f"{name} after record {cut.index}/{len(records)} ({label}): {failure}")
            keep = os.environ.get("FIRE_KEEP")
            if not keep:
                shutil.rmtree(directory, ignore_errors=True)
            return
        shutil.rmtree(directory, ignore_errors=True)
        if os.path.exists(directory + ".serve.out"):
            os.remove(directory + ".serve.out")

    threads = [threading.Thread(target=lambda part=work[i::2]: [check_one(x) for x in part]) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return states, len(seen), points, len(records), failures


def _replay_matches(end, root, name):
    """The recorder missed nothing: replaying every recorded call gives the files as they are."""
    replayed = end.current_state()
    mapped = {p for p, i in end.names.items() if end.inodes[i].mapped}
    actual = {}
    for directory, dirs, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        relative = "" if relative == "." else relative
        actual[relative] = None
        for f in files:
            path = f"{relative}/{f}" if relative else f
            with open(os.path.join(directory, f), "rb") as handle:
                actual[path] = handle.read()
    check(set(replayed) == set(actual), f"{name}: replayed names {sorted(set(replayed) ^ set(actual))[:5]} differ")
    differing = [p for p in actual if p not in mapped and actual[p] != replayed[p]]
    check(not differing, f"{name}: replayed contents of {differing[:5]} differ from the files")


def run(short):
    seed = int(os.environ.get("FIRE_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    base = temporary_directory("powercut")
    shim = build_shim(base)
    seconds = 2 if short else 6
    # (cuts, variants per cut) per workload: short about 40 states, long well over 1,000.
    plan = (
        {"serve": (10, 4), "backup": (4, 4), "load": (4, 4), "upgrade": (4, 4)}
        if short
        else {"serve": (150, 6), "backup": (40, 6), "load": (50, 6), "upgrade": (40, 6)}
    )
    served = record_serve(base, shim, seconds)
    final_dir = base + "/final"
    shutil.copytree(os.path.join(served["root"], served["data"]), final_dir)
    final_lines = dump(final_dir)
    keys = {}
    for name in KEYS:
        with open(os.path.join(final_dir, name), "rb") as f:
            keys[name] = f.read()
    os.remove(final_dir + "/writer.lock")
    with open(base + "/final.jsonl", "w") as f:
        f.write("\n".join(final_lines) + "\n")
    backup = record_tool(base, shim, "backup", ["backup", "{root}/backups/copy", "--data-dir", final_dir], "backups/copy")
    loaded = record_tool(base, shim, "load", ["load", base + "/final.jsonl", "--data-dir", "{root}/log"], "log")
    upgraded = record_upgrade(base, shim, final_dir, final_lines, served["password"])
    results = []
    failures = []
    password = served["password"]
    workloads = (("serve", served, True), ("backup", backup, True), ("load", loaded, True), ("upgrade", upgraded, True))
    for name, recorded, serve_checks in workloads:
        cuts, variants = plan[name]
        checker = Checker(recorded, final_lines, keys if name in ("serve", "upgrade") else {}, serve_checks, base)
        # The first start is where a data directory is born: its first flushes are always cut.
        early = (4 if short else 20) if name == "serve" else 2
        states, distinct, points, count, failed = explore(
            name, recorded, checker, cuts, variants, rng, base, password, early=early
        )
        results.append(
            f"{name}: {states} crash states ({distinct} distinct, {distinct - len(failed)} passed) at "
            f"{min(cuts + early, points)} of {points} cut points, {count} calls recorded"
        )
        say(f"fire power-cut: {results[-1]}")
        failures.extend(failed)
    with open(base + "/failures.txt", "w") as f:
        f.write("\n".join(failures) + "\n")
    leaks = served["secrets"].find_in([served["root"], served["output"]])
    check(not leaks, f"secrets found: {leaks}")
    check(not failures, f"seed {seed}: {len(failures)} state(s) failed (all in {base}/failures.txt), e.g. {failures[:4]}")
    cleanup(base)
    return f"seed {seed}; " + "; ".join(results) + f"; {len(final_lines)} records, {len(served['acks'])} acknowledgements"
