"""Soft-delete, recovery and purge protection with the official Python SDK, default settings.

The emulator runs a second vault `protected` (7-day retention, purge protection), declared by
KVEMU_VAULTS in tests/sdk/run.sh. Each scenario ends by unwrapping, after recovery, a data key
wrapped before the delete.
"""

import os
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm

VAULTS = {"default": (90, False), "protected": (7, True)}


def _vault_url(default_url: str, vault: str) -> str:
    return default_url.replace("://default.", f"://{vault}.", 1)


@pytest.mark.parametrize("vault", sorted(VAULTS))
def test_delete_recover_and_purge(vault_url, credential, vault):
    retention_days, purge_protected = VAULTS[vault]
    url = _vault_url(vault_url, vault)
    client = KeyClient(url, credential)
    name = f"sd-{os.urandom(6).hex()}"
    key = client.create_rsa_key(name, size=2048)
    data_key = os.urandom(32)
    wrapped = CryptographyClient(key, credential).wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)

    deleted = client.begin_delete_key(name).result()
    assert deleted.recovery_id == f"{url}/deletedkeys/{name}"
    assert deleted.scheduled_purge_date - deleted.deleted_date == timedelta(days=retention_days)
    assert deleted.properties.recoverable_days == retention_days
    assert client.get_deleted_key(name).id == key.id
    assert name in {d.name for d in client.list_deleted_keys()}
    with pytest.raises(ResourceNotFoundError):
        client.get_key(name)
    with pytest.raises(HttpResponseError) as conflict:
        client.create_rsa_key(name)
    assert conflict.value.status_code == 409

    recovered = client.begin_recover_deleted_key(name).result()
    assert recovered.id == key.id
    unwrapped = CryptographyClient(recovered, credential).unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key)
    assert unwrapped.key == data_key

    client.begin_delete_key(name).wait()
    if purge_protected:
        with pytest.raises(HttpResponseError) as refused:
            client.purge_deleted_key(name)
        assert refused.value.status_code == 403
        assert "purge protection is enabled" in refused.value.message
        assert client.get_deleted_key(name).id == key.id
    else:
        client.purge_deleted_key(name)
        with pytest.raises(ResourceNotFoundError):
            client.get_deleted_key(name)
