"""Harness for the official-SDK (Python) scenario tests.

One keyvault-emulator process per test session:
  * started as `$KVEMU_BIN --in-memory --https-port 0 --http-port 0`
    (default binary: <repo>/target/debug/keyvault-emulator), with the config file
    $KVEMU_CONFIG (default: tests/sdk/kvemu.toml: the identities `storage` and `app`, the
    vaults `cmk` and `cmkrbac`) and whatever KVEMU_VAULTS run.sh sets;
  * its stdout is read until the line `ready` (timeout: KVEMU_READY_TIMEOUT, default 30 s);
    every `export K=V` line before it is collected and copied into os.environ, so the
    SDK is configured exactly like a user would configure it (IDENTITY_ENDPOINT,
    IDENTITY_HEADER, REQUESTS_CA_BUNDLE, ..., AZURE_KEYVAULT_URL);
  * killed at the end of the session.

Name resolution: `*.localhost` does not resolve on every machine, so this module wraps
`socket.getaddrinfo` (in this process only) to map any name ending in `.localhost` to
127.0.0.1. The URL host is unchanged, so TLS SNI and hostname verification still run
against the real vault name (the emulator's certificate has SAN *.vault.localhost).
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "keyvault-emulator"
DEFAULT_CONFIG = REPO_ROOT / "tests" / "sdk" / "kvemu.toml"
READY_TIMEOUT = float(os.environ.get("KVEMU_READY_TIMEOUT", "30"))
EXPORT_RE = re.compile(r"^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
REQUIRED_EXPORTS = ("AZURE_KEYVAULT_URL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE")


# --------------------------------------------------------------------------------------
# *.localhost -> 127.0.0.1, for this process only
# --------------------------------------------------------------------------------------
_original_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    name = host.decode("ascii", "replace") if isinstance(host, (bytes, bytearray)) else host
    if isinstance(name, str) and name.rstrip(".").lower().endswith(".localhost"):
        host = "127.0.0.1"
    return _original_getaddrinfo(host, *args, **kwargs)


if getattr(socket.getaddrinfo, "__name__", "") != "_localhost_getaddrinfo":
    socket.getaddrinfo = _localhost_getaddrinfo


# --------------------------------------------------------------------------------------
# emulator process
# --------------------------------------------------------------------------------------
def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


class Emulator:
    def __init__(self, binary: Path):
        self.binary = binary
        self.stdout_lines: list[str] = []
        self.exports: dict[str, str] = {}
        self._lines: "queue.Queue[str | None]" = queue.Queue()
        self._stderr_file = tempfile.NamedTemporaryFile(
            prefix="kvemu-stderr-", suffix=".log", delete=False
        )
        self.stderr_path = self._stderr_file.name
        self.proc: subprocess.Popen | None = None
        self.config_path: str | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        cmd = [str(self.binary), "--in-memory", "--https-port", "0", "--http-port", "0"]
        env = dict(os.environ)
        env.setdefault("KVEMU_CONFIG", str(DEFAULT_CONFIG))
        # The Managed HSM of test_managed_hsm.py (run.sh sets the same).
        env.setdefault("KVEMU_HSMS", "hsm1")
        self.config_path = env["KVEMU_CONFIG"]
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump_stdout, name="kvemu-stdout", daemon=True).start()

        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                self._fail(f"emulator did not print 'ready' within {READY_TIMEOUT:.0f} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:  # stdout closed: the process exited
                code = self.proc.wait(timeout=5)
                self._fail(f"emulator exited (status {code}) before printing 'ready'")
            m = EXPORT_RE.match(line)
            if m:
                self.exports[m.group(1)] = _unquote(m.group(2))
            elif line == "ready":
                break

        missing = [k for k in REQUIRED_EXPORTS if not self.exports.get(k)]
        if missing:
            self.stop()
            self._fail(f"emulator printed 'ready' but no export line for {', '.join(missing)}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    # -- output -------------------------------------------------------------------------
    def _pump_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\r\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stderr_tail(self, max_chars: int = 8000) -> str:
        try:
            self._stderr_file.flush()
            text = Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""
        return text[-max_chars:]

    def output_report(self) -> str:
        return (
            f"--- command: KVEMU_CONFIG={self.config_path} KVEMU_VAULTS={os.environ.get('KVEMU_VAULTS', '')} "
            f"{self.binary} --in-memory --https-port 0 --http-port 0\n"
            f"--- stdout ({len(self.stdout_lines)} lines):\n" + "\n".join(self.stdout_lines[-200:])
            + f"\n--- stderr (tail of {self.stderr_path}):\n" + self.stderr_tail()
        )

    def _fail(self, message: str) -> None:
        pytest.fail(f"{message}\n{self.output_report()}", pytrace=False)


_EMULATOR: Emulator | None = None


@pytest.fixture(scope="session")
def emulator():
    global _EMULATOR
    binary = Path(os.environ.get("KVEMU_BIN") or DEFAULT_BIN)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(
            f"keyvault-emulator binary not found or not executable: {binary}\n"
            "build it with `cargo build` or point KVEMU_BIN at it",
            pytrace=False,
        )
    emu = Emulator(binary)
    _EMULATOR = emu
    emu.start()

    saved = {k: os.environ.get(k) for k in emu.exports}
    os.environ.update(emu.exports)
    try:
        yield emu
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        emu.stop()
        _EMULATOR = None


@pytest.fixture(scope="session")
def vault_url(emulator) -> str:
    return emulator.exports["AZURE_KEYVAULT_URL"]


@pytest.fixture(scope="session")
def credential(emulator):
    # Configured only by IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service protocol).
    from azure.identity import ManagedIdentityCredential

    cred = ManagedIdentityCredential()
    yield cred
    cred.close()


@pytest.fixture(scope="session")
def key_client(vault_url, credential):
    from azure.keyvault.keys import KeyClient

    client = KeyClient(vault_url, credential)
    yield client
    client.close()


@pytest.fixture
def key_name() -> str:
    return f"cmk-{secrets.token_hex(6)}"


# Attach the emulator's output to every failing test's report.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # (setup errors of the emulator fixture already carry the output in their message)
    if report.failed and report.when == "call" and _EMULATOR is not None:
        report.sections.append(("keyvault-emulator output", _EMULATOR.output_report()))


def pytest_report_header(config):
    binary = os.environ.get("KVEMU_BIN") or str(DEFAULT_BIN)
    return [f"keyvault-emulator: {binary}", f"python: {sys.version.split()[0]}"]
