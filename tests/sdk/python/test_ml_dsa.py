"""ML-DSA (AKP) keys, api-version 2026-07-01-preview, checked against an independent ML-DSA
implementation: dilithium-py (pure Python FIPS 204, pinned in requirements.txt) verifies what
the emulator signs, pure, with a context, and over an external mu it computes itself.
(The emulator verifying dilithium-py's signatures is a unit test of src/crypto/mldsa_variants.rs,
on a vector dilithium-py made: the keys API cannot import AKP private keys.)

azure-keyvault-keys 4.11.3 has no ML-DSA support, so the requests are raw REST with a token
from the same ManagedIdentityCredential the SDK scenarios use, over the trusted CA.
"""

import base64
import hashlib
import os

import pytest
import requests
from dilithium_py.ml_dsa import ML_DSA_65

API = {"api-version": "2026-07-01-preview"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def call(vault_url, credential):
    token = credential.get_token("https://vault.azure.net/.default").token
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def post(path: str, body: dict, expect: int = 200) -> dict:
        response = session.post(f"{vault_url}{path}", params=API, json=body, verify=os.environ["REQUESTS_CA_BUNDLE"])
        assert response.status_code == expect, response.text
        return response.json()

    yield post
    session.close()


@pytest.fixture(scope="module")
def ml_dsa_65_key(call):
    name = f"pq-{os.urandom(6).hex()}"
    created = call(f"/keys/{name}/create", {"kty": "AKP", "alg": "ML-DSA-65", "key_ops": ["sign", "verify"]})
    assert created["key"]["kty"] == "AKP-HSM"
    assert created["key"]["alg"] == "ML-DSA-65"
    return name, unb64(created["key"]["pub"])


def test_an_ml_dsa_65_signature_verifies_in_dilithium_py(call, ml_dsa_65_key):
    name, public = ml_dsa_65_key
    message = b"the emulator signs, dilithium-py verifies"
    signature = unb64(call(f"/keys/{name}/sign", {"value": b64(message)})["value"])
    assert ML_DSA_65.verify(public, message, signature)
    assert not ML_DSA_65.verify(public, message + b"!", signature)


def test_a_context_signature_verifies_in_dilithium_py(call, ml_dsa_65_key):
    name, public = ml_dsa_65_key
    message, context = b"with a context", b"application-context-v1"
    signature = unb64(call(f"/keys/{name}/sign", {"value": b64(message), "context": b64(context)})["value"])
    assert ML_DSA_65.verify(public, message, signature, ctx=context)
    assert not ML_DSA_65.verify(public, message, signature)


def test_an_external_mu_signature_verifies_in_dilithium_py(call, ml_dsa_65_key):
    name, public = ml_dsa_65_key
    message, context = b"over a mu the client computed", b"ctx"
    # FIPS 204: mu = SHAKE256(SHAKE256(pk, 64) || 0 || len(ctx) || ctx || M, 64), with hashlib.
    tr = hashlib.shake_256(public).digest(64)
    mu = hashlib.shake_256(tr + bytes([0, len(context)]) + context + message).digest(64)
    assert mu == ML_DSA_65.prehash_external_mu(public, message, context)
    signature = unb64(call(f"/keys/{name}/sign", {"external_mu": b64(mu)})["value"])
    assert ML_DSA_65.verify(public, message, signature, ctx=context)
    verified = call(f"/keys/{name}/verify", {"external_mu": b64(mu), "value": b64(signature)})
    assert verified["value"] is True
