#!/usr/bin/env python3
"""Schema-driven fuzzing of keyvault-emulator with schemathesis (run through run_schemathesis.sh).

Starts $KVEMU_BIN --in-memory on free ports, gets a vault token (managed identity) and a management
token (the admin service principal), seeds keys of every type, and runs `schemathesis run` over
every operation of openapi/openapi.yaml with its default checks (--continue-on-failure). What must
hold: no 5xx response and no crash (the process stays up and healthy, and its stderr has no
"panicked at"). The other checks' failures (schema conformance and the like) are listed but do not
fail the run. Requests that got no response at all fail the full profile (--strict-connections).

    run_schemathesis.sh                      # the CI profile: about 90 s on 2 cores
    run_schemathesis.sh --profile full       # the full run: 4 passes, > 10,000 requests
    run_schemathesis.sh --profile full --only extremes --out DIR --seed N

Reports (HAR of every request, schemathesis' JSON and JUnit, its log, the emulator's stderr and a
summary.json) go to --out, or to a temporary directory kept only when the run fails.

The document is fed to schemathesis through a fuzzing view written next to the reports; the file
itself is not changed. The view:
  * points the plain-HTTP path items (`servers: [http://127.0.0.1:8080]`) at
    http://127.0.0.1:{http} and gives every other path item the server https://127.0.0.1:{https}
    (schemathesis reads path-level servers only from a document served over HTTP, which the
    driver does from a loopback port);
  * declares the path parameters the document leaves undeclared (the /subscriptions paths) as
    strings, since schemathesis refuses operations with undeclared path parameters.
Known names (the seeded keys and versions, the subscription, the emulator's resource group, vault
and tenant) are offered through schemathesis dictionaries, each used for a share of the generated
values, so that requests reach past the 404s; the full profile's last pass also offers boundary
integers and durations for the time fields. Operations excluded: /_emulator/faults (fault
injection answers 5xx on purpose) and /_emulator/audit/stream (an event stream never ends).
"""

from __future__ import annotations

import argparse
import collections
import copy
import functools
import glob
import http.server
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml

FUZZ_DIR = Path(__file__).resolve().parent
REPO_ROOT = FUZZ_DIR.parent.parent
SPEC = REPO_ROOT / "openapi" / "openapi.yaml"
SCHEMATHESIS = FUZZ_DIR / ".venv" / "bin" / "schemathesis"

FUZZ_VAULT = "fuzzvault"
# Operations never fuzzed: fault injection answers 5xx by design; the audit stream never ends.
EXCLUDE_PATH_REGEX = r"^/_emulator/(faults|audit/stream)"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Keys seeded in the vault `default` before each pass (name -> create body).
SEED_KEYS = {
    "fz-rsa": {"kty": "RSA", "key_size": 2048},
    "fz-rsahsm": {"kty": "RSA-HSM", "key_size": 2048},
    "fz-ec256": {"kty": "EC", "crv": "P-256"},
    "fz-ec384": {"kty": "EC-HSM", "crv": "P-384"},
    "fz-ec521": {"kty": "EC", "crv": "P-521"},
    "fz-ec256k": {"kty": "EC", "crv": "P-256K"},
    "fz-oct128": {"kty": "oct", "key_size": 128},
    "fz-oct192": {"kty": "oct-HSM", "key_size": 192},
    "fz-oct256": {"kty": "oct", "key_size": 256},
}
API = "7.6"
ARM_API = "2023-07-01"

# One pass = one `schemathesis run`. `filters` are CLI filter options, `args` the rest.
PROFILES = {
    # CI: every operation through the examples and coverage phases, then fuzzing until 75 s are spent
    # (schemathesis repeats the fuzzing phase until --max-time): about 9,000 requests, 80 s on 2 cores.
    "ci": [
        {
            "name": "all",
            "filters": [],
            "args": ["--phases", "examples,coverage,fuzzing", "--max-examples", "3", "--max-time", "75"],
        }
    ],
    # Full: first the vault's key operations on the seeded keys with nothing that deletes, disables or
    # locks them out (so the crypto paths see real keys); then every operation with every phase
    # (examples, coverage, fuzzing, stateful); then every operation with schema-violating data only.
    # Then boundary values in the time fields. 40,000-56,000 requests (the stateful phase varies with
    # the seed), 12-14 minutes on 2 cores with a debug build.
    "full": [
        {
            "name": "keys",
            "filters": [
                "--include-path-regex", r"^/(keys|rng|deletedkeys)",
                "--exclude-method", "DELETE",
                "--exclude-method", "PATCH",
            ],
            "args": ["--phases", "examples,coverage,fuzzing", "--max-examples", "300"],
        },
        {
            "name": "all",
            "filters": [],
            "args": ["--max-examples", "150"],
        },
        {
            "name": "negative",
            "filters": [],
            "args": ["--phases", "fuzzing", "--mode", "negative", "--max-examples", "100"],
        },
        # Last, because a clock moved to the end of time can break what follows: i64 limits and
        # overflowing durations in the time fields (clock, nbf/exp, rotation policies) and counts.
        {
            "name": "extremes",
            "filters": [],
            "args": ["--phases", "fuzzing", "--mode", "positive", "--max-examples", "60"],
            "extremes": True,
        },
    ],
}


def log(message: str) -> None:
    print(f"fuzz: {message}", flush=True)


# ---------------------------------------------------------------------------------------- emulator
class Emulator:
    def __init__(self, binary: str, workdir: Path, index: int):
        self.binary = binary
        self.stdout_path = workdir / f"emulator-{index}.stdout"
        self.stderr_path = workdir / f"emulator-{index}.stderr"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KVEMU_")}
        self.proc = subprocess.Popen(
            [binary, "--in-memory", "--https-port", "0", "--http-port", "0", "--vault", FUZZ_VAULT],
            stdin=subprocess.DEVNULL,
            stdout=open(self.stdout_path, "w"),
            stderr=open(self.stderr_path, "w"),
            env=env,
        )
        deadline = time.monotonic() + float(os.environ.get("KVEMU_READY_TIMEOUT", "30"))
        while True:
            text = self.stdout_path.read_text()
            if re.search(r"^ready$", text, re.M):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.stderr.write(text + self.stderr_path.read_text()[-8000:])
                raise SystemExit("fuzz: the emulator did not print 'ready'")
            time.sleep(0.1)
        self.banner = text
        self.https = int(re.search(r"https://localhost:(\d+)", text).group(1))
        self.http = int(re.search(r"Managed identity: http://127\.0\.0\.1:(\d+)", text).group(1))
        self.ca = re.search(r"^CA certificate: (\S+)", text, re.M).group(1)
        self.tenant = re.search(r"^export AZURE_TENANT_ID=(\S+)", text, re.M).group(1)
        self.subscription = re.search(r"\(subscription ([0-9a-fA-F-]{36})", text).group(1)
        self.vault_url = f"https://127.0.0.1:{self.https}"
        self.http_url = f"http://127.0.0.1:{self.http}"

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            return False
        try:
            return requests.get(f"{self.http_url}/_emulator/health", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 15 s; returns the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def panics(self) -> list[str]:
        """One line per panic: its location, message and the emulator's innermost frames."""
        lines = self.stderr_path.read_text(errors="replace").splitlines()
        found = []
        for index, line in enumerate(lines):
            if "panicked at" not in line:
                continue
            location = line.split("panicked at", 1)[1].strip().rstrip(":")
            message = lines[index + 1].strip() if index + 1 < len(lines) else ""
            frames = []
            for follow in lines[index + 2 : index + 80]:
                if "panicked at" in follow:
                    break
                match = re.search(r"\d+: (keyvault_emulator::[\w:]+)", follow)
                if match and len(frames) < 3:
                    frames.append(match.group(1).rstrip(":"))
            found.append(f"{location}: {message}" + (f" [{' <- '.join(frames)}]" if frames else ""))
        return found


def token(emu: Emulator, url: str, headers: dict[str, str] | None = None) -> str:
    response = requests.get(url, headers=headers or {}, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


class Client:
    """The seeding client: vault and management calls with the emulator's CA."""

    def __init__(self, emu: Emulator, vault_token: str, mgmt_token: str):
        self.emu = emu
        self.session = requests.Session()
        self.session.verify = emu.ca
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace the emulator's CA
        self.vault_headers = {"Authorization": f"Bearer {vault_token}"}
        self.mgmt_headers = {"Authorization": f"Bearer {mgmt_token}"}

    def vault(self, method: str, path: str, body=None) -> requests.Response:
        return self.session.request(
            method, f"{self.emu.vault_url}{path}", params={"api-version": API}, json=body,
            headers=self.vault_headers, timeout=120,
        )

    def arm(self, method: str, path: str, body=None) -> requests.Response:
        return self.session.request(
            method, f"{self.emu.vault_url}{path}", params={"api-version": ARM_API}, json=body,
            headers=self.mgmt_headers, timeout=120,
        )


def seed(client: Client) -> dict[str, list]:
    """Creates (a fresh version of) each seed key, and ARM resources; returns dictionary values."""
    versions = []
    for name, body in SEED_KEYS.items():
        if client.vault("GET", f"/deletedkeys/{name}").status_code == 200:
            client.vault("POST", f"/deletedkeys/{name}/recover")
        response = client.vault("POST", f"/keys/{name}/create", body)
        if response.status_code != 200:
            raise SystemExit(f"fuzz: seeding {name} failed: {response.status_code} {response.text}")
        versions.append(response.json()["key"]["kid"].rsplit("/", 1)[1])
    # A second version of one key, so version lists have more than one entry.
    response = client.vault("POST", "/keys/fz-ec256/create", SEED_KEYS["fz-ec256"])
    versions.append(response.json()["key"]["kid"].rsplit("/", 1)[1])
    rotation = {
        "lifetimeActions": [{"trigger": {"timeAfterCreate": "P30D"}, "action": {"type": "Rotate"}}],
        "attributes": {"expiryTime": "P90D"},
    }
    client.vault("PUT", "/keys/fz-rsa/rotationpolicy", rotation)

    sub = client.emu.subscription
    group = "fuzz-rg"
    client.arm("PUT", f"/subscriptions/{sub}/resourceGroups/{group}", {"location": "local"})
    client.arm(
        "PUT",
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fuzz-uami",
        {"location": "local"},
    )
    definitions = []
    response = client.arm("GET", f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions")
    if response.status_code == 200:
        definitions = [d.get("name") for d in response.json().get("value", []) if d.get("name")]
    return {"versions": versions, "definitions": definitions[:8] or ["00000000-0000-0000-0000-000000000000"]}


# ------------------------------------------------------------------------------- the fuzzing view
def resolve_param(spec: dict, param: dict) -> dict:
    ref = param.get("$ref")
    if ref:
        node = spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node
    return param


def fuzz_view(spec: dict, emu: Emulator) -> tuple[dict, list[str]]:
    view = copy.deepcopy(spec)
    notes = []
    view["servers"] = [{"url": emu.vault_url}]
    for path, item in view["paths"].items():
        for server in item.get("servers", []):
            server["url"] = re.sub(r"^http://127\.0\.0\.1:\d+", emu.http_url, server["url"])
        # Loaded from a URL, schemathesis falls back to the document's own origin, not to the
        # top-level server: every path item gets an explicit one.
        item.setdefault("servers", [{"url": emu.vault_url}])
        placeholders = re.findall(r"\{([^}]+)\}", path)
        declared_at_path = {resolve_param(view, p)["name"] for p in item.get("parameters", [])
                            if resolve_param(view, p).get("in") == "path"}
        missing = set()
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not operation:
                continue
            if "$ref" in operation:
                operation = resolve_param(view, operation)
            declared = declared_at_path | {resolve_param(view, p)["name"] for p in operation.get("parameters", [])
                                           if resolve_param(view, p).get("in") == "path"}
            missing |= {name for name in placeholders if name not in declared}
        if missing:
            item.setdefault("parameters", [])
            for name in placeholders:
                if name in missing:
                    item["parameters"].append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
            notes.append(f"{path}: declared {', '.join(n for n in placeholders if n in missing)}")
    return view, notes


def serve_directory(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serves the fuzzing view over loopback HTTP: schemathesis honours the path items' own `servers`
    only for a document loaded from a URL (a file needs --url, which then applies to every operation)."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def toml_string(value: str) -> str:
    return json.dumps(value)


I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


def extreme_values() -> tuple[list[int], list[str]]:
    """Boundary integers and durations for the time fields: i64 limits, and clock offsets that
    put the emulator's "now" just below i64::MAX (so "now + retention" overflows)."""
    wall = int(time.time())
    near_max = [I64_MAX - wall - seconds for seconds in (3600, 86_400, 30 * 86_400, 365 * 86_400)]
    ints = [I64_MAX, I64_MIN, I64_MAX - 1, *near_max, -near_max[0], 2**53, -(2**53), 2**31, -(2**31) - 1, 0, -1]
    durations = ["PT9223372036854775807S", "P106751991167300D", "P99999999999Y", "P0D", "PT0S", "P", "PT"]
    return ints, durations


def write_config(path: Path, emu: Emulator, vault_token: str, mgmt_token: str, graph_token: str, seeded: dict,
                 extremes: bool = False) -> None:
    dictionaries = {
        "keyname": list(SEED_KEYS),
        "version": seeded["versions"],
        "subscription": [emu.subscription],
        "group": ["keyvault-emulator", "fuzz-rg"],
        "vault": [FUZZ_VAULT],
        "tenant": [emu.tenant],
        "location": ["local"],
        "uami": ["fuzz-uami"],
        "definition": seeded["definitions"],
        "operationkind": ["add", "replace", "remove"],
        "identity": ["admin", "system"],
    }
    bindings = {
        "path.name": ("keyname", 0.6),
        "path.key": ("keyname", 0.5),
        "path.version": ("version", 0.6),
        "path.subscription": ("subscription", 0.8),
        "path.group": ("group", 0.6),
        "path.vault": ("vault", 0.6),
        "path.tenant": ("tenant", 0.7),
        "path.location": ("location", 0.7),
        "path.identity": ("uami", 0.5),
        "path.definition": ("definition", 0.5),
        "path.operationKind": ("operationkind", 0.7),
        "query.identity": ("identity", 0.5),
    }
    if extremes:
        ints, durations = extreme_values()
        dictionaries["extreme_int"] = ints
        dictionaries["extreme_duration"] = durations
        for field in ("offsetSeconds", "advanceSeconds", "count", "attributes.nbf", "attributes.exp"):
            bindings[f"body.{field}"] = ("extreme_int", 0.5)
        for field in ("advance", "attributes.expiryTime", "lifetimeActions[*].trigger.timeAfterCreate",
                      "lifetimeActions[*].trigger.timeBeforeExpiry"):
            bindings[f"body.{field}"] = ("extreme_duration", 0.5)
    lines = [
        "# Written by tests/fuzz/run_schemathesis.py for one run.",
        "[auth.openapi.bearer]",
        f"bearer = {toml_string(vault_token)}",
        "[auth.openapi.management]",
        f"bearer = {toml_string(mgmt_token)}",
        "[auth.openapi.graph]",
        f"bearer = {toml_string(graph_token)}",
        "[parameters]",
    ]
    for key, (dictionary, probability) in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{dictionary}", probability = {probability} }}')
    for name, values in dictionaries.items():
        lines.append(f"[dictionaries.{name}]")
        lines.append(f"values = [{', '.join(toml_string(v) for v in values)}]")
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------- reports
def curl_of(entry: dict) -> str:
    request = entry["request"]
    parts = ["curl", "-sk", "-X", request["method"]]
    for header in request.get("headers", []):
        name = header["name"]
        if name.lower() in ("content-length", "user-agent", "accept-encoding", "accept", "connection",
                            "x-schemathesis-testcaseid"):
            continue
        value = "Bearer $TOKEN" if name.lower() == "authorization" else header["value"]
        parts += ["-H", f"{name}: {value}"]
    post = request.get("postData")
    if post and post.get("text") is not None:
        parts += ["--data-binary", post["text"]]
    parts.append(request["url"])
    return " ".join(shlex.quote(p) for p in parts)


def analyse_pass(name: str, report_dir: Path) -> dict:
    har_files = sorted(glob.glob(str(report_dir / "har-*.json")))
    json_files = sorted(glob.glob(str(report_dir / "json-*.json")))
    entries = []
    for path in har_files:
        with open(path) as fd:
            entries += json.load(fd)["log"]["entries"]
    statuses = collections.Counter(e["response"]["status"] for e in entries)
    server_errors = [e for e in entries if e["response"]["status"] >= 500]
    # Status 0 in the HAR: no response at all (the connection closed, e.g. on a panic in a handler).
    no_response = [e for e in entries if e["response"]["status"] == 0]
    run = {}
    if json_files:
        with open(json_files[-1]) as fd:
            run = json.load(fd)
    return {
        "name": name,
        "requests": len(entries),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": server_errors,
        "no_response": no_response,
        "failures": run.get("failures", []),
        "errors": run.get("errors", []),
        "test_cases": run.get("test_cases", {}),
        "seed": run.get("seed"),
        "running_time": run.get("running_time"),
        "stop_reason": run.get("stop_reason"),
    }


# -------------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default=os.environ.get("KVEMU_FUZZ_PROFILE", "ci"))
    parser.add_argument("--out", help="directory for reports, logs and the fuzzing view (default: a temporary one, "
                                      "kept only when the run fails)")
    parser.add_argument("--seed", type=int, help="schemathesis --seed (default: random, printed)")
    parser.add_argument("--workers", default=os.environ.get("KVEMU_FUZZ_WORKERS", "2"))
    parser.add_argument("--strict-connections", action="store_true",
                        help="fail on requests that got no response (always on in the full profile)")
    parser.add_argument("--only", help="run only the passes of the profile with these names (comma-separated)")
    args = parser.parse_args()

    binary = os.environ.get("KVEMU_BIN", str(REPO_ROOT / "target" / "debug" / "keyvault-emulator"))
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"fuzz: keyvault-emulator binary not found or not executable: {binary}")
    keep = bool(args.out)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kvemu-fuzz."))
    out.mkdir(parents=True, exist_ok=True)
    with open(SPEC) as fd:
        spec = yaml.safe_load(fd)

    log(f"profile {args.profile}, binary {binary}, output in {out}")
    emulators: list[Emulator] = []
    results = []
    crashes = []
    status = 0
    try:
        emu = Emulator(binary, out, len(emulators))
        emulators.append(emu)
        passes = PROFILES[args.profile]
        if args.only:
            wanted = args.only.split(",")
            passes = [p for p in passes if p["name"] in wanted]
            if not passes:
                raise SystemExit(f"fuzz: no pass named {args.only} in profile {args.profile}")
        for index, fuzz_pass in enumerate(passes):
            vault_token = token(emu, f"{emu.http_url}/msi/token?api-version=2019-08-01&resource=https://vault.azure.net",
                                {"X-IDENTITY-HEADER": "x"})
            mgmt_token = token(
                emu,
                f"{emu.http_url}/_emulator/token?identity=admin&resource=https://management.azure.com",
                headers={"Metadata": "true"},
            )
            graph_token = token(
                emu,
                f"{emu.http_url}/_emulator/token?identity=admin&resource=https://graph.microsoft.com",
                headers={"Metadata": "true"},
            )
            seeded = seed(Client(emu, vault_token, mgmt_token))
            view, notes = fuzz_view(spec, emu)
            if index == 0:
                for note in notes:
                    log(f"fuzzing view: {note}")
            pass_dir = out / f"pass-{index}-{fuzz_pass['name']}"
            pass_dir.mkdir(exist_ok=True)
            view_path = pass_dir / "openapi.fuzz.yaml"
            view_path.write_text(yaml.safe_dump(view, sort_keys=False, allow_unicode=True))
            config_path = pass_dir / "schemathesis.toml"
            write_config(config_path, emu, vault_token, mgmt_token, graph_token, seeded, extremes=fuzz_pass.get("extremes", False))
            spec_server, spec_origin = serve_directory(pass_dir)
            command = [
                str(SCHEMATHESIS), "--config-file", str(config_path), "run", f"{spec_origin}/{view_path.name}",
                "--tls-verify", emu.ca,
                "--workers", str(args.workers),
                "--request-timeout", "120",
                # A failed check (most are schema looseness, e.g. a schema-valid body the server
                # rejects) would otherwise end the fuzzing of that operation at its first case.
                "--continue-on-failure",
                "--suppress-health-check", "all",
                "--generation-database", "none",
                "--exclude-path-regex", EXCLUDE_PATH_REGEX,
                "--report", "har,json,junit", "--report-dir", str(pass_dir),
                "--no-color",
                *fuzz_pass["filters"], *fuzz_pass["args"],
            ]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            log(f"pass {fuzz_pass['name']}: " + " ".join(shlex.quote(c) for c in command[3:]))
            started = time.monotonic()
            with open(pass_dir / "schemathesis.log", "w") as log_file:
                code = subprocess.call(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=pass_dir)
            spec_server.shutdown()
            spec_server.server_close()
            log(f"pass {fuzz_pass['name']}: schemathesis exit {code} after {time.monotonic() - started:.0f} s")
            result = analyse_pass(fuzz_pass["name"], pass_dir)
            result["exit"] = code
            results.append(result)
            if not emu.alive():
                crashes.append(f"pass {fuzz_pass['name']}: the emulator is down (exit {emu.proc.poll()})")
                emu.stop()
                emu = Emulator(binary, out, len(emulators))
                emulators.append(emu)
    finally:
        exit_codes = [e.stop() for e in emulators]

    # ------------------------------------------------------------------------------ summary
    total = sum(r["requests"] for r in results)
    fivexx = [e for r in results for e in r["server_errors"]]
    dropped = [e for r in results for e in r["no_response"]]
    panics = [p for e in emulators for p in e.panics()]
    for e, code in zip(emulators, exit_codes):
        if code not in (0,):
            crashes.append(f"emulator {e.stdout_path.name}: exit status {code} on SIGTERM")
    print()
    log("=== summary ===")
    for r in results:
        log(f"pass {r['name']}: {r['requests']} requests in {r['running_time'] or 0:.0f} s, "
            f"{r['test_cases'].get('generated', '?')} test cases, seed {r['seed']}, statuses {r['statuses']}")
        for failure in r["failures"]:
            ops = failure.get("operations", [])
            log(f"  check failure {failure.get('code')} {failure.get('title')}: {failure.get('count')} "
                f"({len(ops)} operations: {', '.join(ops[:6])}{' ...' if len(ops) > 6 else ''})")
        for error in r["errors"]:
            log(f"  error: {json.dumps(error)[:400]}")
    # ST101 Server error, ST102 Server error on undeclared request Content-Type: not_a_server_error.
    server_error_checks = [f for r in results for f in r["failures"] if f.get("code") in ("ST101", "ST102")]
    # Errors that can mean a crash or a hang; others (schemathesis' own "Runtime Error" from its
    # generators, for instance) are listed above but do not fail the run.
    fatal_titles = ("Unhealthy API", "Unresponsive Operation", "Server Unavailable")
    network_errors = [e for r in results for e in r["errors"] if e.get("title") in fatal_titles]
    # A connection closed without a response. A panic or a crash shows up on its own (stderr, the
    # health check); without one, it is the server dropping the connection on an early answer
    # (401/404/405/413 before the request body was read), which loses that answer: fatal with
    # --strict-connections (the full profile), reported otherwise.
    dropped_errors = [e for r in results for e in r["errors"] if e.get("title") == "Network Error"]
    log(f"requests sent: {total}")
    log(f"5xx responses: {len(fivexx)}")
    for e in fivexx[:50]:
        log(f"  {e['response']['status']} {e['request']['method']} {e['request']['url']}")
        log(f"    repro: {curl_of(e)}")
        body = (e["response"].get("content") or {}).get("text") or ""
        log(f"    body: {body[:300]}")
    log(f"requests without a response (connection closed): {len(dropped)}")
    seen_drops = collections.Counter()
    for e in dropped:
        key = (e["request"]["method"], re.sub(r"\?.*", "", e["request"]["url"]))
        seen_drops[key] += 1
        if seen_drops[key] == 1 and len(seen_drops) <= 30:
            log(f"  {e['request']['method']} {e['request']['url']}")
            log(f"    repro: {curl_of(e)}")
    log(f"not_a_server_error check failures: {sum(int(f.get('count') or 1) for f in server_error_checks)}")
    log(f"schemathesis network errors (connection closed): {sum(int(e.get('count') or 1) for e in dropped_errors)}")
    log(f"unresponsive/unavailable: {sum(int(e.get('count') or 1) for e in network_errors)}")
    log(f"crashes: {len(crashes)}")
    for crash in crashes:
        log(f"  {crash}")
    log(f"panics in stderr: {len(panics)}")
    for panic, count in collections.Counter(panics).most_common():
        log(f"  {count} x {panic}")
    (out / "summary.json").write_text(json.dumps({
        "profile": args.profile, "requests": total, "fivexx": len(fivexx), "crashes": crashes, "panics": panics,
        "no_response": len(dropped),
        "passes": [{k: v for k, v in r.items() if k not in ("server_errors", "no_response")} for r in results],
    }, indent=2))
    # schemathesis exits 1 when a check failed (judged above); anything else means it did not run properly.
    broken = [r["name"] for r in results if r["exit"] not in (0, 1) or r["requests"] == 0]
    for name in broken:
        log(f"pass {name}: schemathesis did not complete (see its schemathesis.log)")
    strict = args.strict_connections or args.profile == "full"
    if (dropped or dropped_errors) and not strict:
        log("connections closed without a response are not fatal in this profile (see above)")
    if fivexx or server_error_checks or network_errors or crashes or panics or broken or (
        strict and (dropped or dropped_errors)
    ):
        status = 1
    if status or keep:
        log(f"reports kept in {out}")
    else:
        subprocess.call(["rm", "-rf", str(out)])
    print(f"fuzz: {'passed' if status == 0 else 'FAILED'}: {total} requests, {len(fivexx)} 5xx, "
          f"{len(dropped)} without response, {len(crashes)} crashes, {len(panics)} panics")
    return status


if __name__ == "__main__":
    sys.exit(main())
