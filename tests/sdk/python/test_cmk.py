"""Customer-managed-key scenarios with the official Python SDK (azure-keyvault-keys + azure-identity).

Default client settings only: challenge-resource verification on, TLS verification on
(the emulator's CA is trusted through REQUESTS_CA_BUNDLE), ManagedIdentityCredential()
configured by IDENTITY_ENDPOINT + IDENTITY_HEADER. See conftest.py for the harness.
"""

import os

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.keys import KeyType
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, KeyWrapAlgorithm

RSA_3072_MODULUS_BYTES = 3072 // 8


@pytest.fixture(scope="module")
def rsa_key(key_client):
    """One RSA-3072 key shared by the read-only scenarios of this module."""
    name = f"cmk-{os.urandom(6).hex()}"
    return key_client.create_rsa_key(name, size=3072)


def _assert_rsa_3072(key, name, vault_url):
    assert key.name == name
    assert key.key_type == KeyType.rsa, key.key_type
    assert key.key.n is not None and len(key.key.n) == RSA_3072_MODULUS_BYTES, (
        f"modulus is {len(key.key.n or b'')} bytes, expected {RSA_3072_MODULUS_BYTES} "
        "(no leading zero byte)"
    )
    assert key.key.e == b"\x01\x00\x01", key.key.e
    assert key.id.startswith(f"{vault_url}/keys/{name}/"), key.id
    assert key.properties.version and key.id.endswith("/" + key.properties.version)
    assert key.properties.enabled is True
    # No private material in a key bundle.
    assert key.key.d is None and key.key.p is None and key.key.q is None


# 1. create an RSA-3072 key
def test_create_rsa_3072_key(key_client, key_name, vault_url):
    key = key_client.create_rsa_key(key_name, size=3072)
    _assert_rsa_3072(key, key_name, vault_url)
    ops = set(key.key_operations or [])
    for op in ("wrapKey", "unwrapKey", "encrypt", "decrypt"):
        assert op in ops, f"key_ops {sorted(ops)} lacks {op}"


# 2. wrap / unwrap a data key (RSA-OAEP-256 and RSA-OAEP)
@pytest.mark.parametrize(
    "algorithm", [KeyWrapAlgorithm.rsa_oaep_256, KeyWrapAlgorithm.rsa_oaep], ids=lambda a: a.value
)
def test_wrap_unwrap_data_key(rsa_key, credential, algorithm):
    crypto = CryptographyClient(rsa_key, credential)
    data_key = os.urandom(32)

    wrapped = crypto.wrap_key(algorithm, data_key)  # may run locally with the public key
    assert wrapped.algorithm == algorithm
    assert wrapped.key_id == rsa_key.id
    assert len(wrapped.encrypted_key) == RSA_3072_MODULUS_BYTES
    assert wrapped.encrypted_key != data_key

    unwrapped = crypto.unwrap_key(algorithm, wrapped.encrypted_key)  # always the service
    assert unwrapped.key == data_key
    assert unwrapped.key_id == rsa_key.id
    assert unwrapped.algorithm == algorithm


def test_wrap_unwrap_with_key_id(rsa_key, credential):
    """A CryptographyClient built from the key identifier (it fetches the key itself)."""
    crypto = CryptographyClient(rsa_key.id, credential)
    data_key = os.urandom(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == data_key


# 3. get, list, versions
def test_get_key(key_client, rsa_key, vault_url):
    fetched = key_client.get_key(rsa_key.name)
    _assert_rsa_3072(fetched, rsa_key.name, vault_url)
    assert fetched.id == rsa_key.id
    assert fetched.key.n == rsa_key.key.n

    by_version = key_client.get_key(rsa_key.name, version=rsa_key.properties.version)
    assert by_version.id == rsa_key.id


def test_list_keys_contains_key(key_client, rsa_key, vault_url):
    found = [p for p in key_client.list_properties_of_keys() if p.name == rsa_key.name]
    assert len(found) == 1, f"{rsa_key.name} listed {len(found)} times"
    props = found[0]
    assert props.id == f"{vault_url}/keys/{rsa_key.name}", props.id
    assert props.enabled is True


def test_second_version_and_list_versions(key_client, key_name):
    first = key_client.create_rsa_key(key_name, size=3072)
    second = key_client.create_rsa_key(key_name, size=3072)
    assert second.properties.version != first.properties.version
    assert second.key.n != first.key.n

    latest = key_client.get_key(key_name)
    assert latest.properties.version == second.properties.version

    versions = list(key_client.list_properties_of_key_versions(key_name))
    assert len(versions) == 2, [v.id for v in versions]
    assert {v.version for v in versions} == {first.properties.version, second.properties.version}
    assert all(v.name == key_name for v in versions)


# 4. encrypt / decrypt (RSA-OAEP)
def test_encrypt_decrypt_rsa_oaep(rsa_key, credential):
    crypto = CryptographyClient(rsa_key, credential)
    plaintext = b"customer-managed key test " + os.urandom(16)

    encrypted = crypto.encrypt(EncryptionAlgorithm.rsa_oaep, plaintext)
    assert encrypted.algorithm == EncryptionAlgorithm.rsa_oaep
    assert encrypted.key_id == rsa_key.id
    assert len(encrypted.ciphertext) == RSA_3072_MODULUS_BYTES

    decrypted = crypto.decrypt(EncryptionAlgorithm.rsa_oaep, encrypted.ciphertext)
    assert decrypted.plaintext == plaintext
    assert decrypted.key_id == rsa_key.id


# 5. a missing key
def test_get_missing_key_raises_not_found(key_client):
    with pytest.raises(ResourceNotFoundError) as excinfo:
        key_client.get_key("does-not-exist-xyz")
    err = excinfo.value
    assert err.status_code == 404
    assert err.error is not None and err.error.code == "KeyNotFound", (
        f"error code {getattr(err.error, 'code', None)!r}; body: {err.response.text() if err.response else None}"
    )
