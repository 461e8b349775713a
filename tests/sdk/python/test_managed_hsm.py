"""Managed HSM with the official Python SDKs, default settings (challenge verification on):

* azure-keyvault-keys against https://hsm1.managedhsm.localhost:PORT (run.sh starts the
  emulator with KVEMU_HSMS=hsm1: activated, the default identity administers it and holds
  Crypto User at "/");
* azure-keyvault-administration's KeyVaultAccessControlClient: role definitions, and role
  assignments created, listed and deleted; an assignment's removal refuses the next unwrap.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.parse
import urllib.request
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.administration import KeyVaultAccessControlClient, KeyVaultRoleScope
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, KeyWrapAlgorithm

HSM = os.environ.get("KVEMU_HSMS", "hsm1").split(";")[0].split(":")[0]
STORAGE_IDENTITY_HEADER = "storage-secret"  # tests/sdk/kvemu.toml
ENCRYPTION_USER = "Managed HSM Crypto Service Encryption User"
BUILT_IN = {
    "Managed HSM Administrator": "a290e904-7015-4bba-90c8-60543313cdb4",
    "Managed HSM Crypto Officer": "515eb02d-2335-4d2d-92f2-b1cbdf9c3778",
    "Managed HSM Crypto User": "21dbd100-6940-42c2-9190-5d6cb909625b",
    "Managed HSM Policy Administrator": "4bd23610-cdcf-4971-bdee-bdc562cc28e4",
    "Managed HSM Crypto Auditor": "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3",
    ENCRYPTION_USER: "33413926-3206-4cdd-b39a-83574fe37a17",
    "Managed HSM Crypto Service Release User": "21dbd100-6940-42c2-9190-5d6cb909625c",
    "Managed HSM Backup User": "7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8",
}


@pytest.fixture(scope="module")
def hsm_url(emulator) -> str:
    vault = urllib.parse.urlsplit(emulator.exports["AZURE_KEYVAULT_URL"])
    return f"https://{HSM}.managedhsm.localhost:{vault.port}"


@pytest.fixture(scope="module")
def storage_oid(emulator) -> str:
    endpoint = urllib.parse.urlsplit(emulator.exports["IDENTITY_ENDPOINT"])
    url = f"{endpoint.scheme}://{endpoint.netloc}/_emulator/identities"
    with urllib.request.urlopen(url, timeout=30) as response:
        identities = json.loads(response.read())["value"]
    return next(i["objectId"] for i in identities if i["name"] == "storage")


@pytest.fixture(scope="module")
def hsm_keys(hsm_url, credential):
    client = KeyClient(hsm_url, credential)
    yield client
    client.close()


@pytest.fixture(scope="module")
def access_control(hsm_url, credential):
    client = KeyVaultAccessControlClient(hsm_url, credential)
    yield client
    client.close()


def test_hsm_keys_are_hsm_keys_on_the_hsm_host(hsm_keys, hsm_url):
    name = f"cmk-{secrets.token_hex(4)}"
    key = hsm_keys.create_rsa_key(name, size=3072, hardware_protected=True)
    assert key.key_type == "RSA-HSM"
    assert key.id.startswith(f"{hsm_url}/keys/{name}/"), key.id
    assert len(key.key.n) == 384
    with pytest.raises(HttpResponseError) as refused:
        hsm_keys.create_rsa_key(f"{name}-soft", size=2048)
    assert refused.value.status_code == 400
    assert "Invalid kty value: RSA" in refused.value.message
    aes = hsm_keys.create_oct_key(f"{name}-aes", size=256, hardware_protected=True)
    assert aes.key_type == "oct-HSM"
    assert [k.name for k in hsm_keys.list_properties_of_keys() if k.name == name] == [name]


def test_hsm_symmetric_wrap_round_trips(hsm_keys, credential):
    aes = hsm_keys.create_oct_key(f"aes-{secrets.token_hex(4)}", size=256, hardware_protected=True)
    crypto = CryptographyClient(aes, credential)
    data_key = os.urandom(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.aes_256, data_key)
    assert crypto.unwrap_key(KeyWrapAlgorithm.aes_256, wrapped.encrypted_key).key == data_key


def test_role_definitions_are_the_built_in_managed_hsm_roles(access_control):
    definitions = {d.role_name: d for d in access_control.list_role_definitions(KeyVaultRoleScope.GLOBAL)}
    for role_name, role_id in BUILT_IN.items():
        assert definitions[role_name].name == role_id, role_name
    encryption = definitions[ENCRYPTION_USER]
    assert sorted(encryption.permissions[0].data_actions) == sorted(
        [
            "Microsoft.KeyVault/managedHsm/keys/read/action",
            "Microsoft.KeyVault/managedHsm/keys/wrap/action",
            "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
        ]
    )
    fetched = access_control.get_role_definition(KeyVaultRoleScope.GLOBAL, BUILT_IN[ENCRYPTION_USER])
    assert fetched.role_name == ENCRYPTION_USER


def test_key_scoped_assignment_grants_wrap_and_its_removal_refuses_at_once(
    hsm_keys, access_control, storage_oid, hsm_url, monkeypatch
):
    name = f"cmk-{secrets.token_hex(4)}"
    key = hsm_keys.create_rsa_key(name, size=3072, hardware_protected=True)
    scope = f"/keys/{name}"
    definition = access_control.get_role_definition(KeyVaultRoleScope.GLOBAL, BUILT_IN[ENCRYPTION_USER])
    assignment = access_control.create_role_assignment(scope, definition.id, storage_oid)
    assert assignment.properties.scope == scope
    assert assignment.properties.principal_id == storage_oid
    listed = [a.name for a in access_control.list_role_assignments(scope)]
    assert assignment.name in listed
    assert access_control.get_role_assignment(scope, assignment.name).name == assignment.name

    monkeypatch.setenv("IDENTITY_HEADER", STORAGE_IDENTITY_HEADER)
    storage = ManagedIdentityCredential()
    try:
        crypto = CryptographyClient(key.id, storage)
        data_key = os.urandom(32)
        wrapped = crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)
        assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == data_key
        with pytest.raises(HttpResponseError) as refused:
            crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, b"x" * 384)
        assert refused.value.status_code == 403

        access_control.delete_role_assignment(scope, assignment.name)
        with pytest.raises(HttpResponseError) as refused:
            crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key)
        assert refused.value.status_code == 403
    finally:
        storage.close()
    with pytest.raises(ResourceNotFoundError):
        access_control.get_role_assignment(scope, assignment.name)


def test_custom_role_definition_is_set_listed_and_deleted(access_control):
    from azure.keyvault.administration import KeyVaultPermission

    role_id = uuid.uuid4()
    permission = KeyVaultPermission(data_actions=["Microsoft.KeyVault/managedHsm/keys/read/action"])
    created = access_control.set_role_definition(
        KeyVaultRoleScope.GLOBAL, name=role_id, role_name=f"reader-{role_id.hex[:6]}", permissions=[permission]
    )
    assert created.name == str(role_id)
    assert str(role_id) in [d.name for d in access_control.list_role_definitions(KeyVaultRoleScope.GLOBAL)]
    access_control.delete_role_definition(KeyVaultRoleScope.GLOBAL, role_id)
    with pytest.raises(ResourceNotFoundError):
        access_control.get_role_definition(KeyVaultRoleScope.GLOBAL, role_id)
