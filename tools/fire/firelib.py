"""Shared pieces of the fault harness: the real server as a child process, a small HTTP
client, the offline tool, the record of every secret a run used, and the search for them.

Only the standard library is used here, so every fault but the schemathesis run works with a
plain `python3`. Every wait is bounded; nothing sleeps to synchronise with the server except
polling its readiness line.
"""

import base64
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def build_dir():
    """Where the built `tallystick` and `tallystick-log` are (FIRE_BUILD=debug|release)."""
    return os.path.join(ROOT, ".build", os.environ.get("FIRE_BUILD", "debug"))


def binary(name):
    path = os.path.join(build_dir(), name)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"fire: {path} is missing; build it first (swift build --product {name})")
    return path


class Failed(Exception):
    """A check that did not hold; the message says which and why (never a secret)."""


def check(condition, message):
    if not condition:
        raise Failed(message)


def say(line):
    print(line, flush=True)


class Secrets:
    """Every token, password and credential string a run sent or received, to be searched for
    byte for byte in the data directory and the server's output afterwards."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = set()  # the 52 characters after `secret-token:`
        self.others = set()  # passwords and Basic credentials, as bytes

    def token(self, access_token):
        with self.lock:
            self.tokens.add(access_token.removeprefix("secret-token:").encode())

    def password(self, instance, password):
        with self.lock:
            self.others.add(password.encode())
            self.others.add(base64.b64encode(f"{instance}:{password}".encode()))

    def find_in(self, paths):
        """The files among `paths` (files or directories) that contain a secret, with which
        kind; the secrets themselves are not returned (they would end up in a report)."""
        found = []
        window = re.compile(rb"[0-9A-Z]{52,}")
        for path in _files(paths):
            with open(path, "rb") as f:
                data = f.read()
            hits = 0
            for run in window.finditer(data):
                text = run.group()
                for start in range(len(text) - 51):
                    if text[start : start + 52] in self.tokens:
                        hits += 1
            others = sum(1 for s in self.others if s in data)
            if hits or others:
                found.append(f"{path}: {hits} token(s), {others} password(s) or credential(s)")
        return found


def _files(paths):
    for path in paths:
        if os.path.isdir(path):
            for directory, _, names in os.walk(path):
                for name in sorted(names):
                    yield os.path.join(directory, name)
        elif os.path.exists(path):
            yield path


def new_password():
    return "fire-" + secrets.token_urlsafe(18)


def admin_password():
    """A fresh admin password, and a new Secrets that already holds it: every fault searches
    its data and output for it (and for what else it registers) at the end."""
    password = new_password()
    tracked = Secrets()
    tracked.password("admin", password)
    return password, tracked


# Every server started, so that a failed fault leaves none running (see `kill_all`).
STARTED = []


def kill_all():
    """SIGKILLs every server this run started that is still running (after a failed check)."""
    for server in STARTED:
        if server.alive():
            server.kill()


class Server:
    """One `tallystick serve` child with its standard output and error appended to one file
    (kept across restarts, searched for secrets at the end)."""

    def __init__(
        self, data_dir, password, output, extra=(), log_level="info", file_limit=None, umask=None, env=None
    ):
        self.data_dir = data_dir
        self.password = password
        self.output = output
        self.extra = list(extra)
        self.log_level = log_level
        self.file_limit = file_limit  # RLIMIT_NOFILE (soft and hard) of the child, if set
        self.umask = umask  # the child's umask, if set
        self.env = dict(env or {})  # variables added to the child's environment
        self.process = None
        self.port = None

    def start(self, timeout=120):
        """Starts and waits (polling the output file) for the `listening on` line."""
        STARTED.append(self)
        with open(self.output, "ab") as out:
            start_offset = out.tell()
            # The password goes in the environment, not on the command line (spec §10.8).
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith("TALLYSTICK_") and k != "TALER_MERCHANT_PASSWORD"
            }
            env["TALER_MERCHANT_PASSWORD"] = self.password
            env.update(self.env)
            self.process = subprocess.Popen(
                [binary("tallystick"), "serve", "--port", "0", "--data-dir", self.data_dir]
                + ["--log-level", self.log_level]
                + self.extra,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                env=env,
                preexec_fn=child_setup(self.file_limit, self.umask),
            )
        deadline = time.monotonic() + timeout
        pattern = re.compile(rb"listening on http://[^:]+:(\d+)")
        while time.monotonic() < deadline:
            with open(self.output, "rb") as f:
                f.seek(start_offset)
                match = pattern.search(f.read())
            if match:
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                raise Failed(f"server exited with {self.process.returncode} before listening")
            time.sleep(0.02)
        self.process.kill()
        raise Failed("server did not print its listening line in time")

    def cpu_seconds(self):
        """User plus system CPU time the server has used so far (from /proc/PID/stat)."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_descriptors(self):
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def signal(self, number):
        self.process.send_signal(number)

    def wait(self, timeout=60):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise Failed(f"server did not exit within {timeout} s")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait()

    def stop(self):
        """SIGTERM and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def client(self, timeout=30, source=None):
        return Client(self.port, timeout, source)


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, reopened after an error; from the
    loopback address `source` when given (the login throttle counts failures per address)."""

    def __init__(self, port, timeout=30, source=None):
        self.port = port
        self.timeout = timeout
        self.source = (source, 0) if source else None
        self.connection = None

    def request(self, method, path, headers=None, body=None):
        """(status, body bytes); raises OSError or http.client errors when the connection
        fails (the server died or closed it)."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout, source_address=self.source
            )
        try:
            self.connection.request(method, path, body=body, headers=headers or {})
            response = self.connection.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def mint(self, credential, scope, description, duration='"forever"', prefix=""):
        body = f'{{"scope":"{scope}","duration":{{"d_us":{duration}}},"description":"{description}"}}'
        return self.request(
            "POST",
            prefix + "/private/token",
            {"Authorization": credential, "Content-Type": "application/json"},
            body.encode(),
        )


def child_setup(file_limit=None, umask=None):
    """A `preexec_fn` giving a child process its own file limit and umask (or None)."""
    if file_limit is None and umask is None:
        return None

    def setup():
        import resource

        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (file_limit, file_limit))
        if umask is not None:
            os.umask(umask)

    return setup


def basic(instance, password):
    return "Basic " + base64.b64encode(f"{instance}:{password}".encode()).decode()


def bearer(token):
    return "Bearer " + token


def taler_error(status, body):
    """None when `body` is a Taler ErrorDetail, else why not."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"{status} body is not JSON"
    if not isinstance(value, dict) or not isinstance(value.get("code"), int):
        return f"{status} body has no numeric code"
    if not isinstance(value.get("hint"), str):
        return f"{status} body has no hint"
    return None


def tool(*args, check_status=True, umask=None):
    """Runs `tallystick-log ARGS` (with `umask` when given); (status, stdout, stderr)."""
    result = subprocess.run(
        [binary("tallystick-log"), *args], capture_output=True, timeout=600,
        preexec_fn=child_setup(umask=umask),
    )
    if check_status and result.returncode != 0:
        raise Failed(f"tallystick-log {args[0]} exited {result.returncode}: {result.stderr.decode()[-300:]}")
    return result.returncode, result.stdout, result.stderr


def where(data_dir, store=None):
    """The offline tool's arguments naming a log: a PostgreSQL store, else the directory."""
    return ["--store", store] if store else ["--data-dir", data_dir]


def verify(data_dir, store=None):
    """`tallystick-log verify --json` of the log in `data_dir` (or the PostgreSQL `store`);
    fails unless valid. Returns the report."""
    status, out, err = tool("verify", "--json", *where(data_dir, store), check_status=False)
    report = json.loads(out) if out.strip() else {}
    check(status == 0 and report.get("valid") is True, f"verify failed: {out.decode()[:300]} {err.decode()[:300]}")
    return report


def tokens_in_log(data_dir, store=None):
    """{description: status} for every token of every instance in the log (in `data_dir`, or
    the PostgreSQL `store`), judged a day from now (the run's tokens never expire), and how
    many tokens there are."""
    at = str(int(time.time()) + 86400)
    _, out, _ = tool("state-at", "--time", at, "--json", *where(data_dir, store))
    state = json.loads(out)
    statuses = {}
    count = 0
    for instance in state["instances"]:
        for token in instance["tokens"]:
            count += 1
            key = (instance["id"], token.get("description"))
            statuses[key] = token["status"]
    return statuses, count


def temporary_directory(prefix):
    return tempfile.mkdtemp(prefix=f"tallystick-fire-{prefix}-")


def fault_paths(prefix):
    """A fault's temporary directory, the server's data directory in it and the file that
    captures the server's output."""
    base = temporary_directory(prefix)
    return base, base + "/data", base + "/server.out"


def cleanup(directory):
    """Removes a fault's temporary directory, unless FIRE_KEEP is set (to look at it)."""
    if not os.environ.get("FIRE_KEEP"):
        shutil.rmtree(directory, ignore_errors=True)


def parallel(items, work, threads=8):
    """Runs `work(item)` over `items` on `threads` threads; returns the failures' messages."""
    items = list(items)
    failures = []
    lock = threading.Lock()

    def run(chunk):
        for item in chunk:
            message = work(item)
            if message:
                with lock:
                    failures.append(message)

    chunks = [items[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=run, args=(c,)) for c in chunks if c]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return failures


def main(faults, argv):
    """Runs the named faults (functions taking `short`) and prints one line per fault and a
    final `N passed, N failed` line; exit status 1 when any failed."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", action="store_true", help="the quick versions run by tools/test")
    parser.add_argument("names", nargs="*", help=f"faults to run (default all): {', '.join(faults)}")
    args = parser.parse_args(argv)
    names = args.names or list(faults)
    passed = failed = 0
    for name in names:
        if name not in faults:
            raise SystemExit(f"fire: unknown fault {name}; known: {', '.join(faults)}")
        started = time.monotonic()
        try:
            summary = faults[name](args.short)
            passed += 1
            say(f"fire: PASS {name} ({time.monotonic() - started:.1f} s): {summary}")
        except Failed as failure:
            failed += 1
            say(f"fire: FAIL {name} ({time.monotonic() - started:.1f} s): {failure}")
        except Exception as error:  # a harness error is a failure too, never a silent pass
            failed += 1
            say(f"fire: FAIL {name} ({time.monotonic() - started:.1f} s): {type(error).__name__}: {error}")
        finally:
            kill_all()
    say(f"fire: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit("fire: import this module; run tools/fire/run")
