"""Smoke test of the container image as docker/README.md builds it ($KVEMU_IMAGE), on a real engine.

  * healthy within a second of readiness (the 1 s HEALTHCHECK interval), and how long from
    `docker run` to healthy;
  * size <= 25 MB; runs as uid 10001, not root; /data is 0700;
  * the CA served on the plain-HTTP port, and trusted for the HTTPS port;
  * a key created through the published (random) ports with a managed-identity token, its kid on
    the mapped port;
  * state surviving a container restart on a named volume and on a bind mount; a root-owned bind
    mount fails with the message that says what to do;
  * idle memory.

Figures are printed (pytest -s) for the README; tests/docker/run.sh runs this.
"""

from __future__ import annotations

import http.client as http_client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

IMAGE = os.environ.get("KVEMU_IMAGE", "keyvault-emulator:latest")
MAX_IMAGE_BYTES = 25 * 1000 * 1000
API_VERSION = "7.6"


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


def figure(name: str, value: str) -> None:
    print(f"\nFIGURE {name}: {value}", flush=True)


class Container:
    """One `docker run -d` of the image with both ports published on random loopback ports."""

    def __init__(self, *run_args: str):
        self.name = f"kvemu-smoke-{uuid.uuid4().hex[:8]}"
        self.run_args = run_args
        self.started = 0.0

    def start(self) -> "Container":
        # Docker 20.10 picks random host ports from the same range the kernel gives outgoing
        # connections, so docker-proxy's bind can meet one of them ("address already in use");
        # that is the engine's race, not the image's: the run is tried again with other ports.
        for attempt in range(3):
            self.started = time.monotonic()
            result = subprocess.run(
                ["docker", "run", "-d", "--name", self.name, "-p", "127.0.0.1::8443", "-p", "127.0.0.1::8080",
                 *self.run_args, IMAGE],
                capture_output=True, text=True, timeout=120,
            )
            if result.returncode == 0:
                return self
            if "address already in use" not in result.stderr or attempt == 2:
                raise AssertionError(f"docker run {self.name}: exit {result.returncode}\n{result.stdout}{result.stderr}")
            docker("rm", "-f", self.name, check=False)
        return self

    def port(self, container_port: int) -> int:
        return int(docker("port", self.name, f"{container_port}/tcp").splitlines()[0].rsplit(":", 1)[1])

    def health(self) -> str:
        state = inspect(self.name)["State"]
        if not state["Running"]:
            raise AssertionError(f"the container stopped (exit {state['ExitCode']}):\n{self.logs()}")
        return state["Health"]["Status"]

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds from start until /_emulator/health answers 200."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port(8080)}/_emulator/health"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            self.health()  # fails at once if the container exited
            time.sleep(0.02)
        raise AssertionError(f"not ready within {timeout} s:\n{self.logs()}")

    def wait_healthy(self, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health() == "healthy":
                return time.monotonic() - self.started
            time.sleep(0.05)
        raise AssertionError(f"not healthy within {timeout} s:\n{self.logs()}")

    def restart(self) -> None:
        docker("restart", "-t", "10", self.name)
        self.started = time.monotonic()

    def logs(self) -> str:
        result = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True, timeout=30)
        return result.stdout + result.stderr

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)

    # ------------------------------------------------------------------ the emulator's API
    def control(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port(8080)}{path}", timeout=10) as response:
            return response.read()

    def token(self) -> str:
        """A managed-identity token (App Service protocol) for the vault resource."""
        https = self.port(8443)
        query = urllib.parse.urlencode({"resource": f"https://vault.localhost:{https}", "api-version": "2019-08-01"})
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port(8080)}/msi/token?{query}", headers={"X-IDENTITY-HEADER": "smoke"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["access_token"]

    def vault(self, method: str, path: str, body: dict | None = None) -> dict:
        """A request to the vault `default` through the published HTTPS port, trusting the CA
        served on the HTTP port (connecting to 127.0.0.1, naming the vault in Host and SNI)."""
        https = self.port(8443)
        context = ssl.create_default_context(cadata=self.control("/_emulator/ca.pem").decode())
        host = f"default.vault.localhost:{https}"
        connection = http_client.HTTPSConnection("127.0.0.1", https, context=context, timeout=30)
        # SNI and certificate check against the vault's name, not the address.
        connection.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", https), timeout=30), server_hostname="default.vault.localhost"
        )
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Host": host, "Authorization": f"Bearer {self.token()}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, f"{path}?api-version={API_VERSION}", body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        assert response.status == 200, f"{method} {path}: {response.status} {data!r}"
        return json.loads(data)


@pytest.fixture
def container():
    created: list[Container] = []

    def make(*run_args: str) -> Container:
        c = Container(*run_args)
        created.append(c)
        return c.start()

    yield make
    for c in created:
        c.remove()


def test_image_size_and_labels():
    info = json.loads(docker("image", "inspect", IMAGE))[0]
    size = info["Size"]
    figure("image size", f"{size / 1e6:.1f} MB ({size} bytes)")
    assert size <= MAX_IMAGE_BYTES, f"{size} bytes"
    config = info["Config"]
    assert config["User"] == "10001:10001"
    labels = config["Labels"] or {}
    for label in ("title", "version", "revision", "created", "licenses"):
        assert labels.get(f"org.opencontainers.image.{label}"), label
    assert config["Healthcheck"]["Test"] == ["CMD", "keyvault-emulator", "healthcheck"]


def test_healthy_within_a_second_of_readiness(container):
    c = container()
    ready = c.wait_ready()
    healthy = c.wait_healthy()
    figure("docker run -> ready", f"{ready:.2f} s")
    figure("docker run -> healthy", f"{healthy:.2f} s")
    assert healthy - ready <= 1.2, f"ready after {ready:.2f} s, healthy after {healthy:.2f} s"


def test_non_root_and_private_data(container):
    c = container()
    c.wait_ready()
    pid = inspect(c.name)["State"]["Pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {"10001"}, uids
    # /data as the process sees it: 0700, owned by 10001.
    data = os.stat(f"/proc/{pid}/root/data")
    assert (data.st_mode & 0o777, data.st_uid) == (0o700, 10001)
    assert os.stat(f"/proc/{pid}/root/data/master.key").st_mode & 0o777 == 0o600


def test_ca_served_and_key_created_through_the_published_ports(container):
    c = container()
    c.wait_ready()
    ca = c.control("/_emulator/ca.pem").decode()
    assert ca.startswith("-----BEGIN CERTIFICATE-----"), ca[:80]
    key = c.vault("POST", "/keys/smoke/create", {"kty": "RSA", "key_size": 2048})
    kid = key["key"]["kid"]
    # The id follows the Host header: the mapped port, not the container's 8443.
    assert kid.startswith(f"https://default.vault.localhost:{c.port(8443)}/keys/smoke/"), kid


def state_survives_a_restart(c: Container) -> None:
    c.wait_ready()
    created = c.vault("POST", "/keys/durable/create", {"kty": "EC", "crv": "P-256"})["key"]["kid"]
    ca = c.control("/_emulator/ca.pem")
    c.restart()
    c.wait_ready()
    after = c.vault("GET", "/keys/durable")["key"]["kid"]
    # The same key version, now named on the port Docker picked after the restart; the same CA.
    path_of = lambda kid: urllib.parse.urlsplit(kid).path  # noqa: E731
    assert path_of(after) == path_of(created), (created, after)
    assert after.startswith(f"https://default.vault.localhost:{c.port(8443)}/"), after
    assert c.control("/_emulator/ca.pem") == ca


def test_state_survives_a_restart_on_a_named_volume(container):
    volume = f"kvemu-smoke-{uuid.uuid4().hex[:8]}"
    try:
        state_survives_a_restart(container("-v", f"{volume}:/data"))
    finally:
        for c in containers_of(volume):
            docker("rm", "-f", c, check=False)
        docker("volume", "rm", "-f", volume, check=False)


def containers_of(volume: str) -> list[str]:
    return docker("ps", "-aq", "--filter", f"volume={volume}").split()


def test_state_survives_a_restart_on_a_bind_mount(container, tmp_path):
    host_dir = tmp_path / "data"
    host_dir.mkdir()
    os.chown(host_dir, 10001, 10001)  # as docker/README.md says
    try:
        state_survives_a_restart(container("-v", f"{host_dir}:/data"))
        assert (host_dir / "master.key").exists()
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)


def test_a_root_owned_bind_mount_says_what_to_do(tmp_path):
    host_dir = tmp_path / "root-owned"
    host_dir.mkdir(mode=0o755)
    result = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{host_dir}:/data", IMAGE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Permission denied" in result.stderr and "chown 10001:10001" in result.stderr, result.stderr
    assert "--user" in result.stderr, result.stderr


def test_a_bind_mount_with_the_callers_user(tmp_path):
    host_dir = tmp_path / "mine"
    host_dir.mkdir()
    os.chown(host_dir, 4321, 4321)
    c = Container("--user", "4321:4321", "-v", f"{host_dir}:/data").start()
    try:
        c.wait_ready()
        assert os.stat(host_dir / "master.key").st_uid == 4321
    finally:
        c.remove()


def test_idle_memory(container):
    c = container()
    c.wait_healthy()
    time.sleep(3)
    usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", c.name)
    figure("idle memory", usage.split("/")[0].strip())
