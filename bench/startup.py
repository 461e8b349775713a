#!/usr/bin/env python3
"""Start-to-ready and idle memory of the release binary.

Runs `keyvault-emulator --in-memory` (and with a fresh --data-dir) N times on free ports,
measures the time from process start to the `ready` line and to the first 200 on
/_emulator/health, then reads the idle resident set size (VmRSS) one second after ready.
Prints medians. Usage: bench/startup.py [path/to/keyvault-emulator] [runs]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/keyvault-emulator"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 7


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_run(extra):
    start = time.perf_counter()
    proc = subprocess.Popen([BIN, "--https-port", "0", "--http-port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    http = None
    for line in proc.stdout:
        if line.startswith("export IDENTITY_ENDPOINT="):
            http = line.split("=", 1)[1].strip().rsplit("/msi/token", 1)[0]
        if line.strip() == "ready":
            break
    ready = time.perf_counter() - start
    while True:
        try:
            if urllib.request.urlopen(f"{http}/_emulator/health", timeout=1).status == 200:
                break
        except OSError:
            pass
    healthy = time.perf_counter() - start
    time.sleep(1)
    rss = rss_kib(proc.pid)
    proc.terminate()
    proc.wait()
    return ready * 1000, healthy * 1000, rss / 1024


def fresh_data_dir_run():
    with tempfile.TemporaryDirectory(prefix="kvemu-bench-") as data_dir:
        return one_run(["--data-dir", data_dir])


def report(name, run):
    results = [run() for _ in range(RUNS)]
    ready, healthy, rss = (statistics.median(col) for col in zip(*results))
    print(f"{name}: start→ready {ready:.1f} ms, start→first 200 on /_emulator/health {healthy:.1f} ms, idle RSS {rss:.1f} MiB (median of {RUNS})")


if __name__ == "__main__":
    report("--in-memory", lambda: one_run(["--in-memory"]))
    report("fresh --data-dir", fresh_data_dir_run)
    print(f"machine: {os.cpu_count()} cores, {os.uname().machine}, {os.uname().sysname} {os.uname().release}")
