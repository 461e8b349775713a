"""Identities other than the default one, with the official Python SDK and default settings.

The customer-managed-key (CMK) flow as a storage service runs it: the identity holds only
get / wrapKey / unwrapKey on its key (an access policy on vault `cmk`, or the role
"Key Vault Crypto Service Encryption User" scoped to the key on the RBAC vault `cmkrbac`). It
reads the key, wraps a data key (locally, as the SDK does once it has the public key, and
through the service), unwraps it (always the service), and is refused (403) when it tries to
create, delete or sign. When its access policy or role assignment is removed through the
emulator's control port, its very next unwrap is a 403, with no new token and no restart; the
test then puts the authorization back.

The identities and vaults come from tests/sdk/kvemu.toml:
  storage  system-assigned; the App Service endpoint gives it to X-IDENTITY-HEADER: storage-secret
  app      service principal; client secret "app-secret-value", and a federated credential
           (issuer https://federation.example, subject system:serviceaccount:default:app)

azure-identity reads IDENTITY_ENDPOINT / IDENTITY_HEADER when a ManagedIdentityCredential is
constructed, so each test sets the storage account's header (monkeypatch) before building its own
credential; the session's default credential (conftest.py) is unaffected.

Credentials exercised: ManagedIdentityCredential (App Service env vars), DefaultAzureCredential
(falls through to that managed identity), ClientSecretCredential against the emulator's
Entra-like authority (https://localhost:{https port}) with disable_instance_discovery=True, and
WorkloadIdentityCredential configured by the environment alone (AZURE_AUTHORITY_HOST,
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE).

Every test that changes a vault's authorization restores it in a `finally`, so the tests stay
independent of their order.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.rest import HttpRequest
from azure.identity import (
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm, SignatureAlgorithm

STORAGE_IDENTITY_HEADER = "storage-secret"
APP_SECRET = "app-secret-value"
FEDERATION_ISSUER = "https://federation.example"
APP_SUBJECT = "system:serviceaccount:default:app"
CMK = "storage-cmk"
OTHER_KEY = "other-key"  # a second seed key in cmkrbac, outside storage's key-scoped role
WRAP = KeyWrapAlgorithm.rsa_oaep_256

# Environment variables that would make a credential pick another identity than intended.
_IDENTITY_SELECTING_VARS = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_USERNAME",
)


# --------------------------------------------------------------------------------------
# the emulator's control port (plain HTTP): identities, vault authorization, assertions
# --------------------------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Controls:
    http_url: str  # http://127.0.0.1:PORT
    https_port: int
    default_vault_url: str

    def _request(self, method: str, path: str, body: dict | None = None, query: dict | None = None):
        url = self.http_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        # The token routes answer only requests that carry it; the other controls ignore it.
        request.add_header("Metadata", "true")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, f"{method} {url}: HTTP {response.status}"
            return json.loads(response.read())

    def identity(self, name: str) -> dict:
        found = [i for i in self._request("GET", "/_emulator/identities")["value"] if i["name"] == name]
        assert found, (
            f"the emulator has no identity '{name}': was it started with tests/sdk/kvemu.toml "
            "(KVEMU_CONFIG, set by tests/sdk/run.sh)?"
        )
        return found[0]

    def authorization(self, vault: str) -> dict:
        return self._request("GET", f"/_emulator/vaults/{vault}/authorization")

    def set_authorization(self, vault: str, authorization: dict) -> dict:
        return self._request("PUT", f"/_emulator/vaults/{vault}/authorization", body=authorization)

    def federated_assertion(self, subject: str, issuer: str = FEDERATION_ISSUER) -> str:
        return self._request("GET", "/_emulator/federated-token", query={"issuer": issuer, "subject": subject})["token"]

    @property
    def authority(self) -> str:
        return f"https://localhost:{self.https_port}"

    def vault_url(self, vault: str) -> str:
        return self.default_vault_url.replace("://default.", f"://{vault}.", 1)


@pytest.fixture(scope="module")
def controls(emulator) -> Controls:
    endpoint = urllib.parse.urlsplit(emulator.exports["IDENTITY_ENDPOINT"])
    vault = urllib.parse.urlsplit(emulator.exports["AZURE_KEYVAULT_URL"])
    assert vault.port, emulator.exports["AZURE_KEYVAULT_URL"]
    return Controls(
        http_url=f"{endpoint.scheme}://{endpoint.netloc}",
        https_port=vault.port,
        default_vault_url=emulator.exports["AZURE_KEYVAULT_URL"],
    )


@pytest.fixture(scope="module")
def tenant_id(emulator) -> str:
    return emulator.exports["AZURE_TENANT_ID"]


@pytest.fixture
def clean_identity_env(monkeypatch):
    """No stray variable (from the developer's shell) chooses the identity for these tests."""
    for var in _IDENTITY_SELECTING_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def storage_env(clean_identity_env):
    """The App Service environment of the storage account: its own identity header."""
    clean_identity_env.setenv("IDENTITY_HEADER", STORAGE_IDENTITY_HEADER)
    return clean_identity_env


# --------------------------------------------------------------------------------------
# the CMK flow
# --------------------------------------------------------------------------------------
def _assert_forbidden(excinfo, *, oid: str, rbac: bool, what: str) -> None:
    err = excinfo.value
    body = err.response.text() if err.response is not None else ""
    assert err.status_code == 403, f"{what}: HTTP {err.status_code}: {body}"
    assert err.error is not None and err.error.code == "Forbidden", f"{what}: {body}"
    inner = json.loads(body)["error"].get("innererror", {}).get("code")
    assert inner == ("ForbiddenByRbac" if rbac else "AccessDenied"), f"{what}: {body}"
    # The refusal names the caller: proof that the credential used the intended identity.
    assert f"oid={oid}" in err.message, f"{what}: caller is not {oid}: {err.message}"


def _assert_names_the_grant(excinfo, *, rbac: bool, permission: str, action: str) -> None:
    message = excinfo.value.message
    if rbac:
        assert f"Action: 'Microsoft.KeyVault/vaults/{action}'" in message, message
    else:
        assert f"does not have keys {permission} permission" in message, message


def _revoke(authorization: dict, oid: str) -> dict:
    revoked = copy.deepcopy(authorization)
    revoked["accessPolicies"] = [p for p in revoked.get("accessPolicies", []) if p["objectId"] != oid]
    revoked["roleAssignments"] = [a for a in revoked.get("roleAssignments", []) if a["principalId"] != oid]
    assert revoked != authorization, f"{oid} holds no access policy or role assignment to revoke"
    return revoked


def cmk_flow(credential, controls: Controls, vault: str, oid: str, *, rbac: bool = False) -> None:
    """get + wrap + unwrap work; create, delete, sign are 403; revoking makes the next unwrap 403."""
    url = controls.vault_url(vault)
    client = KeyClient(url, credential)
    try:
        key = client.get_key(CMK)
        assert key.id.startswith(f"{url}/keys/{CMK}/"), key.id
        assert key.key.d is None, "no private material in a key bundle"

        crypto = CryptographyClient(key.id, credential)  # fetches the key itself (get)
        data_key = os.urandom(32)
        wrapped = crypto.wrap_key(WRAP, data_key)  # the SDK wraps locally with the public key
        assert wrapped.key_id == key.id
        assert crypto.unwrap_key(WRAP, wrapped.encrypted_key).key == data_key  # always the service

        # wrapKey through the service too, in the client's own pipeline (challenge auth and all).
        remote = client.send_request(
            HttpRequest(
                "POST",
                f"/keys/{CMK}/{key.properties.version}/wrapkey",
                json={"alg": WRAP.value, "value": _b64url(data_key)},
            )
        )
        assert remote.status_code == 200, f"service wrapKey: HTTP {remote.status_code}: {remote.text()}"
        remote_wrapped = _b64url_decode(remote.json()["value"])
        assert remote.json()["kid"] == key.id
        assert crypto.unwrap_key(WRAP, remote_wrapped).key == data_key

        # Everything beyond get/wrap/unwrap is refused.
        refusals = [
            ("create", "create", "keys/create/action",
             lambda: client.create_rsa_key(f"not-mine-{os.urandom(4).hex()}", size=2048)),
            ("delete", "delete", "keys/delete", lambda: client.begin_delete_key(CMK)),
            ("sign", "sign", "keys/sign/action",
             lambda: crypto.sign(SignatureAlgorithm.rs256, hashlib.sha256(b"not mine to sign").digest())),
        ]
        for what, permission, action, call in refusals:
            with pytest.raises(HttpResponseError) as refused:
                call()
            _assert_forbidden(refused, oid=oid, rbac=rbac, what=what)
            _assert_names_the_grant(refused, rbac=rbac, permission=permission, action=action)
        assert client.get_key(CMK).id == key.id, "the refused delete left the key in place"

        # Revocation: the next unwrap is refused, with the same (still valid) token.
        original = controls.authorization(vault)
        controls.set_authorization(vault, _revoke(original, oid))
        try:
            with pytest.raises(HttpResponseError) as refused:
                crypto.unwrap_key(WRAP, wrapped.encrypted_key)
            _assert_forbidden(refused, oid=oid, rbac=rbac, what="unwrap after revocation")
            _assert_names_the_grant(refused, rbac=rbac, permission="unwrapKey", action="keys/unwrap/action")
        finally:
            controls.set_authorization(vault, original)
        # Granted again: the next unwrap works again.
        assert crypto.unwrap_key(WRAP, wrapped.encrypted_key).key == data_key
        crypto.close()
    finally:
        client.close()


# --------------------------------------------------------------------------------------
# managed identity (App Service protocol, the storage account's identity header)
# --------------------------------------------------------------------------------------
def test_managed_identity_cmk_with_access_policy(storage_env, controls):
    storage = controls.identity("storage")
    credential = ManagedIdentityCredential()
    try:
        cmk_flow(credential, controls, "cmk", storage["objectId"])
    finally:
        credential.close()


def test_managed_identity_cmk_with_key_scoped_role(storage_env, controls):
    storage = controls.identity("storage")
    url = controls.vault_url("cmkrbac")
    credential = ManagedIdentityCredential()
    client = KeyClient(url, credential)
    try:
        cmk_flow(credential, controls, "cmkrbac", storage["objectId"], rbac=True)

        # The role is scoped to /keys/storage-cmk: another key of the vault is out of reach...
        with pytest.raises(HttpResponseError) as refused:
            client.get_key(OTHER_KEY)
        _assert_forbidden(refused, oid=storage["objectId"], rbac=True, what="get another key")
        assert "Action: 'Microsoft.KeyVault/vaults/keys/read'" in refused.value.message
        assert f"/keys/{OTHER_KEY}'" in refused.value.message, refused.value.message
        with pytest.raises(HttpResponseError) as refused:
            CryptographyClient(f"{url}/keys/{OTHER_KEY}", credential).unwrap_key(WRAP, os.urandom(256))
        _assert_forbidden(refused, oid=storage["objectId"], rbac=True, what="unwrap with another key")
        # ... and so is anything at vault scope, such as listing.
        with pytest.raises(HttpResponseError) as refused:
            list(client.list_properties_of_keys())
        _assert_forbidden(refused, oid=storage["objectId"], rbac=True, what="list keys")
    finally:
        client.close()
        credential.close()


def test_the_banners_identity_header_still_gets_the_default_identity(clean_identity_env, controls):
    """A header that belongs to no system-assigned identity (here the banner's IDENTITY_HEADER)
    gets the default identity, which holds every permission on cmk: creating there works."""
    default = controls.identity("default")
    clean_identity_env.setenv("IDENTITY_HEADER", "keyvault-emulator")
    credential = ManagedIdentityCredential()
    client = KeyClient(controls.vault_url("cmk"), credential)
    try:
        name = f"by-default-{os.urandom(4).hex()}"
        key = client.create_rsa_key(name, size=2048)
        assert key.name == name
        client.begin_delete_key(name).wait()
        token = credential.get_token(f"https://vault.localhost:{controls.https_port}/.default").token
        claims = json.loads(_b64url_decode(token.split(".")[1]))
        assert claims["oid"] == default["objectId"], claims
    finally:
        client.close()
        credential.close()


def test_default_azure_credential_uses_the_managed_identity(storage_env, controls):
    storage = controls.identity("storage")
    credential = DefaultAzureCredential()
    try:
        cmk_flow(credential, controls, "cmk", storage["objectId"])
    finally:
        credential.close()


# --------------------------------------------------------------------------------------
# service principal: client secret and workload identity at the Entra-like authority
# --------------------------------------------------------------------------------------
def test_client_secret_credential_cmk(clean_identity_env, controls, tenant_id):
    app = controls.identity("app")
    credential = ClientSecretCredential(
        tenant_id,
        app["clientId"],
        APP_SECRET,
        authority=controls.authority,
        disable_instance_discovery=True,
    )
    try:
        cmk_flow(credential, controls, "cmk", app["objectId"])
    finally:
        credential.close()


def test_workload_identity_credential_cmk(clean_identity_env, controls, tenant_id, tmp_path):
    app = controls.identity("app")
    token_file = tmp_path / "azure-identity-token"
    # Written as a projected service-account token is: the JWT and nothing else.
    token_file.write_text(controls.federated_assertion(APP_SUBJECT))
    clean_identity_env.setenv("AZURE_AUTHORITY_HOST", controls.authority)
    clean_identity_env.setenv("AZURE_TENANT_ID", tenant_id)
    clean_identity_env.setenv("AZURE_CLIENT_ID", app["clientId"])
    clean_identity_env.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    credential = WorkloadIdentityCredential()
    try:
        cmk_flow(credential, controls, "cmk", app["objectId"])
    finally:
        credential.close()


def test_workload_identity_with_an_unknown_subject_is_refused(clean_identity_env, controls, tenant_id, tmp_path):
    app = controls.identity("app")
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(controls.federated_assertion("system:serviceaccount:default:intruder"))
    credential = WorkloadIdentityCredential(
        tenant_id=tenant_id,
        client_id=app["clientId"],
        token_file_path=str(token_file),
        authority=controls.authority,
    )
    client = KeyClient(controls.vault_url("cmk"), credential)
    try:
        with pytest.raises(ClientAuthenticationError) as refused:
            client.get_key(CMK)
        assert "AADSTS700213" in str(refused.value), str(refused.value)
    finally:
        client.close()
        credential.close()


def test_wrong_client_secret_is_aadsts7000215(clean_identity_env, controls, tenant_id):
    app = controls.identity("app")
    credential = ClientSecretCredential(
        tenant_id,
        app["clientId"],
        "not-the-secret",
        authority=controls.authority,
        disable_instance_discovery=True,
    )
    client = KeyClient(controls.vault_url("cmk"), credential)
    try:
        with pytest.raises(ClientAuthenticationError) as refused:
            client.get_key(CMK)
        assert "AADSTS7000215" in str(refused.value), str(refused.value)
    finally:
        client.close()
        credential.close()
