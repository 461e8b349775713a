"""KeyVaultEmulatorContainer against the image the Docker suite built ($KVEMU_IMAGE).

CMK wrap/unwrap through azure-keyvault-keys with the module's credential and CA, then with a
managed identity configured only by sdk_env(); ids, kids and the challenge follow the random
host port. `*.vault.localhost` is mapped to 127.0.0.1 by tests/sdk/localhost on PYTHONPATH
where the resolver does not do it.
"""

from __future__ import annotations

import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
import ssl

import pytest
from azure.identity import ManagedIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm

from testcontainers_keyvault_emulator import HTTPS_PORT, KeyVaultEmulatorContainer

IMAGE = os.environ.get("KVEMU_IMAGE", "keyvault-emulator:latest")


@pytest.fixture(scope="module")
def kv():
    with KeyVaultEmulatorContainer(IMAGE) as container:
        yield container


def wrap_unwrap(client: KeyClient, credential, ca_file: str) -> str:
    name = f"cmk-{secrets.token_hex(4)}"
    key = client.create_rsa_key(name, size=2048)
    crypto = CryptographyClient(key, credential, connection_verify=ca_file)
    data_key = secrets.token_bytes(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == data_key
    return key.id


def test_ports_are_random_and_on_loopback(kv):
    port = kv.https_port()
    assert port != HTTPS_PORT or kv.http_port() != 8080
    bindings = kv.get_wrapped_container().attrs["HostConfig"]["PortBindings"]
    assert all(b["HostIp"] == "127.0.0.1" for spec in bindings.values() for b in spec), bindings


def test_cmk_with_the_admin_credential(kv):
    credential = kv.credential()
    client = KeyClient(kv.vault_url("default"), credential, connection_verify=kv.ca_file())
    kid = wrap_unwrap(client, credential, kv.ca_file())
    # The key id names the vault as the client reached it: the mapped port, not 8443.
    assert kid.startswith(f"https://default.vault.localhost:{kv.https_port()}/keys/"), kid


def test_the_challenge_follows_the_mapped_port(kv):
    context = ssl.create_default_context(cafile=kv.ca_file())
    url = f"https://localhost:{kv.https_port()}/keys?api-version=7.6"
    request = urllib.request.Request(url, headers={"Host": f"default.vault.localhost:{kv.https_port()}"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert error.value.code == 401
    challenge = error.value.headers["WWW-Authenticate"]
    assert f'resource="https://vault.localhost:{kv.https_port()}"' in challenge, challenge


def test_cmk_with_a_managed_identity_from_sdk_env(kv, monkeypatch):
    for name, value in kv.sdk_env("default").items():
        monkeypatch.setenv(name, value)
    credential = ManagedIdentityCredential()
    client = KeyClient(os.environ["AZURE_KEYVAULT_URL"], credential)
    wrap_unwrap(client, credential, os.environ["REQUESTS_CA_BUNDLE"])


def test_ca_file_is_the_served_ca(kv):
    with open(kv.ca_file()) as file:
        assert file.read() == kv.ca_pem()
    assert "BEGIN CERTIFICATE" in kv.ca_pem()
