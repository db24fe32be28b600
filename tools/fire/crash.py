"""Crash under load: clients mint, refresh and revoke through HTTP while the server is killed
with SIGKILL at a random moment; after each restart every acknowledged mint works, every
acknowledged revocation holds, nothing was minted that no client asked for, and the log
verifies.

Each mint carries a description unique to its request (`fire r<round> c<client> n<n>`), so
every token in the log (read with `tallystick-log state-at`) traces to one client request.
"""

import os
import random
import shutil
import signal
import threading
import time

from firelib import (
    cleanup,
    Server,
    basic,
    bearer,
    check,
    parallel,
    say,
    temporary_directory,
    tokens_in_log,
    verify,
    admin_password,
)


class Ledger:
    """What the clients asked for and what the server acknowledged, over every round."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = set()  # descriptions of every mint request sent
        self.minted = {}  # description -> token, for every 200
        self.revoked = set()  # descriptions whose revocation got a 204
        self.revoking = set()  # descriptions whose revocation was sent, answer unknown
        self.unexpected = []  # statuses no client should see, with what was asked


class LoadClient(threading.Thread):
    """Mints (60 %), refreshes with a refreshable token it minted (20 %) and revokes one of its
    tokens (20 %) until the connection fails or `stop` is set."""

    def __init__(self, server, parent, ledger, secrets, round_number, number, stop):
        super().__init__(daemon=True)
        self.client = server.client(timeout=20)
        self.parent = parent
        self.ledger = ledger
        self.secrets = secrets
        self.round = round_number
        self.number = number
        self.stop = stop
        self.refreshable = []
        self.live = []
        self.random = random.Random(round_number * 1000 + number)

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            roll = self.random.random()
            try:
                if roll < 0.2 and self.live:
                    self.revoke(self.live.pop(self.random.randrange(len(self.live))))
                elif roll < 0.4 and self.refreshable:
                    self.mint(self.random.choice(self.refreshable), "readonly:refreshable", n)
                else:
                    scope = "readonly:refreshable" if roll > 0.8 else "readonly"
                    self.mint(self.parent, scope, n)
            except Exception:
                self.client.close()
                return  # the server died: this client's round is over

    def mint(self, presenting, scope, n):
        description = f"fire r{self.round} c{self.number} n{n}"
        with self.ledger.lock:
            self.ledger.sent.add(description)
        status, body = self.client.mint(bearer(presenting), scope, description)
        if status != 200:
            with self.ledger.lock:
                self.ledger.unexpected.append(f"mint {status} {body[:120]!r}")
            return
        token = body.split(b'"access_token":"', 1)[1].split(b'"', 1)[0].decode()
        self.secrets.token(token)
        with self.ledger.lock:
            self.ledger.minted[description] = token
        self.live.append(description)
        if scope.endswith(":refreshable"):
            self.refreshable.append(token)

    def revoke(self, description):
        token = self.ledger.minted[description]
        if token in self.refreshable:
            self.refreshable.remove(token)
        with self.ledger.lock:
            self.ledger.revoking.add(description)
        status, body = self.client.request("DELETE", "/private/token", {"Authorization": bearer(token)})
        with self.ledger.lock:
            if status == 204:
                self.ledger.revoked.add(description)
                self.ledger.revoking.discard(description)
            else:
                self.ledger.unexpected.append(f"revoke {status} {body[:120]!r}")


def check_round(server, data_dir, ledger, round_minted, round_revoked, probe_revoked):
    """The checks after a restart: the log verifies, it holds exactly what was acknowledged
    (and nothing no client asked for), the round's tokens work over HTTP, and revocations hold
    (all of them in the log; a sample over HTTP, see `probe_revoked`)."""
    verify(data_dir)
    statuses, count = tokens_in_log(data_dir)
    admin_tokens = {d: s for (instance, d), s in statuses.items() if instance == "admin"}
    check(count == len(statuses), f"{count - len(statuses)} tokens share a description")
    ours = ("fire parent", "fire probe")
    strangers = [d for d in admin_tokens if d not in ledger.sent and not d.startswith(ours)]
    check(not strangers, f"{len(strangers)} token(s) in the log that no client asked for")
    mints = sum(1 for d in admin_tokens if not d.startswith(ours))
    check(mints <= len(ledger.sent), f"{mints} mints in the log, {len(ledger.sent)} requested")
    lost = [d for d in ledger.minted if d not in admin_tokens]
    check(not lost, f"{len(lost)} acknowledged mint(s) missing from the log, e.g. {lost[:3]}")
    wrong = [
        d
        for d in ledger.minted
        if d not in ledger.revoking
        and admin_tokens[d] != ("revoked" if d in ledger.revoked else "valid")
    ]
    check(not wrong, f"{len(wrong)} token(s) with the wrong status in the log, e.g. {wrong[:3]}")

    clients = threading.local()

    def probe(item):
        description, expected = item
        if not hasattr(clients, "client"):
            clients.client = server.client()
        status, _ = clients.client.request(
            "GET", "/private/tokens?limit=1", {"Authorization": bearer(ledger.minted[description])}
        )
        if status != expected:
            return f"{description}: {status}, expected {expected}"
        return None

    work = [(d, 200) for d in round_minted if d not in ledger.revoked and d not in ledger.revoking]
    failures = parallel(work, probe)
    check(not failures, f"{len(failures)} HTTP check(s) failed after restart, e.g. {failures[:3]}")
    return len(work) + probe_revoked(sorted(round_revoked))


class RevocationProbe:
    """Presents revoked tokens over HTTP and expects 401.

    Each presentation of an unknown or revoked login token counts as a failed login of the
    client address on that instance (it is never hashed, but it is counted), and the login
    throttle answers 429 after 5 failures from one address on an instance, or 20 for the
    instance from addresses that have not logged in to it lately. So each group of 5 probes
    comes from a fresh loopback address that first logs in with Basic (then trusted by the
    instance throttle), and at most `per_round` revocations are probed per round; every
    revocation is checked in the log."""

    def __init__(self, server, password, secrets, per_round=25):
        self.server = server
        self.password = password
        self.secrets = secrets
        self.per_round = per_round
        self.addresses = 0
        self.ledger = None

    def __call__(self, revoked):
        sample = revoked[: self.per_round]
        for start in range(0, len(sample), 5):
            self.addresses += 1
            address = f"127.{1 + self.addresses // 250}.{self.addresses % 250}.1"
            client = self.server.client(source=address)
            status, body = client.mint(
                basic("admin", self.password), "readonly", f"fire probe {address}"
            )
            check(status == 200, f"Basic login from {address}: {status}")
            self.secrets.token(body.split(b'"access_token":"', 1)[1].split(b'"', 1)[0].decode())
            for description in sample[start : start + 5]:
                token = self.ledger.minted[description]
                status, _ = client.request(
                    "GET", "/private/tokens?limit=1", {"Authorization": bearer(token)}
                )
                check(status == 401, f"revoked {description}: {status}, expected 401")
            client.close()
        return len(sample)


def run(short, rounds=None, clients=16, extra=(), name="crash"):
    """The rounds of SIGKILL under load; `extra` are more `serve` arguments (the checkpoint
    fault runs the same rounds with a checkpoint every few hundred events)."""
    rounds = rounds or (3 if short else 20)
    data_dir = temporary_directory(name) + "/data"
    output = data_dir + ".out"
    password, secrets = admin_password()
    ledger = Ledger()
    rng = random.Random()
    server = Server(data_dir, password, output, extra=extra).start()
    parents = []
    setup = server.client()
    for number in range(clients):
        status, body = setup.mint(basic("admin", password) if number == 0 else bearer(parents[0]),
                                  "all:refreshable", f"fire parent {number}")
        check(status == 200, f"setup mint: {status}")
        token = body.split(b'"access_token":"', 1)[1].split(b'"', 1)[0].decode()
        secrets.token(token)
        parents.append(token)
    setup.close()
    probe_revoked = RevocationProbe(server, password, secrets)
    probe_revoked.ledger = ledger
    totals = {"acknowledged": 0, "revoked": 0, "probed": 0, "load_s": 0.0}
    for round_number in range(1, rounds + 1):
        before_minted = set(ledger.minted)
        before_revoked = set(ledger.revoked)
        stop = threading.Event()
        load = [
            LoadClient(server, parents[i], ledger, secrets, round_number, i, stop) for i in range(clients)
        ]
        for client in load:
            client.start()
        delay = rng.uniform(0.3, 2.5)
        time.sleep(delay)  # the random moment of the kill, not a synchronisation
        server.kill()
        stop.set()
        for client in load:
            client.join(timeout=30)
            check(not client.is_alive(), "a load client hung after the kill")
        check(not ledger.unexpected, f"unexpected answers under load: {ledger.unexpected[:3]}")
        verify(data_dir)  # the log as the crash left it
        server.start()
        round_minted = set(ledger.minted) - before_minted
        round_revoked = set(ledger.revoked) - before_revoked
        probed = check_round(
            server, data_dir, ledger, round_minted, round_revoked, probe_revoked
        )
        totals["acknowledged"] += len(round_minted)
        totals["revoked"] += len(round_revoked)
        totals["probed"] += probed
        totals["load_s"] += delay
        say(
            f"fire {name}: round {round_number}/{rounds}: killed after {delay:.2f} s, "
            f"{len(round_minted)} mints and {len(round_revoked)} revocations acknowledged, "
            f"{len(ledger.revoking)} revocations unanswered, all held ({probed} HTTP checks)"
        )
    status = server.stop()
    check(status == 0, f"final SIGTERM exit status {status}")
    verify(data_dir)
    leaks = secrets.find_in([data_dir, output])
    check(not leaks, f"secrets found: {leaks}")
    cleanup(os.path.dirname(data_dir))
    return (
        f"{rounds} SIGKILLs under {clients} clients: {totals['acknowledged']} acknowledged mints "
        f"and {totals['revoked']} revocations all held, {len(ledger.sent)} mint requests sent, "
        f"log verified after every crash; no token or password in the data directory or the "
        f"server's output ({len(secrets.tokens)} tokens searched)"
    )
