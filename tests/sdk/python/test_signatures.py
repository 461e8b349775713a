"""Server signs, the SDK verifies locally (the Python CryptographyClient verifies RSA and EC
signatures with the `cryptography` package when it holds the public key), so these prove the
emulator's signatures interoperate with OpenSSL: PKCS#1 v1.5, PSS, and raw r||s ECDSA."""

import hashlib
import os

import pytest
from azure.keyvault.keys import KeyCurveName
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm

CASES = {
    "RS256": ("rsa", None, hashlib.sha256),
    "PS256": ("rsa", None, hashlib.sha256),
    "PS512": ("rsa", None, hashlib.sha512),
    "ES256": ("ec", KeyCurveName.p_256, hashlib.sha256),
    "ES384": ("ec", KeyCurveName.p_384, hashlib.sha384),
    "ES512": ("ec", KeyCurveName.p_521, hashlib.sha512),
}


@pytest.mark.parametrize("algorithm", sorted(CASES))
def test_server_signature_verifies_locally(key_client, credential, algorithm):
    kind, curve, hash_fn = CASES[algorithm]
    name = f"sig-{os.urandom(6).hex()}"
    if kind == "rsa":
        key = key_client.create_rsa_key(name, size=2048)
    else:
        key = key_client.create_ec_key(name, curve=curve)
    crypto = CryptographyClient(key, credential)
    digest = hash_fn(b"released by the emulator").digest()

    signed = crypto.sign(SignatureAlgorithm(algorithm), digest)
    assert signed.key_id == key.id
    assert crypto.verify(SignatureAlgorithm(algorithm), digest, signed.signature).is_valid

    tampered = bytearray(signed.signature)
    tampered[len(tampered) // 2] ^= 0x01
    assert not crypto.verify(SignatureAlgorithm(algorithm), digest, bytes(tampered)).is_valid
