"""POST /rng (KeyClient.get_random_bytes) and the RSNULL signature algorithm, with the official
Python SDK (azure-keyvault-keys 4.11.3), default settings.

* KeyClient.get_random_bytes refuses count < 1 itself (ValueError, no request); count 0 is sent
  raw through KeyClient.send_request (the SDK's own pipeline) to reach the service.
* RSNULL is in the generated JsonWebKeySignatureAlgorithm enum but not in the public
  azure.keyvault.keys.crypto.SignatureAlgorithm; CryptographyClient passes any string through,
  so the wire name is used. Neither sign nor verify with RSNULL is done locally by the SDK
  (RSA verify is local only for RS*/PS*), so the service does both.
* RSNULL is PKCS#1 v1.5 without the DigestInfo: over DigestInfo(SHA-256) || digest it must give
  exactly the RS256 signature (PKCS#1 v1.5 is deterministic), which `cryptography` verifies.
"""

import hashlib
import os

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.keyvault.keys import JsonWebKey
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

RSNULL = "RSNULL"
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


# ---------------------------------------------------------------------------------------- /rng
@pytest.mark.parametrize("count", [1, 16, 100, 128])
def test_get_random_bytes(key_client, count):
    value = key_client.get_random_bytes(count)
    assert isinstance(value, bytes)
    assert len(value) == count


def test_random_bytes_differ_between_calls(key_client):
    first, second = key_client.get_random_bytes(128), key_client.get_random_bytes(128)
    assert first != second
    # 128 random bytes are very unlikely to be this uniform.
    assert len(set(first)) > 32, first.hex()


@pytest.mark.parametrize("count", [129, 1000])
def test_get_random_bytes_above_128_is_bad_parameter(key_client, count):
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.get_random_bytes(count)
    err = excinfo.value
    body = err.response.text() if err.response is not None else None
    assert err.status_code == 400, body
    assert err.error is not None and err.error.code == "BadParameter", body


def test_get_random_bytes_below_1(key_client):
    with pytest.raises(ValueError):
        key_client.get_random_bytes(0)  # refused by the SDK itself
    for count in (0, -1):
        response = key_client.send_request(HttpRequest("POST", "/rng", json={"count": count}))
        assert response.status_code == 400, response.text()
        assert response.json()["error"]["code"] == "BadParameter", response.text()


# ---------------------------------------------------------------------------------------- RSNULL
@pytest.fixture(scope="module")
def rsa_signing_key(key_client):
    return key_client.create_rsa_key(f"rsnull-{os.urandom(6).hex()}", size=2048)


def _public_key(key) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(int.from_bytes(key.key.e, "big"), int.from_bytes(key.key.n, "big")).public_key()


def test_rsnull_over_a_digest_info_is_an_rs256_signature(rsa_signing_key, credential):
    crypto = CryptographyClient(rsa_signing_key, credential)
    message = b"signed with RSNULL by the emulator"
    digest = hashlib.sha256(message).digest()

    signed = crypto.sign(RSNULL, SHA256_DIGEST_INFO + digest)
    assert len(signed.signature) == 256
    # cryptography builds the same DigestInfo from the message and checks the signature.
    _public_key(rsa_signing_key).verify(signed.signature, message, padding.PKCS1v15(), hashes.SHA256())
    # ... and it is byte for byte the service's own RS256 signature.
    assert crypto.sign(SignatureAlgorithm.rs256, digest).signature == signed.signature


@pytest.mark.parametrize("length", [1, 20, 36, 64, 245])
def test_rsnull_signs_the_raw_value(rsa_signing_key, credential, length):
    crypto = CryptographyClient(rsa_signing_key, credential)
    value = os.urandom(length)  # e.g. 36 = the MD5||SHA-1 value of TLS 1.0/1.1

    signed = crypto.sign(RSNULL, value)
    recovered = _public_key(rsa_signing_key).recover_data_from_signature(signed.signature, padding.PKCS1v15(), None)
    assert recovered == value
    assert crypto.verify(RSNULL, value, signed.signature).is_valid is True

    tampered = bytearray(signed.signature)
    tampered[7] ^= 0x01
    assert crypto.verify(RSNULL, value, bytes(tampered)).is_valid is False
    assert crypto.verify(RSNULL, value[:-1] + bytes([value[-1] ^ 1]), signed.signature).is_valid is False


def test_rsnull_value_longer_than_the_modulus_allows_is_refused(rsa_signing_key, credential):
    crypto = CryptographyClient(rsa_signing_key, credential)
    # PKCS#1 v1.5 needs 11 bytes of padding: a 2048-bit key signs at most 245 bytes.
    with pytest.raises(HttpResponseError) as excinfo:
        crypto.sign(RSNULL, os.urandom(246))
    assert excinfo.value.status_code == 400, excinfo.value.response.text()


def test_rsnull_verify_on_the_service_accepts_a_local_signature(key_client, credential):
    """A key imported with known material: cryptography signs (PKCS#1 v1.5 over a SHA-384
    DigestInfo, i.e. RS384), the service verifies that as RSNULL over the DigestInfo value."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.private_numbers()

    def b(v):
        return v.to_bytes((v.bit_length() + 7) // 8, "big")

    jwk = JsonWebKey(
        kty="RSA", n=b(numbers.public_numbers.n), e=b(numbers.public_numbers.e), d=b(numbers.d),
        p=b(numbers.p), q=b(numbers.q), dp=b(numbers.dmp1), dq=b(numbers.dmq1), qi=b(numbers.iqmp),
    )
    key = key_client.import_key(f"rsnull-{os.urandom(6).hex()}", jwk)
    crypto = CryptographyClient(key, credential)
    message = b"signed locally"
    signature = private.sign(message, padding.PKCS1v15(), hashes.SHA384())
    sha384_digest_info = bytes.fromhex("3041300d060960864801650304020205000430")
    value = sha384_digest_info + hashlib.sha384(message).digest()
    assert crypto.verify(RSNULL, value, signature).is_valid is True
    assert crypto.sign(RSNULL, value).signature == signature
