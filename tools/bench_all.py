"""Runs every benchmark in one go and prints one table: each figure beside its target and
beside the machine limit it is measured against, all taken in this run (see BENCHMARKS.md).
Started by `tools/bench-all`, which builds the release products first.

Steps, in order: a pwrite+fdatasync loop (the flush every durable design is bound by);
`tallystick-bench eventlog` (raw LMDB commits and cursor scan, durable appends, verifying
scan); `tallystick-bench engine --fixture DIR` (start-up fold, memory per token); the
offline tools' `verify`, `state-at`, `report --html` and `backup` on that 1M-event fixture; the real server's start-up on
the backup (replay through `tallystick serve`); `tools/load/run` (wrk: GET /config, mint,
token listing); `tools/nginx/bench` (wrk: forward-auth checks, the shipped nginx site); the
PostgreSQL store: `tallystick-bench postgres` (durable appends beside pgbench, the ceiling),
`postgres-visibility` (a revocation through one server refused by another), `postgres-fold`
(start-up fold of the same 1M-event fixture from PostgreSQL) and `tools/load/shared` (wrk
minting on one and on two servers sharing a store). Then, for each `--tokens` size (1M and
10M by default): `tallystick-bench checkpoint` (start-up from scratch and from a checkpoint,
checkpoint bytes beside the log bytes they cover, mints into the big instance across
checkpoints, peak memory), and for the largest size `tools/load/run` on a copy of its
fixture with a checkpoint every 50,000 events (p50/p99/p99.9 per route while checkpoints
are written, and their moments).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RELEASE = os.path.join(ROOT, ".build", "release")


def log(line):
    print(line, file=sys.stderr, flush=True)


def number(text):
    return float(text.replace(",", ""))


def fsync_loop(directory, count=2000, size=4096):
    """Appends `size` bytes and `fdatasync`s, `count` times: flushes per second."""
    path = os.path.join(directory, "fsync-loop")
    block = b"\x5a" * size
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, block)
            os.fdatasync(fd)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        os.remove(path)
    return count / elapsed


def flush_shapes(directory, count=400, pages=15, runs=10):
    """Milliseconds per `fdatasync` after overwriting `pages` 4 KiB pages of a written file:
    (a) as one contiguous run, (b) spread over `runs` separate places, like an LMDB commit's
    copy-on-write pages. The gap is what each separate run costs this disk."""
    path = os.path.join(directory, "flush-shapes")
    page = 4096
    span = 16384  # pages in the file (64 MiB), written and flushed once first
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
    try:
        os.pwrite(fd, b"\0" * (span * page), 0)
        os.fdatasync(fd)
        sizes = [pages // runs + (1 if i < pages % runs else 0) for i in range(runs)]
        step = span // runs

        def timed_loop(placements):
            started = time.perf_counter()
            for i in range(count):
                for first, length in placements(i):
                    os.pwrite(fd, b"\x5a" * (length * page), first * page)
                os.fdatasync(fd)
            return (time.perf_counter() - started) / count * 1000

        together = timed_loop(lambda i: [((i * pages) % (span - pages), pages)])
        apart = timed_loop(lambda i: [((r * step + i * 7) % (span - 8), n) for r, n in enumerate(sizes)])
    finally:
        os.close(fd)
        os.remove(path)
    return together, apart


def run(command, **kwargs):
    log("bench-all: " + " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"bench-all: {command[0]} failed:\n{result.stdout}\n{result.stderr}")
    print(result.stdout, end="", file=sys.stderr, flush=True)
    return result.stdout


def row(text, label):
    """The measured column of the bench table row whose name matches the regular expression
    `label` (the table separates its columns by two or more spaces)."""
    for line in text.splitlines():
        match = re.match(label + r"\s{2,}(.*)$", line)
        if match:
            return match.group(1).strip()
    sys.exit(f"bench-all: no row '{label}' in the benchmark output")


def first_number(text):
    return number(re.search(r"[\d,]+(\.\d+)?", text).group())


def timed(command):
    started = time.perf_counter()
    run(command)
    return time.perf_counter() - started


def timed_quiet(command):
    """Seconds `command` takes, its standard output thrown away (state-at prints ~190 MB)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def server_start(data_dir):
    """Seconds from spawning `tallystick serve` on `data_dir` to its `listening` line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [os.path.join(RELEASE, "tallystick"), "serve", "--port", "0", "--data-dir", data_dir,
         "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "TALER_MERCHANT_PASSWORD": "bench-all-start"},
    )
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.terminate()
    process.wait(timeout=60)
    if "listening on" not in line:
        sys.exit(f"bench-all: the server did not start on the fixture: {line!r}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--append-events", default="100000", help="events in the durable append test")
    parser.add_argument("--duration", default="10s", help="wrk duration per route")
    parser.add_argument("--fixture", help="keep the 1M-event engine fixture here and reuse it")
    parser.add_argument("--tokens", default="1000000,10000000",
                        help="state sizes (tokens in one instance) of the checkpoint runs, comma-separated")
    parser.add_argument("--large-fixture", help="keep the largest --tokens fixture here and reuse it")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="tallystick-bench-all-")
    fixture = args.fixture or os.path.join(work, "fixture")
    bench = os.path.join(RELEASE, "tallystick-bench")
    tool = os.path.join(RELEASE, "tallystick-log")
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = os.getloadavg()
    try:
        log("bench-all: fsync loop (4 KiB pwrite + fdatasync, 2,000 times)")
        fsyncs = fsync_loop(work)
        log("bench-all: flush shapes (15 pages overwritten in 1 run or in 10 runs, then fdatasync)")
        together_ms, apart_ms = flush_shapes(work)
        eventlog = run([bench, "eventlog", "--append-events", args.append_events, "--directory", work + "/eventlog"])
        engine = run([bench, "engine", "--fixture", fixture])
        records = 1_000_001
        verify_s = timed([tool, "verify", "--data-dir", fixture])
        state_at_s = timed_quiet(
            [tool, "state-at", "--sequence", str(records), "--json", "--data-dir", fixture])
        report_path = os.path.join(work, "report.html")
        report_s = timed(
            [tool, "report", "--html", report_path, "--instance", "bench-0", "--data-dir", fixture])
        report_mb = os.path.getsize(report_path) / 1e6
        backup_s = timed([tool, "backup", work + "/backup", "--data-dir", fixture])
        start_s = server_start(work + "/backup")
        shutil.rmtree(work + "/backup", ignore_errors=True)
        json_bench = run([bench, "json"])
        login = run([bench, "login", "--burst", "100", "--rounds", "10"])
        environment = dict(os.environ, DURATION=args.duration)
        http = run([os.path.join(ROOT, "tools", "load", "run")], env=environment)
        proxy = run([os.path.join(ROOT, "tools", "nginx", "bench")], env=environment)
        postgres = run([bench, "postgres", "--append-events", args.append_events])
        visibility = run([bench, "postgres-visibility", "--rounds", "500"])
        postgres_fold = run([bench, "postgres-fold", "--fixture", fixture])
        shared = run([os.path.join(ROOT, "tools", "load", "shared")], env=environment)
        sizes = [int(n) for n in args.tokens.split(",") if n]
        checkpoint_runs = {}
        for size in sizes:
            path = fixture if size == 1_000_000 else (
                args.large_fixture if size == max(sizes) and args.large_fixture
                else os.path.join(work, f"fixture-{size}"))
            checkpoint_runs[size] = (run([bench, "checkpoint", "--tokens", str(size), "--fixture", path]), path)
        large_output, large_path = checkpoint_runs[max(sizes)]
        large_http = run([os.path.join(ROOT, "tools", "load", "run")],
                         env=dict(environment, FIXTURE=large_path, CHECKPOINT_INTERVAL="50000"))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the fixture too, unless --fixture put it elsewhere
    load_after = os.getloadavg()

    def route(name, output=http):
        """req/s, p50 and p99 of the wrk row `name` of tools/load/run or tools/nginx/bench."""
        match = re.search(rf"^{name}\s+([\d.]+) req/s\s+p50\s+(\S+)\s+p99\s+(\S+)", output, re.M)
        return float(match.group(1)), match.group(2), match.group(3)

    def tail(name, output=http):
        """p99.9 and max of a tools/load/run row (`?` where the row has none)."""
        match = re.search(rf"^{name}\s.*p99\.9\s+(\S+)\s+max\s+(\S+)", output, re.M)
        return match.groups() if match else ("?", "?")

    def checkpoint_moments(output):
        """The `checkpoint TIME ... seconds=S sequence=N` lines of tools/load/run, as text."""
        found = re.findall(r"^checkpoint \S+T(\S+)Z .*seconds=([\d.]+) sequence=(\d+)", output, re.M)
        return ", ".join(f"{at} ({float(seconds):.2f} s, #{sequence})" for at, seconds, sequence in found)

    config, mint, listing = route("config"), route("mint"), route("list")

    def milliseconds(text):
        """wrk's latency text (`812.00us`, `1.20ms`, `1.01s`) in milliseconds."""
        value, unit = re.match(r"([\d.]+)(us|ms|s)$", text).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    same_config, authz = route("config", proxy), route("auth-request", proxy)
    plain, guarded = route("nginx-plain", proxy), route("nginx-auth", proxy)
    plain1, guarded1 = route("nginx-plain-1conn", proxy), route("nginx-auth-1conn", proxy)
    added_p99 = milliseconds(guarded1[2]) - milliseconds(plain1[2])
    ceiling = re.search(r"^ceiling: .*? ([\d.]+) %; .*plain/ceiling ([\d.]+) %", proxy, re.M)
    cpu_model = re.search(r"^CPU per request, .*plain/with ([\d.]+) %", proxy, re.M)
    lmdb1 = first_number(row(eventlog, "LMDB, 1 event per flushed commit"))
    lmdb100 = first_number(row(eventlog, "LMDB, 100 events per flushed commit"))
    shaped = row(eventlog, r"LMDB, log-shaped: \d+ events on \d+ streams, format 2 indexes")
    shaped_rate = first_number(shaped)
    shaped_commit = re.search(r"\(([\d.]+ ms), ([\d,]+ KiB) written\)", shaped)
    records_only = first_number(row(eventlog, r"LMDB, log-shaped: \d+ events on \d+ streams, records only"))
    append = first_number(row(eventlog, r"log: \d+ appenders on \d+ streams, durable"))
    per_commit = row(eventlog, r"  mean events per commit").split("  ")[0]
    writes = row(eventlog, r"  written per commit").split("  ")[0]
    append_latency = row(eventlog, r"  append latency p50 / p99").split("  ")[0]
    raw_scan = first_number(row(eventlog, "LMDB cursor scan, same log"))
    scan = first_number(row(eventlog, "log: forward scan verifying hashes"))
    verify_bench = row(eventlog, r"log: verify\(\) incl\. indexes").split("  ")[0]
    fold = first_number(row(engine, "fold at start-up, hashes checked"))
    memory = first_number(row(engine, "resident memory per token"))
    json_mint = row(json_bench, r"mint answer: JSONWriter / JSONEncoder").split("  ")[0]
    json_list = row(json_bench, r"20-token listing: JSONWriter / JSONEncoder").split("  ")[0]
    hash_ms = row(login, r"one password hash \(scrypt[^)]*\)").split("  ")[0]
    fair = row(login, r"correct login during a \d+-wrong-password burst, median").split("  ")[0]
    fair_hashes = float(re.search(r"= ([\d.]+) hashes", fair).group(1))
    worst = row(login, r"  worst of \d+ rounds").split("  ")[0]

    def met(ok):
        return "met" if ok else "MISSED"

    pg_before, pg_after = (number(n) for n in re.findall(
        r"^pgbench: \d+ clients, 1-row durable inserts\s+([\d,]+) commits/s", postgres, re.M))
    pg_append = first_number(row(postgres, r"log: \d+ appenders on \d+ streams, durable"))
    pg_per_commit = row(postgres, r"  mean events per commit").split("  ")[0]
    seen = re.search(r"p50 ([\d.]+) ms,? +p99 ([\d.]+) ms", visibility)
    pg_fold = first_number(row(postgres_fold, "fold from PostgreSQL, hashes checked"))
    lmdb_fold = first_number(row(postgres_fold, "fold from LMDB, hashes checked"))

    def shared_run(name):
        match = re.search(rf"^{re.escape(name)}\s+([\d.]+) req/s\s+p99\s+([\d.]+) ms", shared, re.M)
        return float(match.group(1)), match.group(2)

    one_server = shared_run("one server, one instance")
    one_stream = shared_run("two servers, one instance (one stream)")
    own_instances = shared_run("two servers, one instance each")

    table = [
        ("figure", "measured", "target", "machine limit, same run"),
        ("flush: 4 KiB pwrite + fdatasync", f"{fsyncs:,.0f}/s", "", "(limits.md ~7,600/s fast disk)"),
        ("LMDB, 1 event per flushed commit", f"{lmdb1:,.0f} commits/s", "", f"flush loop {fsyncs:,.0f}/s"),
        ("flush: 15 pages in 1 run / in 10 runs", f"{together_ms:.2f} / {apart_ms:.2f} ms", "",
         "what a commit's scattered pages cost"),
        ("durable append, 64 appenders", f"{append:,.0f} events/s", f">= 50,000: {met(append >= 50000)}",
         f"LMDB 100/commit {lmdb100:,.0f} events/s"),
        ("  per commit", f"{per_commit} events, {writes}", "",
         f"LMDB log-shaped commits {shaped_rate:,.0f} events/s"
         + (f" ({shaped_commit.group(1)}, {shaped_commit.group(2)})" if shaped_commit else "")),
        ("  what-if: no index written per commit", f"{records_only:,.0f} events/s", "",
         "LMDB commits of the records alone"),
        ("  per 1-event commit time", f"{append / lmdb1:.1f} events", "the target's 50,000/5,000 = 10",
         "append rate / LMDB 1-event commit rate"),
        ("  append latency p50 / p99", append_latency, "", ""),
        ("verifying forward scan", f"{scan:,.0f} events/s", f">= 2,000,000: {met(scan >= 2e6)}",
         f"raw LMDB scan {raw_scan:,.0f} events/s"),
        ("start-up fold, 1M tokens", f"{fold:,.0f} events/s", f">= 1,000,000: {met(fold >= 1e6)}",
         f"raw LMDB scan {raw_scan:,.0f} events/s"),
        ("tallystick serve start on 1M events", f"{start_s:.2f} s ({records / start_s:,.0f} events/s)",
         "", "fold + process start"),
        ("memory per token (RssAnon)", f"{memory:.0f} bytes", f"<= 256: {met(memory <= 256)}", ""),
        ("GET /config (the ceiling)", f"{config[0]:,.0f} req/s", "", f"p50 {config[1]}, p99 {config[2]}"),
        ("mint, durable (refreshable Bearer)", f"{mint[0]:,.0f} req/s = {100 * mint[0] / config[0]:.1f} %",
         f">= 33.3 %: {met(mint[0] >= config[0] / 3)}",
         f"p50 {mint[1]}, p99 {mint[2]}, p99.9 {tail('mint')[0]}; flush loop {fsyncs:,.0f}/s"),
        ("GET /private/tokens, Bearer", f"{listing[0]:,.0f} req/s = {100 * listing[0] / config[0]:.1f} %",
         f">= 70 %: {met(listing[0] >= 0.7 * config[0])}",
         f"p50 {listing[1]}, p99 {listing[2]}, p99.9 {tail('list')[0]}"),
        ("  mint p99 / p50 (checkpoints crossed)",
         f"{milliseconds(mint[2]) / milliseconds(mint[1]):.1f} x",
         f"<= 5 x: {met(milliseconds(mint[2]) <= 5 * milliseconds(mint[1]))}",
         f"checkpoints saved at {checkpoint_moments(http) or 'none'}"),
        ("GET /authz/auth-request, allowed (internal)",
         f"{authz[0]:,.0f} req/s = {100 * authz[0] / same_config[0]:.1f} %",
         f">= 80 %: {met(authz[0] >= 0.8 * same_config[0])}",
         f"GET /config of the same server {same_config[0]:,.0f} req/s; p99 {authz[2]}"),
        ("nginx: orders with auth_request / without",
         f"{guarded[0]:,.0f} / {plain[0]:,.0f} req/s = {100 * guarded[0] / plain[0]:.1f} %",
         f">= 50 %: {met(guarded[0] >= 0.5 * plain[0])}",
         f"upstream: nginx return 200; by CPU per request {cpu_model.group(1)} %; an authorizer "
         f"deciding nothing: {ceiling.group(1)} % (by CPU {ceiling.group(2)} %)"),
        ("  p99 added, one connection", f"{added_p99:.2f} ms ({guarded1[2]} vs {plain1[2]})",
         f"<= 1 ms: {met(added_p99 <= 1)}", f"p50 {guarded1[1]} vs {plain1[1]}"),
        ("verify, 1M events (CLI)", f"{verify_s:.2f} s", f"< 2 s: {met(verify_s < 2)}",
         f"in-process verify() {verify_bench}"),
        ("backup, 1M events (CLI)", f"{backup_s:.2f} s", f"< 1 s: {met(backup_s < 1)}", ""),
        ("state-at --json, 1M tokens (CLI)", f"{state_at_s:.2f} s", f"< 2 s: {met(state_at_s < 2)}",
         "all 1M tokens printed"),
        ("report --html, 1M tokens, one instance (CLI)", f"{report_s:.2f} s, {report_mb:.1f} MB",
         f"< 3 s, < 10 MB: {met(report_s < 3 and report_mb < 10)}", "verify + fold + history scan + page"),
        ("answer JSON: mint, writer / JSONEncoder", json_mint, "", "tallystick-bench json"),
        ("answer JSON: 20 tokens, writer / JSONEncoder", json_list, "", "tallystick-bench json"),
        ("login during a 100-guess burst, median", fair, f"<= 2 hashes: {met(fair_hashes <= 2)}",
         f"one hash {hash_ms}; worst {worst}"),
        ("PostgreSQL: durable append, 64 appenders", f"{pg_append:,.0f} events/s",
         f">= 30,000: {met(pg_append >= 30000)}",
         f"pgbench 1-row commits {pg_before:,.0f} / {pg_after:,.0f}/s before / after"
         f" = {2 * pg_append / (pg_before + pg_after):.2f}x; {pg_per_commit} events per commit"),
        ("PostgreSQL: revocation seen by the other server",
         f"p50 {seen.group(1)} ms, p99 {seen.group(2)} ms", f"p99 <= 50 ms: {met(float(seen.group(2)) <= 50)}",
         "two engines, LISTEN/NOTIFY"),
        ("PostgreSQL: start-up fold, 1M tokens", f"{pg_fold:,.0f} events/s",
         f">= 500,000: {met(pg_fold >= 500000)}", f"same log from LMDB {lmdb_fold:,.0f} events/s"),
        ("PostgreSQL: mint, one server", f"{one_server[0]:,.0f} req/s", "", f"p99 {one_server[1]} ms"),
        ("  two servers, one instance each", f"{own_instances[0]:,.0f} req/s", "",
         f"combined; p99 {own_instances[1]} ms"),
        ("  two servers, one instance (one stream)", f"{one_stream[0]:,.0f} req/s", "",
         f"combined; p99 {one_stream[1]} ms"),
    ]
    for size, (output, _) in sorted(checkpoint_runs.items()):
        label = f"{size // 1_000_000}M tokens" if size >= 1_000_000 else f"{size:,} tokens"
        latency = row(output, r"  latency p50 / p99 / p99.9 / max")
        values = [float(v) for v in re.findall(r"[\d.]+", latency.split("ms")[0])]
        checkpoints = re.findall(r"^  checkpoint at (\d+)\s+(.*?)\s{2,}written <= log: (\w+)", output, re.M)
        mint_rate = row(output, r"mints, \d+ tasks, durable").split("  ")[0]
        restart = first_number(row(output, "start-up from checkpoint [+] tail"))
        peak = float(re.search(r"= ([\d.]+) x steady", row(output, "peak resident memory while serving")).group(1))
        table += [
            (f"{label}: start-up from scratch / from checkpoint",
             f"{row(output, 'start-up, fold from scratch').split('  ')[0]} / "
             f"{row(output, 'start-up from checkpoint [+] tail').split('  ')[0]}",
             f"<= 3 s from checkpoint: {met(restart <= 3)}" if size >= 10_000_000 else "",
             "same log, same run"),
            (f"{label}: steady memory per token", row(output, "steady resident memory per token").split("  ")[0],
             "", ""),
            (f"{label}: peak memory while serving", row(output, "peak resident memory while serving").split("  ")[0],
             f"<= 2 x steady: {met(peak <= 2)}", ""),
            (f"{label}: first checkpoint (every part)", row(output, r"first checkpoint \(every part\)").split("  ")[0],
             "", "in the background"),
            (f"{label}: mints into it, p50 / p99 / p99.9", latency.split("  ")[0],
             f"p99 <= 5 x p50: {met(values[1] <= 5 * values[0])}",
             f"{mint_rate}, {len(checkpoints)} checkpoints crossed"),
        ] + [(f"  checkpoint at {seq}", what, f"written <= log bytes: {ok}", "") for seq, what, ok in checkpoints]
    large_mint, large_list = route("mint", large_http), route("list-while-minting", large_http)
    large_label = f"{max(sizes) // 1_000_000}M"
    saved = re.findall(r"^checkpoint (\S+) .*seconds=([\d.]+) sequence=(\d+)", large_http, re.M)
    table += [
        (f"server on {large_label} tokens: mint (wrk)",
         f"p50 {large_mint[1]}, p99 {large_mint[2]}, p99.9 {tail('mint', large_http)[0]}",
         f"p99 <= 5 x p50: {met(milliseconds(large_mint[2]) <= 5 * milliseconds(large_mint[1]))}",
         f"{large_mint[0]:,.0f} req/s; {len(saved)} checkpoints in the runs"),
        (f"server on {large_label} tokens: listing while minting",
         f"p50 {large_list[1]}, p99 {large_list[2]}, p99.9 {tail('list-while-minting', large_http)[0]}",
         f"p99 <= 5 x p50: {met(milliseconds(large_list[2]) <= 5 * milliseconds(large_list[1]))}",
         f"{large_list[0]:,.0f} req/s"),
        (f"  checkpoints during the {large_label} runs", str(len(saved)), "",
         checkpoint_moments(large_http)),
    ]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    print(f"tallystick bench-all, {started}; load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores)")
    for number_, r in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if number_ == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
