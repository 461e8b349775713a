"""The compose environment without Docker: docker/docker-compose.yml's clients against the binary.

tests/sdk/run.sh (suite `compose`) runs this with the SDK-test venv's Python:

  1. starts $KVEMU_BIN (default target/debug/keyvault-emulator) with the kvemu service's
     environment from docker/docker-compose.yml (KVEMU_CONFIG, KVEMU_CA_COPY, KVEMU_TLS_SANS, ...),
     its container paths mapped to the repository's files and a temporary directory, on free
     loopback ports (KVEMU_HTTPS_PORT=0, KVEMU_HTTP_PORT=0), and reads the banner up to `ready`;
  2. checks that KVEMU_CA_COPY received the CA certificate and that the HTTPS certificate is valid
     for every KVEMU_TLS_SANS name;
  3. runs each client service's script (docker/clients/python/envelope.py,
     docker/clients/node/envelope.mjs) with that service's environment from the compose file,
     where `kvemu` becomes 127.0.0.1, the container ports the actual ones and /ca the temporary
     CA directory; `*.localhost` is mapped to 127.0.0.1 inside the client processes only
     (tests/sdk/js/resolve-localhost.mjs for Node, a getaddrinfo wrapper for Python);
  4. stops the emulator, and does it all again on the same data and CA directories, as a second
     `docker compose up` on the same volumes would (same CA, seed keys kept, config re-applied).
Exit status 0 when every client succeeded both times.

Usage: python tests/sdk/compose/run_clients.py [SERVICE ...]   (default: every client service)
"""

from __future__ import annotations

import os
import queue
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
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
EMULATOR_SERVICE = "kvemu"
READY_TIMEOUT = float(os.environ.get("KVEMU_READY_TIMEOUT", "60"))
CLIENT_TIMEOUT = float(os.environ.get("COMPOSE_CLIENT_TIMEOUT", "180"))

# *.localhost -> 127.0.0.1 in the Python client's process only, then the script runs unchanged.
PYTHON_BOOT = """
import runpy, socket, sys
_getaddrinfo = socket.getaddrinfo
def _localhost(host, *args, **kwargs):
    name = host.decode("ascii", "replace") if isinstance(host, (bytes, bytearray)) else host
    if isinstance(name, str) and name.rstrip(".").lower().endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = _localhost
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""

# How each client service's image runs its script, outside Docker. A client service added to the
# compose file needs an entry here (the run fails until it has one).
CLIENT_COMMANDS = {
    "python-client": lambda: [sys.executable, "-c", PYTHON_BOOT, str(DOCKER_DIR / "clients/python/envelope.py")],
    "node-client": lambda: [
        "node",
        "--import",
        (REPO_ROOT / "tests/sdk/js/resolve-localhost.mjs").as_uri(),
        str(DOCKER_DIR / "clients/node/envelope.mjs"),
    ],
}
# What a client must print, besides exiting 0, for its run to count.
CLIENT_EXPECTS = {
    "python-client": ["OK: the decrypted file equals"],
    "node-client": [
        "OK: the decrypted file equals",
        "revocation: unwrap refused as expected: HTTP 403",
        "revocation: unwrap works again after re-enabling",
    ],
}
# Variables a client inherits from this process; everything else comes from the compose file.
PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM", "SYSTEMROOT")


def log(message: str) -> None:
    print(f"compose: {message}", flush=True)


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of a service's volumes, long or short syntax."""
    result = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            kind = "bind" if source.startswith((".", "/")) else "volume"
        else:
            kind, source, target = volume["type"], volume.get("source", ""), volume["target"]
        result.append((kind, source, target))
    return result


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


class Emulator:
    def __init__(self, binary: Path, env: dict[str, str], workdir: Path):
        self.binary, self.env, self.workdir = binary, env, workdir
        self.lines: list[str] = []
        self.stderr_path = workdir / "kvemu-stderr.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [str(self.binary)],
            env=self.env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        lines: "queue.Queue[str | None]" = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for raw in self.proc.stdout:
                lines.put(raw.rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"the emulator printed no 'ready' within {READY_TIMEOUT:.0f} s")
                continue
            if line is None:
                raise RuntimeError(f"the emulator exited (status {self.proc.wait()}) before 'ready'")
            self.lines.append(line)
            if line == "ready":
                return

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if getattr(self, "_stderr", None):
            self._stderr.close()

    def export(self, name: str) -> str:
        for line in self.lines:
            if line.startswith(f"export {name}="):
                return line.split("=", 1)[1]
        raise RuntimeError(f"the banner has no 'export {name}=' line")

    def report(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return "--- emulator stdout:\n" + "\n".join(self.lines) + "\n--- emulator stderr (tail):\n" + stderr[-6000:]


def check_certificate(https_port: int, ca_file: Path, names: list[str]) -> None:
    """The HTTPS certificate verifies, against the CA copy, for each of `names`."""
    context = ssl.create_default_context(cafile=str(ca_file))
    for name in names:
        with socket.create_connection(("127.0.0.1", https_port), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=name) as tls:
                tls.do_handshake()
        log(f"the HTTPS certificate is valid for '{name}'")


class Environment:
    """The compose file's view of one run: services, mounts mapped to host paths, ports."""

    def __init__(self, workdir: Path):
        compose = yaml.safe_load(COMPOSE_FILE.read_text())
        self.services: dict = compose["services"]
        self.kvemu: dict = self.services[EMULATOR_SERVICE]
        self.clients = [n for n, svc in self.services.items() if n != EMULATOR_SERVICE and "build" in svc]
        self.workdir = workdir

    def host_path(self, kind: str, source: str) -> Path:
        """Bind mounts: the repository's files. Named volumes: a directory per volume name,
        shared by every service that mounts it, as Docker shares them."""
        if kind == "bind":
            return (DOCKER_DIR / source).resolve()
        path = self.workdir / "volumes" / source
        path.mkdir(parents=True, exist_ok=True)
        return path

    def map_path(self, value: str, service: dict) -> str:
        for kind, source, target in mounts(service):
            target = target.rstrip("/")
            if value == target or value.startswith(target + "/"):
                return str(self.host_path(kind, source)) + value[len(target) :]
        return value

    def emulator_env(self) -> dict[str, str]:
        """The image's ENV, then the service's environment; on loopback and free ports."""
        env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
        env.update({k: v for k, v in os.environ.items() if k.startswith("KVEMU_LOG")})
        env["KVEMU_DATA_DIR"] = self.map_path("/data", self.kvemu)
        for key, value in environment(self.kvemu).items():
            env[key] = self.map_path(value, self.kvemu)
        env.update({"KVEMU_BIND": "127.0.0.1", "KVEMU_HTTPS_PORT": "0", "KVEMU_HTTP_PORT": "0"})
        return env

    def client_env(self, name: str, https_port: int, http_port: int) -> dict[str, str]:
        """The service's environment; `kvemu` -> 127.0.0.1, container ports -> actual ports."""
        ports = {}
        for spec in self.kvemu.get("ports", []):
            container = int(str(spec["target"] if isinstance(spec, dict) else spec).rsplit(":", 1)[-1])
            ports[container] = https_port if container == 8443 else http_port

        def map_url(value: str) -> str:
            if not re.match(r"^https?://", value):
                return value
            url = urlsplit(value)
            host = "127.0.0.1" if url.hostname == EMULATOR_SERVICE else url.hostname
            port = ports.get(url.port, url.port)
            return urlunsplit((url.scheme, host + (f":{port}" if port else ""), url.path, url.query, url.fragment))

        service = self.services[name]
        env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
        for key, value in environment(service).items():
            env[key] = map_url(self.map_path(value, service))
        env["ENVELOPE_FILE"] = str(self.workdir / f"{name}-envelope.json")
        return env


def run_client(name: str, env: dict[str, str], workdir: Path) -> bool:
    shown = " ".join(f"{k}={v}" for k, v in env.items() if k not in PASSTHROUGH)
    log(f"=== {name}: {shown}")
    try:
        run = subprocess.run(
            CLIENT_COMMANDS[name](),
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=CLIENT_TIMEOUT,
        )
        output, status = run.stdout, run.returncode
    except subprocess.TimeoutExpired as err:
        output = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
        status = f"timeout after {CLIENT_TIMEOUT:.0f} s"
    print(output, end="" if output.endswith("\n") else "\n", flush=True)
    missing = [text for text in CLIENT_EXPECTS.get(name, []) if text not in output]
    if status != 0 or missing:
        log(f"{name}: FAILED (exit status {status}" + (f"; missing output {missing}" if missing else "") + ")")
        return False
    log(f"{name}: passed")
    return True


def run_once(binary: Path, compose: Environment, selected: list[str]) -> tuple[list[str], bytes | None]:
    """One start of the emulator and one run of each selected client: (what failed, CA PEM)."""
    env = compose.emulator_env()
    log("emulator environment: " + " ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("KVEMU_")))
    emulator = Emulator(binary, env, compose.workdir)
    try:
        emulator.start()
        https_port = urlsplit(emulator.export("AZURE_KEYVAULT_URL")).port
        http_port = urlsplit(emulator.export("IDENTITY_ENDPOINT")).port
        banner_ca = Path(emulator.export("REQUESTS_CA_BUNDLE"))
        log(f"emulator ready: https port {https_port}, http port {http_port}, CA {banner_ca}")
        ca_file = banner_ca
        if env.get("KVEMU_CA_COPY"):
            ca_file = Path(env["KVEMU_CA_COPY"])
            if ca_file.read_bytes() != banner_ca.read_bytes():
                raise AssertionError(f"KVEMU_CA_COPY {ca_file} differs from the CA certificate {banner_ca}")
            log(f"KVEMU_CA_COPY wrote the CA certificate to {ca_file}")
        sans = [name.strip() for name in env.get("KVEMU_TLS_SANS", "").split(",") if name.strip()]
        check_certificate(https_port, ca_file, sans)
        failed = [n for n in selected if not run_client(n, compose.client_env(n, https_port, http_port), compose.workdir)]
        if failed:
            print(emulator.report(), flush=True)
        return failed, banner_ca.read_bytes()
    except Exception as err:  # noqa: BLE001 - any failure is reported with the emulator's output
        log(f"FAILED: {type(err).__name__}: {err}\n{emulator.report()}")
        return ["emulator"], None
    finally:
        emulator.stop()


def main(selected: list[str]) -> int:
    binary = Path(os.environ.get("KVEMU_BIN") or REPO_ROOT / "target/debug/keyvault-emulator")
    if not os.access(binary, os.X_OK):
        log(f"FAILED: keyvault-emulator binary not found or not executable: {binary}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="kvemu-compose-"))
    try:
        compose = Environment(workdir)
        unknown = [name for name in compose.clients if name not in CLIENT_COMMANDS]
        if unknown:
            log(f"FAILED: no outside-Docker command for client service(s) {unknown} (add them to CLIENT_COMMANDS)")
            return 1
        for name in selected:
            if name not in compose.clients:
                log(f"'{name}' is not a client service of {COMPOSE_FILE} ({', '.join(compose.clients)})")
                return 2
        selected = selected or compose.clients

        failures: list[str] = []
        first_ca = None
        for start in (1, 2):
            log(f"--- start {start} of 2 on the same volumes")
            failed, ca = run_once(binary, compose, selected)
            failures += failed
            if first_ca is not None and ca is not None and ca != first_ca:
                log("FAILED: the CA certificate changed across restarts on the same data directory")
                failures.append("ca-persistence")
            first_ca = first_ca or ca
        runs = 2 * len(selected)
        failed_runs = min(runs, len(failures))
        print(f"compose: {runs - failed_runs} passed, {failed_runs} failed", flush=True)
        return 1 if failures else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
