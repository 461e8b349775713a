"""keyvault-emulator for testcontainers-python (4.x).

    with KeyVaultEmulatorContainer("keyvault-emulator:latest") as kv:
        client = KeyClient(kv.vault_url("default"), kv.credential(), connection_verify=kv.ca_file())

The container publishes its HTTPS port (vaults, login, management) and its plain-HTTP port
(managed-identity tokens, /_emulator) on random host ports, on the loopback interface when the
engine is local. The emulator takes a vault's name, the port of key ids and the challenge's
resource from the Host header, so the SDKs' challenge check passes on whatever port Docker
picked. `{vault}.vault.localhost` must resolve to the engine's host (it does with
systemd-resolved and on macOS; elsewhere add an /etc/hosts line).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
import urllib.request
from typing import Any, Optional

from testcontainers.core.config import ConnectionMode
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

__all__ = ["KeyVaultEmulatorContainer"]

HTTPS_PORT = 8443
HTTP_PORT = 8080
DOMAIN = "vault.localhost"
# The emulator's defaults (its start banner prints them; a config file can change the tenant).
DEFAULT_TENANT = "7e6a71f0-2c3b-4d5e-8f90-a1b2c3d4e5f6"
DEFAULT_IDENTITY_HEADER = "keyvault-emulator"
ADMIN_SECRET = "keyvault-emulator-admin-secret"
_ADMIN_LINE = re.compile(r'Service principal "admin".*?tenant ([0-9a-f-]{36}), client id ([0-9a-f-]{36}), secret (\S+)')


class KeyVaultEmulatorContainer(DockerContainer):
    """A keyvault-emulator container, ready (its /_emulator/health answers 200) when started.

    `config`: a TOML config file on the host, mounted read-only (identities, vaults, keys).
    `startup_timeout`: seconds to wait for readiness.
    """

    def __init__(
        self,
        image: str = "keyvault-emulator:latest",
        *,
        config: Optional[str | os.PathLike[str]] = None,
        startup_timeout: float = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self._ca_path: Optional[str] = None
        self._admin: Optional[tuple[str, str, str]] = None
        if config is not None:
            self.with_volume_mapping(os.path.abspath(config), "/etc/kvemu/kvemu.toml", "ro")
            self.with_env("KVEMU_CONFIG", "/etc/kvemu/kvemu.toml")
        # State lives in the container and goes with it.
        self.with_env("KVEMU_IN_MEMORY", "true")
        self.waiting_for(
            HttpWaitStrategy(HTTP_PORT, "/_emulator/health")
            .for_status_code(200)
            .with_poll_interval(0.05)
            .with_startup_timeout(int(startup_timeout))
        )

    def _configure(self) -> None:
        # Random host ports; on loopback only when the engine is on this machine, because anyone
        # who reaches the plain-HTTP port can mint tokens.
        client = self.get_docker_client()
        bind: Any = None
        if client.get_connection_mode() == ConnectionMode.docker_host and _is_loopback(client.host()):
            bind = ("127.0.0.1",)
        for port in (HTTPS_PORT, HTTP_PORT):
            self.ports.setdefault(f"{port}/tcp", bind)

    def start(self) -> "KeyVaultEmulatorContainer":
        super().start()
        self._ca_path = None
        self._admin = None
        return self

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        if self._ca_path:
            try:
                os.unlink(self._ca_path)
            except OSError:
                pass
            self._ca_path = None
        super().stop(force=force, delete_volume=delete_volume)

    # ------------------------------------------------------------------ addresses
    def https_port(self) -> int:
        return int(self.get_exposed_port(HTTPS_PORT))

    def http_port(self) -> int:
        return int(self.get_exposed_port(HTTP_PORT))

    def host(self) -> str:
        host = self.get_container_host_ip()
        return "127.0.0.1" if host == "localhost" else host

    def vault_url(self, name: str = "default") -> str:
        """`https://{name}.vault.localhost:{port}`: the SDKs' challenge check passes on it."""
        return f"https://{name.lower()}.{DOMAIN}:{self.https_port()}"

    def authority_host(self) -> str:
        """The Entra-like login endpoint (AZURE_AUTHORITY_HOST)."""
        return f"https://localhost:{self.https_port()}"

    def control_url(self) -> str:
        """The plain-HTTP port: managed identity and /_emulator."""
        return f"http://{self.host()}:{self.http_port()}"

    def identity_endpoint(self) -> str:
        return f"{self.control_url()}/msi/token"

    # ------------------------------------------------------------------ trust
    def ca_pem(self) -> str:
        with urllib.request.urlopen(f"{self.control_url()}/_emulator/ca.pem", timeout=10) as response:
            return response.read().decode("ascii")

    def ca_file(self) -> str:
        """A file holding the emulator's CA certificate (removed when the container stops)."""
        if self._ca_path is None:
            handle, path = tempfile.mkstemp(prefix="kvemu-ca-", suffix=".pem")
            with os.fdopen(handle, "w") as file:
                file.write(self.ca_pem())
            self._ca_path = path
        return self._ca_path

    # ------------------------------------------------------------------ clients
    def sdk_env(self, vault: str = "default", identity_header: str = DEFAULT_IDENTITY_HEADER) -> dict[str, str]:
        """The variables the Azure SDKs read, as the emulator's banner prints them, for this
        container's ports: a managed identity (App Service protocol; `identity_header` picks it)
        and the CA for Python, Node, Go, .NET and Rust. For a subprocess's environment or
        monkeypatch.setenv: REQUESTS_CA_BUNDLE and SSL_CERT_FILE replace the trusted roots."""
        ca = self.ca_file()
        tenant, _, _ = self._admin_credentials()
        return {
            "AZURE_KEYVAULT_URL": self.vault_url(vault),
            "IDENTITY_ENDPOINT": self.identity_endpoint(),
            "IDENTITY_HEADER": identity_header,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.control_url(),
            "AZURE_TENANT_ID": tenant,
            "AZURE_AUTHORITY_HOST": self.authority_host(),
            "REQUESTS_CA_BUNDLE": ca,
            "NODE_EXTRA_CA_CERTS": ca,
            "SSL_CERT_FILE": ca,
        }

    def credential(self, **kwargs: Any):
        """An azure-identity ClientSecretCredential of the emulator's built-in service principal
        `admin` (every key permission on every vault unless the config file says otherwise),
        signing in at this container's login endpoint and trusting its CA. Needs azure-identity."""
        from azure.identity import ClientSecretCredential

        tenant, client_id, secret = self._admin_credentials()
        kwargs.setdefault("connection_verify", self.ca_file())
        return ClientSecretCredential(
            tenant,
            client_id,
            secret,
            authority=self.authority_host(),
            disable_instance_discovery=True,
            **kwargs,
        )

    def _admin_credentials(self) -> tuple[str, str, str]:
        """The admin's tenant, client id and secret from the start banner."""
        if self._admin is None:
            stdout, _ = self.get_logs()
            match = _ADMIN_LINE.search(stdout.decode("utf-8", "replace"))
            if match is None:
                raise RuntimeError("the emulator's banner names no service principal `admin`")
            self._admin = (match.group(1), match.group(2), match.group(3))
        return self._admin

    def identities(self) -> list[dict[str, Any]]:
        """The emulator's identities (GET /_emulator/identities)."""
        with urllib.request.urlopen(f"{self.control_url()}/_emulator/identities", timeout=10) as response:
            return json.loads(response.read())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
