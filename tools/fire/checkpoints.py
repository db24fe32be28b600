"""Checkpoints and crashes (RELIABILITY.md): a checkpoint is written in parts, each committed
on its own, and saved last; a crash at any moment must leave the previous checkpoint whole,
and a restart must start from it (or from scratch) with nothing acknowledged lost.

- Random SIGKILLs under load with a checkpoint every 150 events: the crash fault's rounds and
  checks, so kills land before, between and after checkpoints' parts.
- SIGKILL exactly between two parts: the `checkpoint-between-parts` failpoint stops the
  checkpoint after its first parts are committed (requests go on being served), then the
  server is killed. `tallystick-log verify` (which decodes the checkpoint and compares its
  state with a fold of the log up to its sequence) passes, the restart answers for every
  acknowledged token, and the next checkpoint is saved and verifies.
"""

import json
import os
import time

import crash
from firelib import (
    Server,
    admin_password,
    basic,
    bearer,
    check,
    cleanup,
    fault_paths,
    say,
    tokens_in_log,
    tool,
    verify,
)

INTERVAL = "150"


def _checkpoints(data_dir):
    _, out, _ = tool("verify", "--json", "--data-dir", data_dir)
    return json.loads(out)["checkpoints"]


def _mint(client, credential, description, secrets, scope="readonly"):
    status, body = client.mint(credential, scope, description)
    check(status == 200, f"mint {description}: {status} {body[:120]!r}")
    token = body.split(b'"access_token":"', 1)[1].split(b'"', 1)[0].decode()
    secrets.token(token)
    return token


def _wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)  # polling a file or a tool, not a synchronisation of the server
    check(False, f"timed out waiting for {what}")


def between_parts():
    base, data_dir, output = fault_paths("checkpoint-parts")
    password, secrets = admin_password()
    minted = {}
    server = Server(data_dir, password, output, extra=["--checkpoint-interval", INTERVAL]).start()
    client = server.client()
    parent = _mint(client, basic("admin", password), "fire parent", secrets, "all:refreshable")
    for n in range(200):
        minted[f"fire before {n}"] = _mint(client, bearer(parent), f"fire before {n}", secrets)
    client.close()
    check(server.stop() == 0, "SIGTERM after the first checkpoint's load")
    check(_checkpoints(data_dir) == 1, "no checkpoint was saved before the failpoint run")

    server = Server(
        data_dir, password, output, extra=["--checkpoint-interval", INTERVAL],
        env={"TALLYSTICK_FAILPOINT": "checkpoint-between-parts"},
    ).start()
    client = server.client()
    reached = b"failpoint checkpoint-between-parts reached"
    n = 0
    while reached not in open(output, "rb").read():
        check(n < 2000, "the checkpoint failpoint was not reached after 2000 mints")
        minted[f"fire during {n}"] = _mint(client, bearer(parent), f"fire during {n}", secrets)
        n += 1
    # The checkpoint waits between its parts; requests are still served.
    for m in range(20):
        minted[f"fire after {m}"] = _mint(client, bearer(parent), f"fire after {m}", secrets)
    client.close()
    server.kill()

    report = verify(data_dir)  # decodes the checkpoint left and compares it with a fold
    check(report["checkpoints"] == 1, f"{report['checkpoints']} checkpoints after the kill")
    killed_at = report["checkpoint_sequence"]
    statuses, _ = tokens_in_log(data_dir)
    lost = [d for d in minted if statuses.get(("admin", d)) != "valid"]
    check(not lost, f"{len(lost)} acknowledged mints missing after the kill, e.g. {lost[:3]}")

    server = Server(data_dir, password, output, extra=["--checkpoint-interval", INTERVAL]).start()
    client = server.client()
    for description, token in minted.items():
        status, _ = client.request("GET", "/private/tokens?limit=1", {"Authorization": bearer(token)})
        check(status == 200, f"{description} after the restart: {status}")
    for m in range(int(INTERVAL) + 10):
        _mint(client, bearer(parent), f"fire later {m}", secrets)
    client.close()
    # The checkpoint after the restart is taken in the background: wait until verify sees one
    # past the killed one (verify checks its state against the log).
    _wait_for(
        lambda: (verify(data_dir)["checkpoint_sequence"] or 0) > killed_at,
        "the checkpoint after the restart",
    )
    check(server.stop() == 0, "SIGTERM at the end")
    verify(data_dir)
    leaks = secrets.find_in([data_dir, output])
    check(not leaks, f"secrets found: {leaks}")
    cleanup(base)
    return len(minted), n


def run(short):
    random_rounds = crash.run(
        short, rounds=3 if short else 12, extra=["--checkpoint-interval", INTERVAL], name="checkpoint"
    )
    minted, before_failpoint = between_parts()
    say(f"fire checkpoint: killed between two parts of a checkpoint after {before_failpoint} mints")
    return (
        f"random kills with a checkpoint every {INTERVAL} events: {random_rounds}; killed between "
        f"two parts of a checkpoint: verify passed (the checkpoint left decodes to the fold of the "
        f"log), all {minted} acknowledged mints answered after the restart, the next checkpoint "
        f"verified"
    )
