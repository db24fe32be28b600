"""Slow clients (spec §10.5): more half-sent requests than the server may hold, under a low
file limit. The server must keep answering, must not spin, and must close every held
connection when its deadline passes."""

import math
import re
import selectors
import socket
import threading
import time

from firelib import (
    Failed,
    Server,
    admin_password,
    check,
    cleanup,
    fault_paths,
)
from lifecycle import no_secrets, serve_once

RESERVED = 64  # ConnectionLimit.reservedDescriptors
HALF_HEADER = b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
HALF_BODY = (
    b"POST /private/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n{\"scope\":"
)
CONFIG = b"GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Held:
    """One client connection the server should close, and when it may."""

    def __init__(self, kind, port, payload=b"", answered=False):
        self.kind = kind
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.start = time.monotonic()  # when its deadline could start, at the earliest
        self.closed_at = None
        self.unexpected = b""
        if payload:
            self.sock.sendall(payload)
        if answered:  # a full request: read the answer, then the connection is idle
            received = b""
            while b"\r\n\r\n" not in received or not received.endswith(b"}"):
                chunk = self.sock.recv(4096)
                check(chunk, "an idle client's first request got no answer")
                received += chunk
            check(received.startswith(b"HTTP/1.1 200"), f"first request: {received[:40]!r}")
            self.start = time.monotonic()
        self.sock.setblocking(False)


def _watch(held, trickling, header, give_up):
    """Records when the server closes each held connection (select on all of them) and
    keeps the trickling ones trickling, until all are closed or `give_up` (monotonic)."""
    trickle_bytes = iter(HALF_HEADER[1:] + b"a" * 10_000)
    selector = selectors.DefaultSelector()
    for h in held:
        selector.register(h.sock, selectors.EVENT_READ, h)
    open_count = len(held)
    next_trickle = time.monotonic()
    while open_count and time.monotonic() < give_up:
        now = time.monotonic()
        if now >= next_trickle:
            byte = bytes([next(trickle_bytes)])
            for h in trickling:
                if h.closed_at is None:
                    try:
                        h.sock.send(byte)
                    except OSError:
                        pass
            next_trickle = now + header / 4
        for key, _ in selector.select(timeout=0.02):
            h = key.data
            try:
                chunk = h.sock.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            except BlockingIOError:
                continue
            if chunk:
                h.unexpected += chunk
                continue
            h.closed_at = time.monotonic()
            selector.unregister(h.sock)
            h.sock.close()
            open_count -= 1
    selector.close()


def _cpu_ratio(server, seconds):
    """CPU seconds the server used per wall second over `seconds`."""
    cpu, wall = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (server.cpu_seconds() - cpu) / (time.monotonic() - wall)


def run(short):
    # Short: a few seconds in all (a limit of 64); long: the usual 256-descriptor example,
    # longer deadlines, three waves. Deadlines in seconds.
    file_limit = 128 if short else 256
    header, body, idle = (2.0, 2.5, 2.5) if short else (4.0, 5.0, 5.0)
    window = 0.5 if short else 2.0
    margin = 1.0
    base, data_dir, output = fault_paths("slow")
    password, secrets = admin_password()
    server = Server(
        data_dir, password, output, file_limit=file_limit,
        extra=["--header-timeout", str(header), "--body-timeout", str(body),
               "--idle-timeout", str(idle)],
    ).start()
    with open(output, "rb") as f:
        stated = re.search(rb"connection limits .*max_connections=(\d+)", f.read())
    check(stated, "the server did not log its connection limit")
    limit = int(stated.group(1))
    check(limit == file_limit - RESERVED, f"limit {limit}, expected {file_limit - RESERVED} (file limit {file_limit} less {RESERVED})")

    baseline = server.open_descriptors()
    # First the clients that must be served at once: idle keep-alive ones and two that
    # trickle a header byte by byte (header deadline from the first byte, never reset).
    held = [Held("idle", server.port, CONFIG, answered=True) for _ in range(8)]
    trickling = [Held("trickle", server.port, HALF_HEADER[:1]) for _ in range(2)]
    held += trickling
    # Then the flood: more half-sent requests (and silent connections) than the limit.
    # At most ~200 beyond the limit: the listen backlog is 256, and a full backlog makes the
    # kernel drop SYNs (each connect would then wait a second or more).
    flood = int(limit * (1.5 if short else 2.0))
    flood_started = time.monotonic()
    kinds = ["header", "body", "header", "silent"]
    for n in range(flood):
        kind = kinds[n % len(kinds)]
        payload = {"header": HALF_HEADER, "body": HALF_BODY, "silent": b""}[kind]
        held.append(Held(kind, server.port, payload))
    # Every held connection is watched from now on, in a thread, for the server's close.
    waves = math.ceil(len(held) / limit)
    longest = max(header, body)
    watcher = threading.Thread(
        target=_watch, args=(held, trickling, header, time.monotonic() + waves * longest + idle + 10),
        daemon=True)
    watcher.start()
    # The server holds `limit` connections (a few more at most: NIO accepts up to 4 per
    # read before the limit is asked again) and the rest wait in the backlog. It accepts at
    # its own pace: wait (bounded) until it holds its limit, then sample its CPU use while it
    # stays there, before the first deadline frees a slot.
    accepted = server.open_descriptors() - baseline
    while accepted < limit - 8 and time.monotonic() < flood_started + header - window:
        time.sleep(0.02)
        accepted = server.open_descriptors() - baseline
    reached = time.monotonic() - flood_started
    check(reached + window < header - 0.1, f"the server reached its limit {reached:.1f} s after the flood began: too late to sample it there before the first deadline")
    ratio = _cpu_ratio(server, window)
    accepted = max(accepted, server.open_descriptors() - baseline)

    # A new client after the flood: it waits in the backlog for a slot, then is answered.
    bound = waves * longest + 5
    asked = time.monotonic()
    probe = socket.create_connection(("127.0.0.1", server.port), timeout=bound)
    probe.sendall(CONFIG)
    answer = b""
    try:
        while not answer.endswith(b"}"):
            chunk = probe.recv(4096)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        raise Failed(f"GET /config after the flood: no answer within {bound:.0f} s")
    config_wait = time.monotonic() - asked
    probe.close()
    check(answer.startswith(b"HTTP/1.1 200"), f"GET /config after the flood: {answer[:60]!r}")

    # Each is closed not before its deadline, and at most its deadline plus the waves it
    # may have waited in the backlog plus a margin.
    deadline_of = {"idle": idle, "trickle": header, "header": header, "silent": header, "body": body}
    watcher.join()
    problems = []
    queued = 0
    for h in held:
        allowed = deadline_of[h.kind]
        if h.closed_at is None:
            problems.append(f"{h.kind}: never closed")
            h.sock.close()
            continue
        took = h.closed_at - h.start
        if h.unexpected:
            problems.append(f"{h.kind}: answered {h.unexpected[:40]!r}")
        if took < allowed - 0.05:
            problems.append(f"{h.kind}: closed after {took:.2f} s, before its {allowed} s")
        elif took > allowed + (waves - 1) * longest + margin:
            problems.append(f"{h.kind}: closed after {took:.2f} s")
        elif took > allowed + margin:
            queued += 1
    check(not problems, f"{len(problems)} problem(s): " + "; ".join(problems[:10]))
    with open(output, "rb") as f:
        log = f.read()
    check(b"Too many open files" not in log, "the server ran out of descriptors")
    check(b"at the connection limit" in log, "the server never said it reached its limit")
    check(ratio < 0.5, f"the server used {ratio:.2f} of a core while at its limit (spinning)")
    check(limit - 8 <= accepted <= limit + 3, f"{accepted} connections held at a limit of {limit}")
    check(server.alive() and server.client().request("GET", "/config")[0] == 200, "not serving after the flood")
    check(server.stop() == 0, "SIGTERM exit status")

    # A file limit that leaves no room for connections is refused at start.
    status, said = serve_once(base + "/tight", password, file_limit=RESERVED - 4)
    check(status != 0 and "leaves no room for connections" in said, f"serve under ulimit -n {RESERVED - 4}: {status} {said[-200:]!r}")
    no_secrets(secrets, [data_dir, output])
    cleanup(base)
    return (
        f"file limit {file_limit}, limit {limit}; {len(held)} held connections "
        f"({flood} half-sent or silent, 8 idle, 2 trickling): {accepted} held at once, the rest in the "
        f"backlog; CPU {ratio:.2f} of a core over {window} s at the limit; GET /config answered after {config_wait:.1f} s; every "
        f"connection closed by its deadline ({header}/{body}/{idle} s), {len(held) - queued} within "
        f"it + {margin:.0f} s, {queued} after waiting in the backlog ({waves} waves)"
    )
