"""Import, backup/restore and rotation with the official Python SDK, default settings."""

import os
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.keys import JsonWebKey, KeyRotationLifetimeAction, KeyRotationPolicy, KeyRotationPolicyAction
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def test_import_rsa_key_generated_by_openssl(key_client, credential):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.private_numbers()
    public = numbers.public_numbers
    jwk = JsonWebKey(
        kty="RSA", n=_int_bytes(public.n), e=_int_bytes(public.e), d=_int_bytes(numbers.d),
        p=_int_bytes(numbers.p), q=_int_bytes(numbers.q), dp=_int_bytes(numbers.dmp1),
        dq=_int_bytes(numbers.dmq1), qi=_int_bytes(numbers.iqmp),
    )
    name = f"byok-{os.urandom(6).hex()}"
    key = key_client.import_key(name, jwk, hardware_protected=True)
    assert key.key_type == "RSA-HSM"
    assert key.key.n == _int_bytes(public.n)
    assert key.key.d is None
    crypto = CryptographyClient(key, credential)
    data_key = os.urandom(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped.encrypted_key).key == data_key


def test_import_ec_key_generated_by_openssl(key_client):
    private = ec.generate_private_key(ec.SECP384R1())
    numbers = private.private_numbers()
    jwk = JsonWebKey(
        kty="EC", crv="P-384", d=numbers.private_value.to_bytes(48, "big"),
        x=numbers.public_numbers.x.to_bytes(48, "big"), y=numbers.public_numbers.y.to_bytes(48, "big"),
    )
    key = key_client.import_key(f"ec-{os.urandom(6).hex()}", jwk)
    assert key.key.crv == "P-384"
    assert key.key.x == numbers.public_numbers.x.to_bytes(48, "big")


def test_backup_and_restore_after_purge(key_client):
    name = f"bak-{os.urandom(6).hex()}"
    key = key_client.create_rsa_key(name)
    backup = key_client.backup_key(name)
    key_client.begin_delete_key(name).wait()
    key_client.purge_deleted_key(name)
    assert key_client.restore_key_backup(backup).id == key.id
    with pytest.raises(HttpResponseError) as conflict:
        key_client.restore_key_backup(backup)
    assert conflict.value.status_code == 409


def test_rotation_policy_and_rotate(key_client):
    name = f"rot-{os.urandom(6).hex()}"
    first = key_client.create_rsa_key(name)
    policy = KeyRotationPolicy()
    policy.lifetime_actions = [KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P90D")]
    policy.expires_in = "P1Y"
    policy = key_client.update_key_rotation_policy(name, policy)
    assert policy.expires_in == "P1Y"
    assert [a.action for a in policy.lifetime_actions] == [KeyRotationPolicyAction.rotate, KeyRotationPolicyAction.notify]
    assert key_client.get_key_rotation_policy(name).id == policy.id
    rotated = key_client.rotate_key(name)
    assert rotated.properties.version != first.properties.version
    assert rotated.properties.expires_on - rotated.properties.created_on == timedelta(days=365)
