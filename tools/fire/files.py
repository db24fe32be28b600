"""Files at rest (spec §10.6): what `tallystick serve` and `tallystick-log backup` create is
their owner's alone whatever the umask, and a data directory others can write is refused."""

import os
import stat

from firelib import (
    Server,
    admin_password,
    check,
    cleanup,
    fault_paths,
    tool,
)
from lifecycle import no_secrets, serve_once

UMASKS = (0o000, 0o077)


def _modes(root):
    """{path: (is directory, mode)} for `root` and everything under it."""
    found = {root: (True, stat.S_IMODE(os.stat(root).st_mode))}
    for directory, names, files in os.walk(root):
        for name in names + files:
            path = os.path.join(directory, name)
            found[path] = (name in names, stat.S_IMODE(os.lstat(path).st_mode))
    return found


def _check_private(root, what):
    """Every directory from `root` down is 0700 and every file 0600; returns how many."""
    modes = _modes(root)
    wrong = [f"{p} {m:04o}" for p, (d, m) in modes.items() if m != (0o700 if d else 0o600)]
    check(not wrong, f"{what}: not the owner's alone: {wrong[:6]}")
    return len(modes)


def run(short):
    base, _, output = fault_paths("files")
    password, secrets = admin_password()
    counted = []
    for umask in UMASKS:
        # serve's first start: the directory and the parents it creates, the log's files,
        # the writer lock, tan.key, tree-head.key.
        top = f"{base}/u{umask:03o}"
        data = f"{top}/var/lib/data"
        server = Server(data, password, output, umask=umask).start()
        check(server.client().request("GET", "/config")[0] == 200, "GET /config")
        check(server.stop() == 0, "SIGTERM exit status")
        names = sorted(os.listdir(data))
        check(names == ["data.mdb", "lock.mdb", "tan.key", "tree-head.key", "writer.lock"], f"data directory holds {names}")
        counted.append(_check_private(top, f"serve under umask {umask:03o}"))
        # backup into a new directory (and the parents it makes).
        backup = f"{top}/backups/2026/copy"
        tool("backup", backup, "--data-dir", data, umask=umask)
        counted.append(_check_private(f"{top}/backups", f"backup under umask {umask:03o}"))

    # A data directory group or others can write is refused, one they can read is used
    # with one warning line; the same for backup's destination.
    data = f"{base}/u000/var/lib/data"
    for mode in (0o777, 0o770, 0o702):
        os.chmod(data, mode)
        status, said = serve_once(data, password)
        check(status != 0, f"serve started on a {mode:04o} data directory")
        check(f"{data} (mode {mode:04o})" in said and f"chmod 700 {data}" in said, f"refusal of {mode:04o}: {said[-300:]!r}")
    os.chmod(data, 0o750)
    warned = Server(data, password, output).start()
    check(warned.stop() == 0, "SIGTERM exit status after the warning")
    with open(output, "rb") as f:
        lines = [line for line in f.read().split(b"\n") if b"warning: group or others can read" in line]
    check(len(lines) == 1 and f"{data} (mode 0750); run: chmod 700 {data}".encode() in lines[0], f"warning lines: {lines!r}")
    shared = f"{base}/shared"
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    status, _, err = tool("backup", shared, "--data-dir", data, check_status=False)
    check(status != 0 and b"chmod 700" in err and not os.listdir(shared), f"backup into a 0777 directory: {status} {err[-200:]!r}")
    os.chmod(data, 0o700)
    no_secrets(secrets, [base])
    cleanup(base)
    return (
        f"serve and backup under umask 000 and 077: {sum(counted)} directories and files, every "
        f"directory 0700 and file 0600; serve refused 0777, 0770 and 0702 data directories "
        f"(naming mode and fix), started on 0750 with one warning; backup refused a 0777 destination"
    )
