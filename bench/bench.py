#!/usr/bin/env python3
"""The emulator's benchmark: every figure against its target, written to bench/RESULTS.md.

Run through `bench/run` (which builds the release binary and checks for wrk, openssl and taskset).
Standard library only; reuses bench/keys.py (the `Emulator` process wrapper, the keep-alive HTTPS
`Vault` client and the create-latency benchmark). The binary is copied to a temporary directory
first, so a rebuild during the run cannot swap it out halfway.

1. Start-up: process start to the first 200 on `GET /_emulator/health` (plain HTTP) and to the
   `ready` line, `--in-memory` and on a fresh `--data-dir`; idle VmRSS 1 s after ready.
2. Throughput on one core: the server under `taskset -c 0` (`--in-memory --key-pool 0`), wrk under
   `taskset -c 1`, HTTPS keep-alive: get key, RSA-OAEP-256 wrap and unwrap with RSA-2048. A sweep
   over connections picks the smallest within 3 % of the best rate, which is then measured
   `--runs` times, interleaved with `taskset -c 0 openssl speed rsa2048`. Any non-2xx response or
   socket error fails the benchmark. Then the server's VmRSS after all those requests.
3. Create latency, RSA-2048/3072/4096, key pool warm and cold (keys.py's `bench_create`).
4. Durable writes on a fresh `--data-dir` (SQLite WAL, synchronous=FULL): EC P-256 creates of
   new versions of one key, and tag updates of one version; creates in memory for comparison.
5. The audit log's cost: unwrap throughput of two emulators on the same core, one with the audit
   log (default) and one with `--no-audit-log`, both on a fresh `--data-dir`, measured in
   alternating windows; then how many records the first wrote and dropped.
"""
import argparse
import datetime
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
import keys  # noqa: E402  (bench/keys.py, found through the path above)
from keys import Emulator, b64url, ms, unb64url  # noqa: E402

RESULTS = os.path.join(BENCH_DIR, "RESULTS.md")
BEGIN, END = "<!-- bench/run: begin -->", "<!-- bench/run: end -->"
SECTIONS = ("startup", "throughput", "create", "durable", "audit")
median = statistics.median


def log(msg):
    """Progress goes to stderr, so stdout carries only the report."""
    print(msg, file=sys.stderr, flush=True)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class BenchFailure(RuntimeError):
    """A benchmark that must not be reported as a number (errors under load)."""


# ---------------------------------------------------------------------------------------------
# 1. Start-up


def start_once(binary, storage):
    """One start: seconds to the `ready` line and to the first 200 on /_emulator/health, and
    VmRSS (MiB) 1 s after ready. The health poll starts as soon as the banner names the port,
    so it does not wait for `ready` if the listener answers earlier."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "--https-port", "0", "--http-port", "0", *storage],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port, ready = [None], [None]
    port_known, ready_seen = threading.Event(), threading.Event()

    def read_banner():
        for line in proc.stdout:
            if line.startswith("export IDENTITY_ENDPOINT="):
                port[0] = int(line.split("=", 1)[1].strip().split(":")[2].split("/")[0])
                port_known.set()
            elif line.strip() == "ready" and ready[0] is None:
                ready[0] = time.perf_counter() - t0
                ready_seen.set()
        port_known.set()  # EOF: unblock the waits below, which then fail
        ready_seen.set()

    threading.Thread(target=read_banner, daemon=True).start()
    try:
        if not port_known.wait(30) or port[0] is None:
            raise RuntimeError(f"no IDENTITY_ENDPOINT in the banner (exit code {proc.poll()})")
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port[0], timeout=5)
            try:
                conn.request("GET", "/_emulator/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.001)
            finally:
                conn.close()
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("no 200 on /_emulator/health within 30 s")
        healthy = time.perf_counter() - t0
        if not ready_seen.wait(30) or ready[0] is None:
            raise RuntimeError(f"no `ready` line (exit code {proc.poll()})")
        time.sleep(max(0.0, t0 + ready[0] + 1 - time.perf_counter()))
        return ready[0], healthy, rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def bench_startup(binary, starts):
    """`starts` starts per mode; a new temporary directory for every --data-dir start."""
    out = {}
    for mode in ("--in-memory", "fresh --data-dir"):
        samples = []
        for _ in range(starts):
            if mode == "--in-memory":
                samples.append(start_once(binary, ["--in-memory"]))
            else:
                with tempfile.TemporaryDirectory(prefix="kvemu-bench-") as d:
                    samples.append(start_once(binary, ["--data-dir", d]))
        out[mode] = samples
        log(f"  start {mode}: ready {ms(median(s[0] for s in samples))} ms, first 200 "
            f"{ms(median(s[1] for s in samples))} ms, idle RSS {median(s[2] for s in samples):.1f} MiB")
    return out


# ---------------------------------------------------------------------------------------------
# wrk


def lua_script(tmp, name, method, path, token, body=None, patch_counter=False):
    """Writes a wrk script for one request. It counts non-2xx responses itself (wrk's own
    "Non-2xx or 3xx" line only counts status ≥ 400) and prints the count in done()."""
    lines = [
        f"-- generated by bench/bench.py: {name}",
        f'wrk.method = "{method}"',
        f'wrk.path = "{path}?{keys.API}"',
        f'wrk.headers["Host"] = "{keys.VAULT_HOST}"',
        f'wrk.headers["Authorization"] = "Bearer {token}"',
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if body is not None:
        lines.append(f"wrk.body = [[{body}]]")
    if patch_counter:  # a new tag value per request, so every PATCH really changes the row
        lines += ["n = 0", "function request()", "  n = n + 1",
                  """  return wrk.format(nil, nil, nil, '{"tags":{"n":"' .. n .. '"}}')""", "end"]
    lines += [
        "local threads = {}",
        "function setup(thread) table.insert(threads, thread) end",
        "bad = 0",
        "function response(status, headers, body)",
        "  if status < 200 or status > 299 then bad = bad + 1 end",
        "end",
        "function done(summary, latency, requests)",
        "  local total = 0",
        "  for _, t in ipairs(threads) do total = total + t:get(\"bad\") end",
        '  io.write(string.format("lua non-2xx: %d\\n", total))',
        "end",
    ]
    path = os.path.join(tmp, f"{name}.lua")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


WINDOWS = []  # every wrk window's result, for the machine's "others" load in the report
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wrk(out):
    """Requests, req/s, p50/p99 (seconds), error counts from `wrk --latency` output."""
    def lat(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
        if not m:
            raise RuntimeError(f"no {p}% latency in wrk output:\n{out}")
        return float(m.group(1)) * UNITS[m.group(2)]

    mx = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m|h)\s", out, re.M)
    reqs = re.search(r"^\s+(\d+) requests in ", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    lua_bad = re.search(r"^lua non-2xx: (\d+)", out, re.M)
    if not (mx and reqs and rps and lua_bad):
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": int(reqs.group(1)), "rps": float(rps.group(1)), "p50": lat(50), "p99": lat(99),
        "max": float(mx.group(1)) * UNITS[mx.group(2)],
        "non2xx": max(int(non2xx.group(1)) if non2xx else 0, int(lua_bad.group(1))),
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
    }


def busy_cpu_seconds():
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / keys.CLK_TCK


def run_wrk(label, script, emu, conns, seconds, cpu=None):
    """One wrk window (one thread, `conns` keep-alive connections) against `emu`, with the
    server's CPU share and CPU per request over it, wrk's own CPU (a child of ours), and what
    everything else on the machine used meanwhile (a busy machine skews the figures)."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", script,
           f"https://127.0.0.1:{emu.https_port}"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    all0, srv0, cli0, t0 = busy_cpu_seconds(), emu.cpu_seconds(), sum(os.times()[2:4]), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    all1, srv1, cli1, wall = busy_cpu_seconds(), emu.cpu_seconds(), sum(os.times()[2:4]), time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchFailure(f"{label}: wrk exited with {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    r = parse_wrk(proc.stdout)
    if r["non2xx"] or r["socket_errors"]:
        raise BenchFailure(f"{label} with {conns} connections: {r['non2xx']} non-2xx responses and "
                           f"{r['socket_errors']} socket errors; wrk said:\n{proc.stdout}{proc.stderr}")
    r.update(conns=conns, server_cpu=(srv1 - srv0) / wall, client_cpu=(cli1 - cli0) / wall,
             cpu_per_req=(srv1 - srv0) / max(1, r["requests"]),
             other_cpu=max(0.0, (all1 - all0) - (srv1 - srv0) - (cli1 - cli0)) / wall)
    WINDOWS.append(r)
    log(f"  {label} c={conns}: {r['rps']:,.0f} req/s, p50 {ms(r['p50'])} ms, p99 {ms(r['p99'])} ms, "
        f"server CPU {r['server_cpu']:.0%} ({r['cpu_per_req'] * 1e6:.0f} µs/req), wrk CPU {r['client_cpu']:.0%}, "
        f"others {r['other_cpu']:.0%}")
    return r


# ---------------------------------------------------------------------------------------------
# 2. Throughput on one core


def first_request_latencies(emu, path, n):
    """Seconds taken by the first `GET path` on each of `n` new connections, TLS handshake done
    beforehand (client with TCP_NODELAY). Only a connection's first request has been seen to
    stall (~40 ms), and wrk's corrected percentiles magnify such a stall."""
    out = []
    for _ in range(n):
        vault = emu.vault()
        vault.conn.connect()
        t0 = time.perf_counter()
        vault.ok("GET", path)
        out.append(time.perf_counter() - t0)
        vault.close()
    return out


def bench_throughput(binary, runs, quick, tmp):
    sweep_s, window_s, ossl_s = (1, 2, 2) if quick else (3, 5, 3)
    wide, narrow = ([1, 4, 16], [1, 4]) if quick else ([1, 2, 4, 8, 16, 32], [1, 2, 4, 8])
    emu = Emulator(binary, ["--key-pool", "0"], cpu=0)
    try:
        # Check every request once with a verifying client before trusting wrk's numbers.
        vault = emu.vault()
        key = vault.ok("POST", "/keys/bench-rsa/create", {"kty": "RSA", "key_size": 2048})
        path = "/" + key["key"]["kid"].split("/", 3)[3]  # /keys/bench-rsa/{version}
        if vault.ok("GET", path)["key"]["kid"] != key["key"]["kid"]:
            raise BenchFailure("GET of the key version returned another kid")
        secret = b64url(os.urandom(32))
        wrapped = vault.ok("POST", f"{path}/wrapkey", {"alg": "RSA-OAEP-256", "value": secret})["value"]
        unwrapped = vault.ok("POST", f"{path}/unwrapkey", {"alg": "RSA-OAEP-256", "value": wrapped})["value"]
        if unb64url(unwrapped) != unb64url(secret):
            raise BenchFailure("unwrapkey did not return the wrapped secret")
        vault.close()
        first = first_request_latencies(emu, path, 30)
        log(f"  first request on 30 new connections: {sum(x > 0.02 for x in first)} over 20 ms, max {ms(max(first))} ms")
        served = 4 + len(first)  # the HTTPS requests above
        ops = {
            "get key": (lua_script(tmp, "get", "GET", path, emu.token), wide),
            "wrap": (lua_script(tmp, "wrap", "POST", f"{path}/wrapkey", emu.token,
                                f'{{"alg":"RSA-OAEP-256","value":"{secret}"}}'), wide),
            "unwrap": (lua_script(tmp, "unwrap", "POST", f"{path}/unwrapkey", emu.token,
                                  f'{{"alg":"RSA-OAEP-256","value":"{wrapped}"}}'), narrow),
        }
        sweeps, best = {}, {}
        for op, (script, conns) in ops.items():
            sweeps[op] = [run_wrk(f"sweep {op}", script, emu, c, sweep_s, cpu=1) for c in conns]
            served += sum(r["requests"] for r in sweeps[op])
            top = max(r["rps"] for r in sweeps[op])
            # the smallest concurrency within 3 % of the best: saturated, with the least queueing
            best[op] = min(r["conns"] for r in sweeps[op] if r["rps"] >= 0.97 * top)
        measured, speeds = {op: [] for op in ops}, []
        for i in range(runs):
            for op, (script, _) in ops.items():
                measured[op].append(run_wrk(f"run {i + 1} {op}", script, emu, best[op], window_s, cpu=1))
                served += measured[op][-1]["requests"]
            speeds.append(keys.openssl_speed(ossl_s)[0])
            log(f"  run {i + 1} openssl speed rsa2048 on CPU 0: {speeds[-1]:,.0f} sign/s")
        rss = rss_mib(emu.pid)
    finally:
        emu.stop()
    return {"sweeps": sweeps, "best": best, "measured": measured, "speeds": speeds, "rss": rss, "first": first,
            "served": served, "sweep_s": sweep_s, "window_s": window_s, "ossl_s": ossl_s}


# ---------------------------------------------------------------------------------------------
# 4. Durable writes


def bench_durable(binary, runs, quick, tmp):
    """Per run, one fresh emulator per storage (so no run inherits another's versions), each
    connection count in turn. Not pinned: this is about the commit path, not one core."""
    conns, window_s = ((4, 16), 1) if quick else ((1, 4, 16), 3)
    cases = [("create", "fresh --data-dir"), ("update", "fresh --data-dir"), ("create", "--in-memory")]
    results = {(w, s, c): [] for w, s in cases for c in conns}
    for i in range(runs):
        for storage in ("fresh --data-dir", "--in-memory"):
            data_dir = tempfile.mkdtemp(prefix="kvemu-bench-", dir=tmp) if storage != "--in-memory" else None
            emu = Emulator(binary, ["--key-pool", "0"], data_dir=data_dir)
            try:
                vault = emu.vault()
                key = vault.ok("POST", "/keys/durable-ec/create", {"kty": "EC", "crv": "P-256"})
                path = "/" + key["key"]["kid"].split("/", 3)[3]
                if vault.ok("PATCH", path, {"tags": {"n": "0"}})["tags"] != {"n": "0"}:
                    raise BenchFailure("PATCH did not set the tag")
                vault.close()
                scripts = {
                    "create": lua_script(tmp, "durable-create", "POST", "/keys/durable-ec/create", emu.token,
                                         '{"kty":"EC","crv":"P-256"}'),
                    "update": lua_script(tmp, "durable-update", "PATCH", path, emu.token, patch_counter=True),
                }
                for work, st in cases:
                    if st == storage:
                        for c in conns:
                            results[(work, st, c)].append(
                                run_wrk(f"run {i + 1} {work} ({storage})", scripts[work], emu, c, window_s))
            finally:
                emu.stop()
                if data_dir:
                    shutil.rmtree(data_dir, ignore_errors=True)
    return {"results": results, "conns": conns, "window_s": window_s, "cases": cases, "fs": fs_type(tmp)}


# ---------------------------------------------------------------------------------------------
# 5. The audit log's cost on unwrap


def audit_counters(emu):
    """(records written, records dropped) from the emulator's /metrics."""
    status, body = emu._http_get("/metrics")
    if status != 200:
        raise BenchFailure(f"/metrics answered {status}")
    text = body.decode()
    found = {name: int(v) for name, v in re.findall(r"^kvemu_audit_(records|dropped)_total (\d+)$", text, re.M)}
    return found.get("records", 0), found.get("dropped", 0)


def bench_audit(binary, runs, quick, tmp):
    """Two emulators pinned to CPU 0 (so the audit writer shares the core with the requests), wrk
    on CPU 1, `--key-pool 0`, each on a fresh `--data-dir`; the same unwrap against each in
    alternating windows, the order swapped every run."""
    window_s, conns = (2, 4) if quick else (5, 4)
    modes = {"on": [], "off": ["--no-audit-log"]}
    emus, dirs, scripts = {}, [], {}
    try:
        for mode, extra in modes.items():
            dirs.append(tempfile.mkdtemp(prefix=f"kvemu-audit-{mode}-", dir=tmp))
            emus[mode] = Emulator(binary, ["--key-pool", "0", *extra], cpu=0, data_dir=dirs[-1])
            vault = emus[mode].vault()
            key = vault.ok("POST", "/keys/bench-rsa/create", {"kty": "RSA", "key_size": 2048})
            path = "/" + key["key"]["kid"].split("/", 3)[3]
            secret = b64url(os.urandom(32))
            wrapped = vault.ok("POST", f"{path}/wrapkey", {"alg": "RSA-OAEP-256", "value": secret})["value"]
            if unb64url(vault.ok("POST", f"{path}/unwrapkey", {"alg": "RSA-OAEP-256", "value": wrapped})["value"]) \
                    != unb64url(secret):
                raise BenchFailure("unwrapkey did not return the wrapped secret")
            vault.close()
            scripts[mode] = lua_script(tmp, f"unwrap-audit-{mode}", "POST", f"{path}/unwrapkey", emus[mode].token,
                                       f'{{"alg":"RSA-OAEP-256","value":"{wrapped}"}}')
        results = {mode: [] for mode in modes}
        for i in range(runs):
            for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
                results[mode].append(run_wrk(f"run {i + 1} unwrap, audit log {mode}", scripts[mode], emus[mode],
                                             conns, window_s, cpu=1))
        time.sleep(1)  # the writer's last batch
        served = 3 + sum(r["requests"] for r in results["on"])
        written, dropped = audit_counters(emus["on"])
        off_written, _ = audit_counters(emus["off"])
    finally:
        for emu in emus.values():
            emu.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    if off_written:
        raise BenchFailure(f"--no-audit-log wrote {off_written} audit records")
    return {"results": results, "conns": conns, "window_s": window_s, "served": served, "written": written,
            "dropped": dropped}


def fs_type(path):
    """The file system `path` is on (from /proc/self/mounts), with a warning for tmpfs, where
    fsync costs nothing."""
    best, kind = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, fstype = line.split()[:3]
            if os.path.join(os.path.realpath(path), "").startswith(os.path.join(mnt, "")) and len(mnt) > len(best):
                best, kind = mnt, fstype
    note = " (**tmpfs: fsync is free; set TMPDIR to a disk**)" if kind == "tmpfs" else ""
    return f"{kind} (`{best}`){note}"


# ---------------------------------------------------------------------------------------------
# 5. Machine


def first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


class BusyWatcher:
    """Notes every rustc/cargo/cc1/node/pytest process seen while the benchmark runs."""

    def __init__(self):
        self.seen = set()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            self.seen.update(p.split(":", 1)[1] for p in keys.busy_processes())
            time.sleep(5)


# ---------------------------------------------------------------------------------------------
# Report


def rate(x):
    return f"{x:,.0f}"


def check(value, target, better):
    """'✅'/'❌' for a figure against a target (better: 'min' = at least, 'max' = at most)."""
    if target is None:
        return "–"
    return "✅" if (value >= target if better == "min" else value <= target) else "❌"


def report(ctx, startup, tput, creates, durable, audit=None):
    out = []
    w = out.append
    w("## Latest `bench/run` (generated; edit outside the markers)\n")
    w(f"Command: `{ctx['command']}`. Measured {ctx['started']:%Y-%m-%d %H:%M} UTC, {ctx['elapsed']:.0f} s in all "
      f"({', '.join(f'{k} {v:.0f} s' for k, v in ctx['timings'].items())}).\n")
    w(f"- Machine: {keys.machine()}; load average before {ctx['load'][0]:.2f} / {ctx['load'][1]:.2f} / "
      f"{ctx['load'][2]:.2f} (1/5/15 min)")
    w(f"- Quiet? Before: {ctx['quiet']}. Build/test processes seen during the run: {ctx['busy'] or 'none'}")
    w(f"- {ctx['openssl']}; {ctx['wrk']}; {ctx['rustc']}")
    w(f"- Build: {ctx['build']}")
    others = [r["other_cpu"] for r in ctx["windows"]]
    if others:
        w(f"- Other processes during the {len(others)} wrk windows: median {median(others):.0%}, max "
          f"{max(others):.0%} of a core (from `/proc/stat`; near 0 % on a quiet machine)")
    if ctx["quick"]:
        w("- `--quick`: few samples and short windows; the numbers only show that the script works")
    w("")

    rows = []  # (figure, target text, measured text, met)
    if startup:
        for mode, s in startup.items():
            h = median(x[1] for x in s)
            target = 0.050 if mode == "--in-memory" else None
            rows.append((f"Start → first 200 on `/_emulator/health`, `{mode}`", "≤ 50 ms (issue 8)" if target else "–",
                         f"{ms(h)} ms", check(h, target, "max")))
        rows.append(("Idle RSS 1 s after ready, `--in-memory`", "–",
                     f"{median(x[2] for x in startup['--in-memory']):.1f} MiB", "–"))
    if tput:
        sign = median(tput["speeds"])
        for op, target in (("get key", 15000), ("wrap", 15000), ("unwrap", None)):
            rps = median(r["rps"] for r in tput["measured"][op])
            rows.append((f"{op} req/s, RSA-2048, server on one core (c={tput['best'][op]})",
                         f"≥ {rate(target)}" if target else "–", rate(rps), check(rps, target, "min")))
        ratio = median(r["rps"] for r in tput["measured"]["unwrap"]) / sign
        rows.append((f"unwrap req/s ÷ `openssl speed` sign/s ({rate(sign)})", "≥ 0.90", f"{ratio:.2f}",
                     check(ratio, 0.90, "min")))
        rows.append((f"Server RSS after {rate(tput['served'])} requests", "–", f"{tput['rss']:.1f} MiB", "–"))
    for r in creates or []:
        if r["size"] == 2048 and "data-dir" not in r["mode"]:
            warm = r["mode"].startswith("warm")
            rows.append((f"Create RSA-2048 p50, pool {'warm' if warm else 'cold'}", "≤ 5 ms" if warm else "–",
                         f"{ms(r['p50'])} ms", check(r["p50"], 0.005 if warm else None, "max")))
    if durable:
        for work, st in durable["cases"]:
            per_c = {c: median(r["rps"] for r in durable["results"][(work, st, c)]) for c in durable["conns"]}
            c = max(per_c, key=per_c.get)
            rows.append((f"Durable {work}s/s, `{st}` (best of c={'/'.join(map(str, durable['conns']))}: c={c})",
                         "–", rate(per_c[c]), "–"))
    if audit:
        ratio = (median(r["rps"] for r in audit["results"]["on"]) / median(r["rps"] for r in audit["results"]["off"]))
        rows.append((f"unwrap req/s, audit log on ÷ off (c={audit['conns']}, `--data-dir`)", "≥ 0.95 (issue 20)",
                     f"{ratio:.3f}", check(ratio, 0.95, "min")))
    w("### Summary\n")
    w("| figure | target | measured | met? |")
    w("|---|---|---|---|")
    out.extend(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    w("")

    if startup:
        n = len(startup["--in-memory"])
        w(f"### Start-up (median of {n} starts each; default flags otherwise, so the RSA key pool fills after ready)\n")
        w("| mode | start → `ready` | start → first 200 on `/_emulator/health` (min–max) | idle RSS 1 s after ready |")
        w("|---|---|---|---|")
        for mode, s in startup.items():
            hs = [x[1] for x in s]
            w(f"| `{mode}` | {ms(median(x[0] for x in s))} ms | {ms(median(hs))} ms ({ms(min(hs))}–{ms(max(hs))}) | "
              f"{median(x[2] for x in s):.1f} MiB |")
        w("")
    if tput:
        w(f"### Throughput, RSA-2048, server on one core\n")
        w("Server `taskset -c 0 keyvault-emulator --in-memory --key-pool 0`; load `taskset -c 1 wrk -t1 -cC "
          "--latency` over HTTPS keep-alive with a valid token (Host `default.vault.localhost`): "
          "`GET /keys/bench-rsa/{version}`, `POST …/wrapkey` and `POST …/unwrapkey` with RSA-OAEP-256 "
          "and a 32-byte value. Every request was checked once first; no window had a non-2xx response "
          "or a socket error. CPU columns are shares of one core over the window (server: "
          "utime+stime from `/proc/PID/stat`; wrk: its rusage; others: every other process, from "
          "`/proc/stat`, kernel threads included, which should be near 0 % on a quiet machine).\n")
        first = tput["first"]
        w("Latency percentiles are wrk's, which wrk 4 corrects for coordinated omission: a response slower "
          "than twice the mean interval between requests on a connection adds synthetic samples for the "
          "requests a steady-rate client would have sent meanwhile, so one stall moves p99 a lot in a short "
          f"window at low concurrency. Stalls to know of: the first `GET` on each of {len(first)} new "
          f"connections (Python client, TCP_NODELAY, after the TLS handshake) took {ms(median(first))} ms "
          f"median, and {sum(x > 0.02 for x in first)} of them over 20 ms (max {ms(max(first))} ms); "
          "about 40 ms there would point at Nagle's algorithm on the server meeting the client's delayed "
          "ACK.\n")
        w(f"Concurrency sweep, one {tput['sweep_s']} s window each:\n")
        w("| op | connections | req/s | p50 | p99 | max | server CPU | server CPU per request | wrk CPU | others |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for op, rs in tput["sweeps"].items():
            for r in rs:
                w(f"| {op} | {r['conns']} | {rate(r['rps'])} | {ms(r['p50'])} ms | {ms(r['p99'])} ms | {ms(r['max'])} ms | "
                  f"{r['server_cpu']:.0%} | {r['cpu_per_req'] * 1e6:.0f} µs | {r['client_cpu']:.0%} | {r['other_cpu']:.0%} |")
        sign = median(tput["speeds"])
        w(f"\nThe smallest concurrency within 3 % of the best, measured {len(tput['speeds'])} × {tput['window_s']} s, "
          f"each run followed by `taskset -c 0 openssl speed -seconds {tput['ossl_s']} rsa2048` "
          f"(median {rate(sign)} sign/s = {1e6 / sign:.0f} µs per private-key operation). Medians:\n")
        w("| op | connections | req/s | p50 | p99 | server CPU | server CPU per request | wrk CPU | others | "
          "req/s ÷ openssl sign/s | per-run req/s |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for op, rs in tput["measured"].items():
            rps = median(r["rps"] for r in rs)
            w(f"| {op} | {tput['best'][op]} | **{rate(rps)}** | {ms(median(r['p50'] for r in rs))} ms | "
              f"{ms(median(r['p99'] for r in rs))} ms | {median(r['server_cpu'] for r in rs):.0%} | "
              f"{median(r['cpu_per_req'] for r in rs) * 1e6:.0f} µs | {median(r['client_cpu'] for r in rs):.0%} | "
              f"{median(r['other_cpu'] for r in rs):.0%} | "
              f"{f'{rps / sign:.2f}' if op == 'unwrap' else '–'} | {', '.join(rate(r['rps']) for r in rs)} |")
        w(f"\nopenssl sign/s per run: {', '.join(rate(s) for s in tput['speeds'])}. Server VmRSS after "
          f"{rate(tput['served'])} requests (the checks plus every wrk window above): {tput['rss']:.1f} MiB"
          f"{' (fewer than 100k: --quick)' if tput['served'] < 100_000 else ''}.\n")
    if creates:
        w("### Create latency (bench/keys.py `bench_create`)\n")
        w("Sequential `POST /keys/{name}/create` over one keep-alive TLS connection, a fresh emulator "
          "(`--in-memory` unless marked) per run. Warm: measured once `/_emulator/health` reports the pool "
          "full. p50/p90 are medians over runs of each run's percentile; \"all\" pools every sample.\n")
        w("| RSA | pool | creates × runs | p50 | p90 | all: p50 / p90 / max | per-run p50s |")
        w("|---|---|---|---|---|---|---|")
        for r in creates:
            w(f"| {r['size']} | {r['mode']} | {r['n']} × {r['runs']} | {ms(r['p50'])} ms | {ms(r['p90'])} ms | "
              f"{ms(r['pooled_p50'])} / {ms(r['pooled_p90'])} / {ms(r['max'])} ms | "
              f"{', '.join(ms(x) for x in r['run_p50s'])} |")
        w("")
    if durable:
        w("### Durable writes\n")
        w(f"A fresh emulator per run and storage (`--key-pool 0`, not pinned), `wrk -t1 -cC`, "
          f"{durable['window_s']} s windows. create: `POST /keys/durable-ec/create` "
          "`{\"kty\":\"EC\",\"crv\":\"P-256\"}` (each a new version of one key; EC, so the figure is about "
          "the commit, not key generation). update: `PATCH /keys/durable-ec/{version}` with a new "
          "`{\"tags\":{\"n\":…}}` per request. On a `--data-dir`, SQLite runs in WAL mode with "
          f"synchronous=FULL: every commit is fsynced; the data directories were on {durable['fs']}. "
          "Server CPU can exceed 100 % here (not pinned). Medians:\n")
        w("| workload | storage | connections | req/s | p50 | p99 | server CPU | others | per-run req/s |")
        w("|---|---|---|---|---|---|---|---|---|")
        for (work, st, c), rs in durable["results"].items():
            w(f"| {work} | `{st}` | {c} | {rate(median(r['rps'] for r in rs))} | "
              f"{ms(median(r['p50'] for r in rs))} ms | {ms(median(r['p99'] for r in rs))} ms | "
              f"{median(r['server_cpu'] for r in rs):.0%} | {median(r['other_cpu'] for r in rs):.0%} | "
              f"{', '.join(rate(r['rps']) for r in rs)} |")
        w("")
    if audit:
        on = median(r["rps"] for r in audit["results"]["on"])
        off = median(r["rps"] for r in audit["results"]["off"])
        w("### Audit log on vs off: unwrap, RSA-2048, server on one core\n")
        w(f"Two emulators side by side, each `taskset -c 0 keyvault-emulator --key-pool 0` on a fresh "
          f"`--data-dir`, one with the audit log (the default) and one with `--no-audit-log`; "
          f"`taskset -c 1 wrk -t1 -c{audit['conns']}` `POST …/unwrapkey` (RSA-OAEP-256, 32 bytes) against each "
          f"in alternating {audit['window_s']} s windows, the order swapped every run. The audit writer runs on "
          f"the server's core, so its cost is in the figure. The audited emulator wrote {audit['written']:,} "
          f"records for {audit['served']:,} requests and dropped {audit['dropped']:,}.\n")
        w("| audit log | req/s (median) | p50 | p99 | server CPU per request | per-run req/s |")
        w("|---|---|---|---|---|---|")
        for mode in ("on", "off"):
            rs = audit["results"][mode]
            w(f"| {mode} | {rate(median(r['rps'] for r in rs))} | {ms(median(r['p50'] for r in rs))} ms | "
              f"{ms(median(r['p99'] for r in rs))} ms | {median(r['cpu_per_req'] for r in rs) * 1e6:.0f} µs | "
              f"{', '.join(rate(r['rps']) for r in rs)} |")
        w("")
        w(f"On ÷ off: **{on / off:.3f}** ({(1 - on / off):+.1%} loss; target ≤ 5 %: "
          f"{check(on / off, 0.95, 'min')}).\n")
    return "\n".join(out).rstrip() + "\n"


def write_results(text):
    """Replaces what is between the markers, inserting them under the title the first time."""
    with open(RESULTS) as f:
        doc = f.read()
    block = f"{BEGIN}\n{text}{END}\n"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + block + "\n" + rest.split(END, 1)[1].lstrip("\n")
    else:
        title, nl, body = doc.partition("\n")
        doc = f"{title}{nl}\n{block}\n{body.lstrip(chr(10))}"
    with open(RESULTS, "w") as f:
        f.write(doc)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="bench/run passes its arguments here; it also takes --no-build.")
    ap.add_argument("--binary", default=os.path.join(REPO, "target/release/keyvault-emulator"))
    ap.add_argument("--runs", type=int, default=5, help="measured runs per figure (default 5)")
    ap.add_argument("--quick", action="store_true", help="few samples and short windows, to test the script")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="first wait until no rustc/cargo/cc1/node/pytest has run for 60 s (at most SECONDS)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--no-write", action="store_true", help="print the report only; leave bench/RESULTS.md alone")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if only - set(SECTIONS) or args.runs < 1:
        ap.error(f"--only takes {','.join(SECTIONS)}; --runs at least 1")
    command = os.environ.get("BENCH_COMMAND") or shlex.join(["bench/bench.py", *sys.argv[1:]])
    source = os.path.abspath(args.binary)
    os.chdir(REPO)  # git and relative paths below
    ctx = {"command": command, "quick": args.quick, "build": keys.build_info(os.path.relpath(source, REPO)),
           "openssl": first_line(["openssl", "version"]), "wrk": first_line(["wrk", "--version"]),
           "rustc": first_line(["rustc", "--version"])}  # before the watcher, which would see rustc
    ctx["quiet"] = "not checked (no --wait-quiet)"
    if args.wait_quiet:
        quiet, waited, why = keys.wait_quiet(args.wait_quiet)
        ctx["quiet"] = (f"quiet (no build/test process and CPU < 30 % busy for 60 s; waited {waited:.0f} s)"
                        if quiet else f"NOT quiet after waiting {waited:.0f} s ({why})")
    watcher = BusyWatcher()
    ctx["load"] = os.getloadavg()
    ctx["started"] = datetime.datetime.now(datetime.timezone.utc)
    timings = {}
    with tempfile.TemporaryDirectory(prefix="kvemu-bench-") as tmp:
        binary = os.path.join(tmp, "keyvault-emulator")
        shutil.copy2(source, binary)  # a rebuild during the run must not swap the binary
        results = {}
        for name, fn in (("startup", lambda: bench_startup(binary, 5 if args.quick else 15)),
                         ("throughput", lambda: bench_throughput(binary, args.runs, args.quick, tmp)),
                         ("create", lambda: keys.bench_create(binary, args.runs, args.quick)),
                         ("durable", lambda: bench_durable(binary, args.runs, args.quick, tmp)),
                         ("audit", lambda: bench_audit(binary, args.runs, args.quick, tmp))):
            if name in only:
                log(f"{name}…")
                t0 = time.monotonic()
                results[name] = fn()
                timings[name] = time.monotonic() - t0
    ctx.update(timings=timings, elapsed=sum(timings.values()), busy=" ".join(sorted(watcher.seen)),
               windows=WINDOWS)
    text = report(ctx, results.get("startup"), results.get("throughput"), results.get("create"),
                  results.get("durable"), results.get("audit"))
    print(text)
    if not args.no_write:
        write_results(text)
        log(f"wrote {os.path.relpath(RESULTS)}")


if __name__ == "__main__":
    # SIGTERM unwinds like Ctrl-C, so every emulator this script started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except BenchFailure as err:
        log(f"\nBENCHMARK FAILED: {err}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("\ninterrupted; every emulator started was stopped")
        sys.exit(130)
