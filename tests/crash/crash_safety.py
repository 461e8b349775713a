#!/usr/bin/env python3
"""Crash-safety harness: SIGKILL the emulator under concurrent writes, restart it on the same
data directory, and check that every acknowledged write survived and nothing is half-present.

Standard library only (Python 3.11). Talks HTTPS to the vault `default` (connecting to
127.0.0.1 with SNI and Host `default.vault.localhost`, TLS verified against the data directory's
CA) with a managed-identity token from the emulator's App Service endpoint, like bench/keys.py.

One round:
  1. start the emulator (`--data-dir D --https-port 0 --http-port 0`; ports are read from the
     banner at every start) and check that it starts cleanly: `ready` within the time limit, no
     WARN or ERROR line on stderr;
  2. verify the whole model against the vault (below), resolving the writes that were in flight
     at the previous kill;
  3. load: THREADS client threads, each owning its own key names (so the writes to one key are
     sequential and only its in-flight request is uncertain), issue a random mix of writes:
     create (RSA-2048, first version or a new one), rotate, update (PATCH /keys/{name}/{version}:
     enabled, nbf, exp, tags), delete, recover and purge, plus wrapKey with a fixed version
     (recording kid, plaintext and wrapped bytes);
  4. after a random delay, SIGKILL the emulator. A request whose 2xx response was fully received
     (complete body, parsed) is acknowledged and goes into the model; a request that got no
     complete response is "maybe" (it may or may not have applied).

Verification, per key name: the key is active, soft-deleted or absent exactly as the
acknowledged writes say (or as the one in-flight write would make it); every acknowledged
version is listed by /keys/{name}/versions and GETtable (not GETtable while the key is
soft-deleted), in creation order, the current version being the last; at most one version the
model does not know, and only when a create/rotate of that key was in flight; every version's
attributes and tags equal the last acknowledged update (or the in-flight one); the version's
JWK and attributes are self-consistent and match the versions listing; every enabled version
round-trips a fresh wrapKey/unwrapKey, and every acknowledged wrap of it unwraps to its
plaintext (a disabled version must refuse with KeyDisabled; at the end every disabled version is
re-enabled and checked); a soft-deleted key shows its acknowledged deletedDate and current
version; /keys and /deletedkeys list exactly the model's active and deleted names. At the end,
every key is recovered and every version enabled and all is verified once more, then one
graceful stop (SIGTERM, exit code 0), a last start and verification.

Kills during a start: the first start on the fresh data directory (master key, CA, migrations,
token signing key being created) and, with probability --start-kills, a restart are SIGKILLed at
a random point up to about their usual time to `ready`; the next start must still be clean.
These come on top of the --kills under load.

Self-test: --inject-fault KIND damages the database after a kill as a durability bug would
(lose-version, revert-update, undelete, corrupt-material); the run must then fail.

Usage:
  tests/crash/crash_safety.py [BINARY] [--kills N] [--seed S] [--threads T] ...
  BINARY defaults to $KVEMU_BIN, else target/debug/keyvault-emulator (relative to the repo).
  Full run: --kills 100. CI (tests/sdk/run.sh suite `crash`): --kills 10.

Deterministic with --seed: the operations, key choices, plaintexts and kill delays come from
the seed. Which request a kill interrupts still depends on timing, so a rerun with the same seed
replays the same choices, not necessarily the same outcome. On failure the data directory and
the emulator's logs are kept and their path printed. Exit status: 0 all checks passed, 1 a check
failed, 2 the harness could not run.
"""
import argparse
import base64
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

VAULT = "default"
VAULT_HOST = "default.vault.localhost"
API = "api-version=7.6"
RETENTION_SECONDS = 90 * 86400  # the default vault: 90 days, no purge protection
RECOVERY_LEVEL = "Recoverable+Purgeable"
WRAP_ALGS = ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LEVEL = re.compile(r"^\S+\s+(ERROR|WARN)\b")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HarnessError(Exception):
    """The harness itself cannot go on (not a finding about the emulator)."""


# ---------------------------------------------------------------------------------------------
# The emulator process


class Emulator:
    """One data directory; each start is a new process with new free ports."""

    def __init__(self, binary, data_dir, log_dir, pool_spec, log_level, ready_timeout):
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.pool_spec = pool_spec
        self.extra_args = ["--key-pool", pool_spec]
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.proc = None
        self.starts = 0
        self.https_port = self.http_port = None
        self.tls = None
        self.token = None
        self.stderr_path = None
        self.reported = 0  # WARN/ERROR lines of the current process already reported

    def _spawn(self):
        self.starts += 1
        n = self.starts
        self.reported = 0
        self.https_port = self.http_port = None
        self.out_path = os.path.join(self.log_dir, f"start-{n:03d}.stdout")
        self.stderr_path = os.path.join(self.log_dir, f"start-{n:03d}.stderr")
        # Only the flags below configure the child: no KVEMU_CONFIG/KVEMU_VAULTS/... from the
        # caller (tests/sdk/run.sh exports some for the SDK suites).
        env = {k: v for k, v in os.environ.items() if not k.startswith("KVEMU_")}
        env["KVEMU_LOG"] = self.log_level
        env["NO_COLOR"] = "1"
        cmd = [self.binary, "--data-dir", self.data_dir, "--https-port", "0", "--http-port", "0", *self.extra_args]
        with open(self.out_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        return n, self.out_path

    def start_killed(self, delay):
        """A start SIGKILLed `delay` seconds in, whether or not it got to `ready`. Returns
        (reached ready?, problems): exiting on its own or logging WARN/ERROR are problems."""
        self._spawn()
        deadline = time.monotonic() + delay
        problems = []
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                problems.append(f"a start exited with code {self.proc.returncode} by itself: {self.stderr_tail()!r}")
                break
            time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
        self.kill()
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            ready = "\nready\n" in f.read()
        problems.extend(f"emulator logged during a killed start: {line}" for line in self.log_problems())
        return ready, problems

    def start(self):
        """Starts the process and waits for `ready`. Returns (seconds to ready, problems): the
        problems are start failures (no ready, WARN/ERROR on stderr)."""
        t0 = time.monotonic()
        n, out_path = self._spawn()
        problems = []
        banner = ""
        deadline = t0 + self.ready_timeout
        while True:
            with open(out_path, encoding="utf-8", errors="replace") as f:
                banner = f.read()
            if "\nready\n" in banner:
                break
            code = self.proc.poll()
            if code is not None:
                problems.append(f"the emulator exited with code {code} before `ready`; "
                                f"stderr: {self.stderr_tail()!r}")
                return time.monotonic() - t0, problems
            if time.monotonic() > deadline:
                problems.append(f"no `ready` within {self.ready_timeout} s; stderr: {self.stderr_tail()!r}")
                return time.monotonic() - t0, problems
            time.sleep(0.01)
        ready_s = time.monotonic() - t0
        ca_path = None
        for line in banner.splitlines():
            if line.startswith("export AZURE_KEYVAULT_URL="):
                self.https_port = int(line.strip().rsplit(":", 1)[1])
            elif line.startswith("export IDENTITY_ENDPOINT="):
                self.http_port = int(urllib.parse.urlsplit(line.split("=", 1)[1].strip()).port)
            elif line.startswith("CA certificate:"):
                ca_path = line.split(":", 1)[1].split()[0]
        if not (self.https_port and self.http_port and ca_path):
            raise HarnessError(f"start {n}: could not read the ports and CA path from the banner:\n{banner}")
        logged = self.log_problems()
        self.reported = len(logged)
        problems.extend(f"emulator logged at start: {line}" for line in logged)
        self.tls = ssl.create_default_context(cafile=ca_path)
        self.token = self._token()
        return ready_s, problems

    def stderr_tail(self, size=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - size))
                return ANSI.sub("", f.read().decode(errors="replace"))
        except OSError:
            return ""

    def log_problems(self):
        """WARN and ERROR lines on the current process's stderr so far."""
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                lines = [ANSI.sub("", line.rstrip("\n")) for line in f]
        except OSError:
            return []
        return [line for line in lines if LEVEL.match(line)]

    def wait_pool_full(self, timeout=30):
        """Waits until /_emulator/health reports every RSA pool size at the configured depth, so
        the load's first creates take pooled keys (the pool is in memory: empty at every start)."""
        want = {}
        for part in self.pool_spec.split(","):
            if ":" in part:
                size, depth = part.split(":")
                want[size.strip()] = int(depth)
        deadline = time.monotonic() + timeout
        while want:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
            try:
                conn.request("GET", "/_emulator/health")
                pool = json.loads(conn.getresponse().read()).get("rsaKeyPool", {})
            finally:
                conn.close()
            if all(pool.get(size, 0) >= depth for size, depth in want.items()) or time.monotonic() > deadline:
                return
            time.sleep(0.02)

    def _token(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            conn.request("GET", "/msi/token?resource=https://vault.azure.net&api-version=2019-08-01",
                         headers={"X-IDENTITY-HEADER": "keyvault-emulator"})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise HarnessError(f"token endpoint answered {resp.status}: {body[:300]!r}")
        return json.loads(body)["access_token"]

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def stop(self, timeout=20):
        """Graceful stop (SIGTERM). Returns the exit code (None if it had to be killed)."""
        if not self.proc:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def client(self, timeout=30):
        return Client(self, timeout)


class _VaultConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1, with SNI, certificate check and Host for `default.vault.localhost`."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Client:
    """One keep-alive connection to the vault. `call` raises on any transport failure (no
    response, or a response whose body did not arrive complete and parse): such a request is
    not acknowledged."""

    def __init__(self, emulator, timeout):
        self.conn = _VaultConnection(VAULT_HOST, emulator.https_port, context=emulator.tls, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        if "api-version=" not in path:
            path = f"{path}{'&' if '?' in path else '?'}{API}"
        payload = json.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except Exception:
            self.conn.close()
            raise
        # A body that is not complete JSON is no acknowledgement either (ValueError propagates).
        return resp.status, (json.loads(data) if data else None)

    def close(self):
        self.conn.close()


def path_of(link):
    """/path?query of an absolute nextLink."""
    parts = urllib.parse.urlsplit(link)
    return parts.path + ("?" + parts.query if parts.query else "")


# ---------------------------------------------------------------------------------------------
# The model: what the acknowledged writes say


class Version:
    __slots__ = ("version", "attrs", "tags", "wraps")

    def __init__(self, version, attrs, tags):
        self.version = version
        self.attrs = attrs  # the attributes object of the last acknowledged write
        self.tags = tags  # None or a dict
        self.wraps = []  # (alg, plaintext bytes, wrapped b64url) acknowledged


class KeyModel:
    __slots__ = ("name", "state", "versions", "deleted_date")

    def __init__(self, name):
        self.name = name
        self.state = "absent"  # absent | active | deleted
        self.versions = []  # creation order; kept while soft-deleted, cleared by purge
        self.deleted_date = None

    def version(self, vid):
        for v in self.versions:
            if v.version == vid:
                return v
        return None


class Pending:
    """The one write of a thread whose outcome is unknown."""

    __slots__ = ("op", "key", "version", "request", "expected_tags")

    def __init__(self, op, key, version=None, request=None, expected_tags=None):
        self.op = op
        self.key = key
        self.version = version
        self.request = request
        self.expected_tags = expected_tags

    def __repr__(self):
        return f"{self.op} {self.key}{'/' + self.version if self.version else ''}"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # op -> acknowledged count
        self.maybe = {}  # op -> in flight at a kill
        self.maybe_applied = 0
        self.maybe_absent = 0
        self.wraps = 0
        self.checks = 0
        self.failures = []

    def ack(self, op):
        with self.lock:
            if op == "wrap":
                self.wraps += 1
            else:
                self.acked[op] = self.acked.get(op, 0) + 1

    def add_maybe(self, op):
        with self.lock:
            self.maybe[op] = self.maybe.get(op, 0) + 1

    def resolved(self, applied):
        with self.lock:
            if applied:
                self.maybe_applied += 1
            else:
                self.maybe_absent += 1

    def check(self, n=1):
        with self.lock:
            self.checks += n

    def fail(self, message):
        with self.lock:
            self.failures.append(message)
        print(f"FAILURE: {message}", file=sys.stderr, flush=True)


class Worker:
    """A client thread's keys, its random stream and its in-flight write."""

    def __init__(self, index, keys_per_thread):
        self.index = index
        self.keys = [KeyModel(f"t{index}-k{j}") for j in range(keys_per_thread)]
        self.pending = None
        self.counter = 0


# ---------------------------------------------------------------------------------------------
# Load


def attrs_of(body):
    return dict(body.get("attributes") or {})


def version_of_kid(kid):
    return kid.rstrip("/").rsplit("/", 1)[1]


class Load:
    def __init__(self, args, stats, emulator, round_no, killed):
        self.args = args
        self.stats = stats
        self.emulator = emulator
        self.round_no = round_no
        self.killed = killed

    def choose(self, w, rng):
        a = self.args
        choices = []  # (weight, op, key)
        for k in w.keys:
            if k.state == "absent":
                choices.append((2, "create", k))
            elif k.state == "active":
                if len(k.versions) < a.max_versions:
                    choices.append((1, "create", k))
                    choices.append((1, "rotate", k))
                choices.append((3, "update", k))
                if any(v.attrs.get("enabled") and len(v.wraps) < a.max_wraps for v in k.versions):
                    choices.append((2, "wrap", k))
                choices.append((1, "delete", k))
            else:
                choices.append((2, "recover", k))
                choices.append((1, "purge", k))
        total = sum(c[0] for c in choices)
        x = rng.uniform(0, total)
        for weight, op, k in choices:
            x -= weight
            if x <= 0:
                return op, k
        return choices[-1][1], choices[-1][2]

    def run(self, w):
        rng = random.Random(f"{self.args.seed}:load:{self.round_no}:{w.index}")
        client = self.emulator.client()
        try:
            while True:
                op, k = self.choose(w, rng)
                w.counter += 1
                tag = {"writer": f"t{w.index}", "seq": f"{self.round_no}.{w.counter}"}
                pending, method, path, body = self.prepare(op, k, rng, tag)
                try:
                    status, resp = client.call(method, path, body)
                except Exception as err:  # noqa: BLE001 - no complete response: not acknowledged
                    if not self.killed.wait(10):
                        self.stats.fail(f"round {self.round_no}: {op} {k.name}: transport error while the emulator "
                                        f"was running: {err!r}")
                    if pending:
                        w.pending = pending
                        self.stats.add_maybe(op)
                    return
                if self.killed.is_set() and status >= 500:
                    # Not expected with SIGKILL, but a 5xx written during the kill is no ack.
                    w.pending = pending
                    return
                if status not in (200, 204):
                    self.stats.fail(f"round {self.round_no}: {op} {k.name}: unexpected HTTP {status}: {resp}")
                    w.pending = pending  # whatever happened, let the next verification resolve it
                    return
                self.apply(op, k, pending, resp)
        finally:
            client.close()

    def prepare(self, op, k, rng, tag):
        name = k.name
        if op == "create":
            body = {"kty": "RSA", "key_size": 2048, "tags": tag}
            return Pending(op, name, request=body, expected_tags=tag), "POST", f"/keys/{name}/create", body
        if op == "rotate":
            current = k.versions[-1]
            return (Pending(op, name, expected_tags=current.tags), "POST", f"/keys/{name}/rotate", None)
        if op == "update":
            v = rng.choice(k.versions)
            now = int(time.time())
            enabled = rng.random() < (0.85 if v.attrs.get("enabled") else 0.7)
            body = {
                "attributes": {"enabled": enabled, "nbf": now - rng.randint(1, 1000) * 86400,
                               "exp": now + rng.randint(30, 3650) * 86400},
                "tags": tag,
            }
            return (Pending(op, name, version=v.version, request=body), "PATCH", f"/keys/{name}/{v.version}", body)
        if op == "wrap":
            v = rng.choice([v for v in k.versions if v.attrs.get("enabled") and len(v.wraps) < self.args.max_wraps])
            alg = rng.choice(WRAP_ALGS)
            plaintext = rng.randbytes(32)
            body = {"alg": alg, "value": b64url(plaintext)}
            # Not a write: nothing is pending when it is cut off.
            self._wrap = (v, alg, plaintext)
            return None, "POST", f"/keys/{name}/{v.version}/wrapkey", body
        if op == "delete":
            return Pending(op, name), "DELETE", f"/keys/{name}", None
        if op == "recover":
            return Pending(op, name), "POST", f"/deletedkeys/{name}/recover", None
        if op == "purge":
            return Pending(op, name), "DELETE", f"/deletedkeys/{name}", None
        raise AssertionError(op)

    def apply(self, op, k, pending, resp):
        """An acknowledged response: the model takes it, after a few checks of the response."""
        st = self.stats
        st.ack(op)
        where = f"round {self.round_no}: acknowledged {op} {k.name}"
        if op in ("create", "rotate"):
            vid = version_of_kid(resp["key"]["kid"])
            tags = resp.get("tags")
            st.check()
            if tags != pending.expected_tags:
                st.fail(f"{where}: response tags {tags} != expected {pending.expected_tags}")
            st.check()
            if k.version(vid) is not None:
                st.fail(f"{where}: returned an existing version id {vid}")
            k.versions.append(Version(vid, attrs_of(resp), tags))
            k.state = "active"
        elif op == "update":
            v = k.version(pending.version)
            st.check()
            if version_of_kid(resp["key"]["kid"]) != v.version:
                st.fail(f"{where}: response kid {resp['key']['kid']} is not version {v.version}")
            v.attrs = attrs_of(resp)
            v.tags = resp.get("tags")
            st.check()
            want = pending.request
            if any(v.attrs.get(f) != want["attributes"][f] for f in ("enabled", "nbf", "exp")) or v.tags != want["tags"]:
                st.fail(f"{where}: response {v.attrs} {v.tags} does not show the update {want}")
        elif op == "wrap":
            v, alg, plaintext = self._wrap
            st.check()
            if version_of_kid(resp["kid"]) != v.version:
                st.fail(f"{where}: wrapped with {resp['kid']}, not version {v.version}")
            v.wraps.append((alg, plaintext, resp["value"]))
        elif op == "delete":
            k.state = "deleted"
            k.deleted_date = resp.get("deletedDate")
        elif op == "recover":
            k.state = "active"
            k.deleted_date = None
        elif op == "purge":
            k.state = "absent"
            k.versions = []
            k.deleted_date = None


# ---------------------------------------------------------------------------------------------
# Verification


def list_all(client, path, stats, what):
    """Every item of a paged list, following nextLink. Returns (status of the first page, items)."""
    items = []
    status, body = client.call("GET", f"{path}?maxresults=10&{API}")
    first = status
    while status == 200:
        items.extend(body.get("value") or [])
        link = body.get("nextLink")
        if not link:
            break
        status, body = client.call("GET", path_of(link))
    if first == 200 and status != 200:
        stats.fail(f"{what}: a nextLink page answered {status}: {body}")
    return first, items


class Verifier:
    def __init__(self, stats, client, label):
        self.stats = stats
        self.c = client
        self.label = label

    def fail(self, message):
        self.stats.fail(f"{self.label}: {message}")

    def expect(self, cond, message):
        self.stats.check()
        if not cond:
            self.fail(message)
        return cond

    def key(self, k, pending, final=False):
        """Checks one key against the model (plus the in-flight write), then makes the model
        what the vault shows."""
        p = pending if pending is not None and pending.key == k.name else None
        name = k.name
        a_status, a_body = self.c.call("GET", f"/keys/{name}")
        d_status, d_body = self.c.call("GET", f"/deletedkeys/{name}")
        observed = {(200, 404): "active", (404, 200): "deleted", (404, 404): "absent"}.get((a_status, d_status))
        if not self.expect(observed is not None,
                           f"{name}: GET /keys answered {a_status} and GET /deletedkeys {d_status} "
                           f"(model: {k.state}, in flight: {p}): {a_body} {d_body}"):
            return
        allowed = {k.state}
        if p:
            allowed.add({"create": "active", "rotate": "active", "update": "active", "delete": "deleted",
                         "recover": "active", "purge": "absent"}[p.op])
        self.expect(observed in allowed,
                    f"{name}: is {observed}, the acknowledged writes say {k.state} (in flight: {p})")
        if p and (p.op in ("delete", "recover", "purge") or (p.op == "create" and k.state == "absent")):
            self.stats.resolved(observed != k.state)
        if observed == "active":
            self.active(k, p, a_body, final)
        elif observed == "deleted":
            self.deleted(k, p, d_body)
        else:
            self.absent(k)

    def active(self, k, p, current_body, final):
        name = k.name
        status, listed = list_all(self.c, f"/keys/{name}/versions", self.stats, name)
        if not self.expect(status == 200, f"{name}: GET /keys/{name}/versions answered {status} for an active key"):
            return
        obs_ids = [version_of_kid(item["kid"]) for item in listed]
        listed_by_id = {version_of_kid(item["kid"]): item for item in listed}
        self.expect(len(set(obs_ids)) == len(obs_ids), f"{name}: duplicate versions listed: {obs_ids}")
        model_ids = [v.version for v in k.versions]
        missing = [v for v in model_ids if v not in listed_by_id]
        self.expect(not missing, f"{name}: acknowledged versions missing after restart: {missing} "
                                 f"(listed: {obs_ids}; in flight: {p})")
        extra = [v for v in obs_ids if v not in model_ids]
        new_version_in_flight = p is not None and p.op in ("create", "rotate")
        self.expect(len(extra) <= (1 if new_version_in_flight else 0),
                    f"{name}: versions no acknowledged write made: {extra} (in flight: {p})")
        if new_version_in_flight and k.state == "active":
            self.stats.resolved(bool(extra))
        known = [v for v in obs_ids if v in model_ids]
        self.expect(known == [v for v in model_ids if v in listed_by_id] and obs_ids[len(known):] == extra,
                    f"{name}: versions out of creation order: listed {obs_ids}, model {model_ids}")
        current = version_of_kid(current_body["key"]["kid"])
        self.expect(bool(obs_ids) and current == obs_ids[-1],
                    f"{name}: current version {current} is not the newest listed {obs_ids[-1:]}")
        new_versions = []
        for vid in obs_ids:
            status, body = self.c.call("GET", f"/keys/{name}/{vid}")
            if not self.expect(status == 200, f"{name}/{vid}: listed but GET answered {status}: {body}"):
                continue
            self.consistent(name, vid, body, listed_by_id[vid])
            mv = k.version(vid)
            attrs, tags = attrs_of(body), body.get("tags")
            if mv is not None:
                acked = attrs == mv.attrs and tags == mv.tags
                if p is not None and p.op == "update" and p.version == vid:
                    want = p.request
                    applied = (all(attrs.get(f) == want["attributes"][f] for f in ("enabled", "nbf", "exp"))
                               and tags == want["tags"] and attrs.get("updated", 0) >= mv.attrs.get("updated", 0))
                    self.expect(acked or applied,
                                f"{name}/{vid}: attributes {attrs} tags {tags} are neither the acknowledged "
                                f"{mv.attrs} {mv.tags} nor the in-flight update {want}")
                    self.stats.resolved(applied and not acked)
                else:
                    self.expect(acked, f"{name}/{vid}: attributes {attrs} tags {tags} differ from the last "
                                       f"acknowledged write: {mv.attrs} {mv.tags}")
                mv.attrs, mv.tags = attrs, tags
            elif new_version_in_flight:
                # The in-flight create/rotate applied: it must look like what was asked.
                self.expect(tags == p.expected_tags and attrs.get("enabled") is True
                            and attrs.get("created") == attrs.get("updated"),
                            f"{name}/{vid}: the in-flight {p.op}'s version has attributes {attrs} tags {tags}, "
                            f"expected enabled, never updated, tags {p.expected_tags}")
                mv = Version(vid, attrs, tags)
            else:
                mv = Version(vid, attrs, tags)  # a phantom, reported above; checked from now on
            new_versions.append(mv)
            self.material(name, mv, final)
        k.versions = new_versions
        k.state = "active"
        k.deleted_date = None

    def consistent(self, name, vid, body, listed):
        """One version's JWK and attributes make sense, and agree with the versions listing."""
        key, attrs = body.get("key") or {}, body.get("attributes") or {}
        kid_path = urllib.parse.urlsplit(key.get("kid", "")).path
        n = key.get("n")
        problems = []
        if kid_path != f"/keys/{name}/{vid}":
            problems.append(f"kid {key.get('kid')}")
        if key.get("kty") != "RSA" or not n or len(unb64url(n)) != 256 or unb64url(key.get("e", "")) != b"\x01\x00\x01":
            problems.append(f"JWK {key.get('kty')} n={str(n)[:16]}… e={key.get('e')}")
        if any(m in key for m in ("d", "p", "q", "dp", "dq", "qi")):
            problems.append("private members returned")
        if not {"wrapKey", "unwrapKey"} <= set(key.get("key_ops") or []):
            problems.append(f"key_ops {key.get('key_ops')}")
        if not (isinstance(attrs.get("enabled"), bool) and isinstance(attrs.get("created"), int)
                and isinstance(attrs.get("updated"), int) and attrs["created"] <= attrs["updated"]
                and attrs.get("recoveryLevel") == RECOVERY_LEVEL):
            problems.append(f"attributes {attrs}")
        if listed.get("attributes") != attrs or listed.get("tags") != body.get("tags"):
            problems.append(f"versions listing shows {listed.get('attributes')} {listed.get('tags')}")
        self.expect(not problems, f"{name}/{vid}: inconsistent: {'; '.join(problems)}")

    def material(self, name, v, final):
        """A fresh wrap/unwrap round trip, and every acknowledged wrap unwraps to its plaintext."""
        base = f"/keys/{name}/{v.version}"
        if not v.attrs.get("enabled"):
            self.expect(not final, f"{name}/{v.version}: still disabled after the final re-enable")
            # Deferred to a round where it is enabled (at the latest the final one); it must
            # refuse as disabled, not fail otherwise.
            status, body = self.c.call("POST", f"{base}/unwrapkey", {"alg": "RSA-OAEP", "value": b64url(b"\0" * 256)})
            code = (((body or {}).get("error") or {}).get("innererror") or {}).get("code")
            self.expect(status == 403 and code == "KeyDisabled",
                        f"{name}/{v.version}: disabled, unwrap answered {status} {body}")
            return
        plaintext = os.urandom(32)
        status, body = self.c.call("POST", f"{base}/wrapkey", {"alg": "RSA-OAEP-256", "value": b64url(plaintext)})
        if self.expect(status == 200, f"{name}/{v.version}: wrapkey answered {status}: {body}"):
            status, body = self.c.call("POST", f"{base}/unwrapkey", {"alg": "RSA-OAEP-256", "value": body["value"]})
            self.expect(status == 200 and unb64url(body["value"]) == plaintext,
                        f"{name}/{v.version}: fresh wrap/unwrap round trip failed: {status} {body}")
        for alg, plain, wrapped in v.wraps:
            status, body = self.c.call("POST", f"{base}/unwrapkey", {"alg": alg, "value": wrapped})
            self.expect(status == 200 and unb64url(body["value"]) == plain,
                        f"{name}/{v.version}: an acknowledged {alg} wrap does not unwrap to its plaintext: "
                        f"{status} {body}")

    def deleted(self, k, p, body):
        name = k.name
        current = version_of_kid(body["key"]["kid"])
        self.expect(bool(k.versions) and current == k.versions[-1].version,
                    f"{name}: soft-deleted with current version {current}, model newest "
                    f"{k.versions[-1].version if k.versions else None}")
        dd, spd = body.get("deletedDate"), body.get("scheduledPurgeDate")
        self.expect(isinstance(dd, int) and spd == dd + RETENTION_SECONDS
                    and body.get("recoveryId", "").endswith(f"/deletedkeys/{name}"),
                    f"{name}: deleted key bundle inconsistent: {dict((f, body.get(f)) for f in ('recoveryId', 'deletedDate', 'scheduledPurgeDate'))}")
        if k.state == "deleted":
            self.expect(dd == k.deleted_date, f"{name}: deletedDate {dd}, acknowledged {k.deleted_date}")
        mv = k.version(current)
        if mv is not None:
            self.expect(attrs_of(body) == mv.attrs and body.get("tags") == mv.tags,
                        f"{name}: soft-deleted current version shows {attrs_of(body)} {body.get('tags')}, "
                        f"acknowledged {mv.attrs} {mv.tags}")
        for v in k.versions:
            status, _ = self.c.call("GET", f"/keys/{name}/{v.version}")
            self.expect(status == 404, f"{name}/{v.version}: GET answered {status} while the key is soft-deleted")
        status, _ = self.c.call("GET", f"/keys/{name}/versions")
        self.expect(status == 404, f"{name}: GET versions answered {status} while the key is soft-deleted")
        k.state = "deleted"
        k.deleted_date = dd

    def absent(self, k):
        status, _ = self.c.call("GET", f"/keys/{k.name}/versions")
        self.expect(status == 404, f"{k.name}: absent but GET versions answered {status}")
        k.state = "absent"
        k.versions = []
        k.deleted_date = None

    def listings(self, workers):
        """/keys and /deletedkeys list exactly the model's active and deleted names."""
        keys = [k for w in workers for k in w.keys]
        for path, state in (("/keys", "active"), ("/deletedkeys", "deleted")):
            status, items = list_all(self.c, path, self.stats, path)
            if self.expect(status == 200, f"GET {path} answered {status}"):
                names = sorted(version_of_kid(item["kid"]) for item in items)
                want = sorted(k.name for k in keys if k.state == state)
                self.expect(names == want, f"GET {path} lists {names}, the model has {want}")


def verify_all(emulator, workers, stats, label, final=False):
    """Each worker's keys by its own thread and connection, then the listings."""
    errors = []

    def run(w):
        client = emulator.client()
        try:
            v = Verifier(stats, client, f"{label}, t{w.index}")
            for k in w.keys:
                v.key(k, w.pending, final)
            w.pending = None
        except Exception as err:  # noqa: BLE001 - the emulator died or answered nonsense
            errors.append(f"t{w.index}: {err!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        stats.fail(f"{label}: verification could not complete: {e}")
    client = emulator.client()
    try:
        Verifier(stats, client, label).listings(workers)
    finally:
        client.close()
    return not errors


def enable_all(emulator, workers, stats):
    """Recovers every soft-deleted key and re-enables every disabled version (acknowledged
    writes like any other), so the final verification unwraps every acknowledged wrap."""
    client = emulator.client()
    try:
        for w in workers:
            for k in w.keys:
                if k.state == "deleted":
                    status, body = client.call("POST", f"/deletedkeys/{k.name}/recover")
                    if status == 200:
                        k.state, k.deleted_date = "active", None
                        stats.ack("recover")
                    else:
                        stats.fail(f"final: recovering {k.name} answered {status}: {body}")
                if k.state != "active":
                    continue
                for v in k.versions:
                    if not v.attrs.get("enabled"):
                        status, body = client.call("PATCH", f"/keys/{k.name}/{v.version}",
                                                   {"attributes": {"enabled": True}})
                        if status == 200:
                            v.attrs, v.tags = attrs_of(body), body.get("tags")
                            stats.ack("update")
                        else:
                            stats.fail(f"final: re-enabling {k.name}/{v.version} answered {status}: {body}")
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# Self-test: damage the data directory on purpose, to show the checks catch it


FAULTS = ("lose-version", "revert-update", "undelete", "corrupt-material")


def inject_fault(kind, data_dir, workers):
    """Between a kill and the restart, does to the stopped emulator's database what a durability
    bug would: returns what it did, or None when the model has no candidate yet. The run must
    then fail; `--inject-fault` exists to test the harness, never in CI."""
    import sqlite3

    busy = {w.pending.key for w in workers if w.pending}
    keys = [k for w in workers for k in w.keys if k.name not in busy]
    con = sqlite3.connect(os.path.join(data_dir, "keyvault.sqlite3"))
    try:
        if kind == "lose-version":
            k = next((k for k in keys if k.state == "active" and len(k.versions) >= 2), None)
            if not k:
                return None
            lost, kept = k.versions[-1].version, k.versions[-2].version
            con.execute("DELETE FROM key_versions WHERE vault = ? AND name = ? AND version = ?", (VAULT, k.name, lost))
            con.execute("UPDATE keys SET current_version = ? WHERE vault = ? AND name = ?", (kept, VAULT, k.name))
            what = f"deleted the acknowledged version {k.name}/{lost}"
        elif kind == "revert-update":
            k = next((k for k in keys if k.state == "active" and any(v.tags for v in k.versions)), None)
            if not k:
                return None
            v = next(v for v in k.versions if v.tags)
            con.execute("UPDATE key_versions SET tags = NULL WHERE vault = ? AND name = ? AND version = ?",
                        (VAULT, k.name, v.version))
            what = f"cleared the acknowledged tags of {k.name}/{v.version}"
        elif kind == "undelete":
            k = next((k for k in keys if k.state == "deleted"), None)
            if not k:
                return None
            con.execute("UPDATE keys SET deleted_date = NULL, scheduled_purge_date = NULL WHERE vault = ? AND name = ?",
                        (VAULT, k.name))
            what = f"undid the acknowledged delete of {k.name}"
        else:
            k = next((k for k in keys if k.state == "active" and any(v.attrs.get("enabled") for v in k.versions)), None)
            if not k:
                return None
            v = next(v for v in k.versions if v.attrs.get("enabled"))
            (blob,) = con.execute("SELECT sealed_private_key FROM key_versions WHERE vault = ? AND name = ? AND version = ?",
                                  (VAULT, k.name, v.version)).fetchone()
            blob = bytearray(blob)
            blob[len(blob) // 2] ^= 0x01
            con.execute("UPDATE key_versions SET sealed_private_key = ? WHERE vault = ? AND name = ? AND version = ?",
                        (bytes(blob), VAULT, k.name, v.version))
            what = f"flipped a bit of the sealed private key of {k.name}/{v.version}"
        con.commit()
        return what
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", default=os.environ.get("KVEMU_BIN")
                    or os.path.join(REPO_ROOT, "target", "debug", "keyvault-emulator"))
    ap.add_argument("--kills", type=int, default=100, help="SIGKILL points (default 100; CI uses 10)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: a random one, printed)")
    ap.add_argument("--threads", type=int, default=4, help="concurrent client threads (default 4)")
    ap.add_argument("--keys-per-thread", type=int, default=4)
    ap.add_argument("--max-versions", type=int, default=4, help="no create/rotate on a key with this many versions")
    ap.add_argument("--max-wraps", type=int, default=2, help="acknowledged wraps kept per version")
    ap.add_argument("--min-delay", type=float, default=0.05, help="seconds of load before a kill, at least")
    ap.add_argument("--max-delay", type=float, default=1.5, help="seconds of load before a kill, at most")
    # The pool lives in memory, so it is empty at every start; each round waits until it is full.
    # With the emulator's default depth (2048:4) four threads drain it in a few creates, and from
    # then on every create spends ~100 ms generating its key, so most kills would land there,
    # before the write transaction; 12 keeps creates fast for most of a round.
    ap.add_argument("--start-kills", type=float, default=0.2, metavar="P",
                    help="probability that a restart is first killed during its start, at a random point up to "
                         "about its time to ready (default 0.2; the very first start on the fresh data "
                         "directory is always killed once this way when P > 0)")
    ap.add_argument("--key-pool", default="2048:12", help="the emulator's --key-pool (default 2048:12)")
    ap.add_argument("--emulator-log", default="warn", help="KVEMU_LOG for the emulator (WARN/ERROR lines fail)")
    ap.add_argument("--ready-timeout", type=float, default=60)
    ap.add_argument("--data-dir", help="use this (new or empty) directory instead of a temporary one")
    ap.add_argument("--keep", action="store_true", help="keep the data directory and logs even when all passed")
    ap.add_argument("--inject-fault", choices=FAULTS,
                    help="self-test of the harness: damage the database after a kill as a durability bug would; "
                         "the run must fail")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "big")
    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"crash_safety: emulator binary not found or not executable: {binary} (cargo build, or pass "
              f"its path / set KVEMU_BIN)", file=sys.stderr)
        return 2
    if args.data_dir:
        work = os.path.abspath(args.data_dir)
        os.makedirs(work, exist_ok=True)
        if os.listdir(work):
            print(f"crash_safety: --data-dir {work} is not empty", file=sys.stderr)
            return 2
    else:
        work = tempfile.mkdtemp(prefix="kvemu-crash.")
    data_dir = os.path.join(work, "data")
    log_dir = os.path.join(work, "logs")
    os.makedirs(log_dir)

    print(f"crash_safety: seed {args.seed}, {args.kills} kills, {args.threads} threads, binary {binary}", flush=True)
    print(f"crash_safety: rerun with: {sys.argv[0]} {binary} --kills {args.kills} --seed {args.seed}"
          + (f" --threads {args.threads}" if args.threads != 4 else ""), flush=True)
    stats = Stats()
    emulator = Emulator(binary, data_dir, log_dir, args.key_pool, args.emulator_log,
                        args.ready_timeout)
    workers = [Worker(i, args.keys_per_thread) for i in range(args.threads)]
    main_rng = random.Random(f"{args.seed}:kills")
    ready_times = []
    injected = None
    t_start = time.monotonic()

    def start(label):
        ready_s, problems = emulator.start()
        ready_times.append(ready_s)
        for problem in problems:
            stats.fail(f"{label}: {problem}")
        if emulator.proc.poll() is not None:
            raise HarnessError(f"{label}: the emulator is not running; stopping")
        return ready_s

    start_kills = [0, 0]  # [killed during a start, of those after `ready`]

    def killed_start(label):
        """A start killed at a random point (mostly before `ready`) on the same data directory."""
        typical = sorted(ready_times)[len(ready_times) // 2] if ready_times else 0.3
        delay = main_rng.uniform(0.0, typical)
        ready, problems = emulator.start_killed(delay)
        start_kills[0] += 1
        start_kills[1] += ready
        for problem in problems:
            stats.fail(f"{label}: {problem}")
        print(f"crash_safety: {label}: a start killed after {delay * 1000:.0f} ms "
              f"({'after' if ready else 'before'} `ready`)", flush=True)

    def lifetime_log_problems(label):
        logged = emulator.log_problems()
        for line in logged[emulator.reported:]:
            stats.fail(f"{label}: emulator logged: {line}")
        emulator.reported = len(logged)

    try:
        if args.start_kills > 0:
            killed_start("first start (fresh data directory)")
        start("first start")
        for round_no in range(1, args.kills + 1):
            label = f"round {round_no}"
            t_verify = time.monotonic()
            ok = verify_all(emulator, workers, stats, f"{label} (before load)")
            if not ok and emulator.proc.poll() is not None:
                raise HarnessError(f"{label}: the emulator died during verification: {emulator.stderr_tail()}")
            t_pool = time.monotonic()
            emulator.wait_pool_full()
            t_load = time.monotonic()
            killed = threading.Event()
            # One Load per worker: its `_wrap` is per thread.
            threads = []
            for w in workers:
                wl = Load(args, stats, emulator, round_no, killed)
                threads.append(threading.Thread(target=wl.run, args=(w,), name=f"t{w.index}", daemon=True))
            acked_before = sum(stats.acked.values())
            for t in threads:
                t.start()
            delay = main_rng.uniform(args.min_delay, args.max_delay)
            time.sleep(delay)
            alive_before_kill = emulator.proc.poll() is None
            emulator.kill()
            killed.set()
            for t in threads:
                t.join()
            if not alive_before_kill:
                stats.fail(f"{label}: the emulator had exited on its own (code {emulator.proc.returncode}) "
                           f"before the kill: {emulator.stderr_tail()}")
            lifetime_log_problems(label)
            in_flight = [repr(w.pending) for w in workers if w.pending]
            print(f"crash_safety: {label}: verified in {t_pool - t_verify:.2f} s, pool full after "
                  f"{t_load - t_pool:.2f} s, killed after {delay:.2f} s of load, "
                  f"{sum(stats.acked.values()) - acked_before} writes acknowledged, "
                  f"in flight: {', '.join(in_flight) or 'none'}", flush=True)
            if args.inject_fault and not injected:
                injected = inject_fault(args.inject_fault, data_dir, workers)
                if injected:
                    print(f"crash_safety: {label}: --inject-fault: {injected}", flush=True)
            if main_rng.random() < args.start_kills:
                killed_start(f"restart after {label}")
            start(f"restart after {label}")
        verify_all(emulator, workers, stats, f"after kill {args.kills}")
        # Final: every key recovered and every version enabled, so every acknowledged wrap is
        # unwrapped once more; then a graceful stop, a clean start, and the last verification.
        enable_all(emulator, workers, stats)
        verify_all(emulator, workers, stats, "final (all enabled)", final=True)
        lifetime_log_problems("final")

        def graceful_stop(label):
            code = emulator.stop()
            stats.check()
            if code != 0:
                stats.fail(f"{label}: graceful stop (SIGTERM) exited with {code}")

        graceful_stop("final")
        start("start after graceful stop")
        verify_all(emulator, workers, stats, "after graceful stop", final=True)
        lifetime_log_problems("after graceful stop")
        graceful_stop("end")
        if args.inject_fault and not injected:
            stats.fail(f"--inject-fault {args.inject_fault}: no kill left a candidate to damage (try more --kills)")
    except HarnessError as err:
        stats.fail(f"harness stopped: {err}")
    finally:
        emulator.kill()
    elapsed = time.monotonic() - t_start

    keys = [k for w in workers for k in w.keys]
    versions = sum(len(k.versions) for k in keys)
    wraps_kept = sum(len(v.wraps) for k in keys for v in k.versions)
    acked_total = sum(stats.acked.values())
    ready_sorted = sorted(ready_times)
    print()
    print(f"crash_safety: seed {args.seed}")
    print(f"crash_safety: kills {args.kills} under load, {start_kills[0]} during a start "
          f"({start_kills[1]} of them after `ready`), starts {emulator.starts} "
          f"(ready median {ready_sorted[len(ready_sorted) // 2] * 1000:.0f} ms, max {ready_sorted[-1] * 1000:.0f} ms)"
          if ready_sorted else f"crash_safety: kills {args.kills}, no completed start")
    print(f"crash_safety: writes acknowledged {acked_total} ("
          + ", ".join(f"{op} {n}" for op, n in sorted(stats.acked.items())) + f"), wraps acknowledged {stats.wraps}")
    print(f"crash_safety: writes in flight at a kill {sum(stats.maybe.values())} ("
          + ", ".join(f"{op} {n}" for op, n in sorted(stats.maybe.items()))
          + f"): found applied {stats.maybe_applied}, not applied {stats.maybe_absent}")
    print(f"crash_safety: end state: {sum(k.state == 'active' for k in keys)} active keys, "
          f"{sum(k.state == 'deleted' for k in keys)} soft-deleted, {versions} versions, {wraps_kept} wraps checked at the end")
    print(f"crash_safety: checks performed {stats.checks}, failures {len(stats.failures)}, {elapsed:.1f} s")
    if stats.failures:
        print(f"crash_safety: FAILED; data directory and emulator logs kept in {work}")
        for f in stats.failures[:50]:
            print(f"  - {f}")
        if len(stats.failures) > 50:
            print(f"  ... {len(stats.failures) - 50} more")
        return 1
    if args.keep:
        print(f"crash_safety: passed; data directory and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
        print("crash_safety: passed")
    return 0


if __name__ == "__main__":
    # SIGTERM unwinds like Ctrl-C, so the emulator this script started is killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
