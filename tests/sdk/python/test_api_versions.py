"""The emulator follows the official Python SDK (azure-keyvault-keys, pinned in requirements.txt):
its default api-version is one the emulator knows, and the customer-managed-key flow runs with
the client set to api-version 2026-04-01 (the SDK passes `api_version` through as it is).

When a newer SDK is pinned, the first test names the version the emulator's table
(src/api_version.rs) lacks.
"""

import os

from azure.core.exceptions import HttpResponseError
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys._shared.client_base import DEFAULT_VERSION
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm


def test_the_sdks_default_api_version_is_known(vault_url, credential):
    default = DEFAULT_VERSION.value if hasattr(DEFAULT_VERSION, "value") else str(DEFAULT_VERSION)
    client = KeyClient(vault_url, credential)
    assert client.api_version == default
    try:
        next(iter(client.list_properties_of_keys()), None)
    except HttpResponseError as err:
        raise AssertionError(
            f"the emulator's version table (src/api_version.rs) lacks {default}, "
            f"the default api-version of the pinned azure-keyvault-keys: {err.message}"
        ) from err


def test_cmk_flow_under_2026_04_01(vault_url, credential):
    client = KeyClient(vault_url, credential, api_version="2026-04-01")
    name = f"cmk-2026-{os.urandom(6).hex()}"
    key = client.create_rsa_key(name, size=2048)
    crypto = CryptographyClient(key, credential, api_version="2026-04-01")
    data_key = os.urandom(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == data_key
    rotated = client.rotate_key(name)
    assert rotated.properties.version != key.properties.version
    client.begin_delete_key(name).result()
    recovered = client.begin_recover_deleted_key(name).result()
    assert recovered.id == rotated.id
    # The old version still unwraps what it wrapped.
    old = CryptographyClient(key.id, credential, api_version="2026-04-01")
    assert old.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == data_key
