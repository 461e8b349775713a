"""Symmetric keys (oct / oct-HSM) with the AES and HMAC algorithms, through the official Python SDK
(azure-keyvault-keys 4.11.3), default client settings.

Where CryptographyClient works locally, and why most tests here use `_service_crypto`:

* The service never returns `k`. CryptographyClient still builds a local provider from the
  k-less oct JWK, and `SymmetricKey` fills a missing `k` with `os.urandom` bytes
  (crypto/_internal/symmetric_key.py). With that random key the client then runs
  A128/192/256CBCPAD encrypt/decrypt and A128/192/256KW wrap/unwrap *locally*: a round trip
  "works" without the service, and a ciphertext made that way cannot be decrypted by the vault.
* AES-GCM, AES-CBC (no padding), CKM_AES_KEY_WRAP(_PAD) and HS256/384/512 are never done locally
  for oct keys, so a client built the ordinary way (`CryptographyClient(key, credential)`) sends
  them to the service; the tests for those use that ordinary client.
* `_service_crypto` builds the client from the key id and sets the flag the SDK itself sets when
  GET /keys returns 403 (no keys/get permission): with it, every operation goes to the service.

Interop: keys imported with a known `k` are checked against the `cryptography` package (AES-GCM,
AES-CBC + PKCS#7, RFC 3394 / RFC 5649 key wrap, HMAC), in both directions where the operation
has a direction.
"""

import base64
import hashlib
import hmac
import os

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.keyvault.keys import JsonWebKey, KeyOperation, KeyType
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, KeyWrapAlgorithm, SignatureAlgorithm
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    aes_key_unwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap,
    aes_key_wrap_with_padding,
)

SIZES = (128, 192, 256)
AES_OPS = [KeyOperation.encrypt, KeyOperation.decrypt, KeyOperation.wrap_key, KeyOperation.unwrap_key]
HMAC_OPS = [KeyOperation.sign, KeyOperation.verify]

GCM = {128: EncryptionAlgorithm.a128_gcm, 192: EncryptionAlgorithm.a192_gcm, 256: EncryptionAlgorithm.a256_gcm}
CBC = {128: EncryptionAlgorithm.a128_cbc, 192: EncryptionAlgorithm.a192_cbc, 256: EncryptionAlgorithm.a256_cbc}
CBCPAD = {
    128: EncryptionAlgorithm.a128_cbcpad,
    192: EncryptionAlgorithm.a192_cbcpad,
    256: EncryptionAlgorithm.a256_cbcpad,
}
KW = {128: KeyWrapAlgorithm.aes_128, 192: KeyWrapAlgorithm.aes_192, 256: KeyWrapAlgorithm.aes_256}
HMAC = {
    SignatureAlgorithm.hs256: hashlib.sha256,
    SignatureAlgorithm.hs384: hashlib.sha384,
    SignatureAlgorithm.hs512: hashlib.sha512,
}

# Every AES member of the SDK's enums must be covered by the tables above.
assert {a.value for a in EncryptionAlgorithm if a.value.startswith("A")} == {
    a.value for table in (GCM, CBC, CBCPAD) for a in table.values()
}
assert {a.value for a in KeyWrapAlgorithm if not a.value.startswith("RSA")} == {a.value for a in KW.values()} | {
    "CKM_AES_KEY_WRAP",
    "CKM_AES_KEY_WRAP_PAD",
}


def _name(prefix: str = "oct") -> str:
    return f"{prefix}-{os.urandom(6).hex()}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _service_crypto(key, credential) -> CryptographyClient:
    """A CryptographyClient that sends every operation to the emulator (see the module docstring)."""
    crypto = CryptographyClient(key.id, credential)
    crypto._keys_get_forbidden = True  # pylint: disable=protected-access
    return crypto


def _assert_http_error(excinfo, status, code=None, inner=None):
    err = excinfo.value
    body = err.response.text() if err.response is not None else None
    assert err.status_code == status, f"status {err.status_code}, expected {status}; body: {body}"
    if code is not None:
        assert err.error is not None and err.error.code == code, f"expected code {code}; body: {body}"
    if inner is not None:
        assert (err.error.innererror or {}).get("code") == inner, f"expected innererror {inner}; body: {body}"


@pytest.fixture(scope="module")
def aes_keys(key_client):
    """One oct-HSM key per size, with the four AES operations."""
    return {
        size: key_client.create_oct_key(_name(), size=size, hardware_protected=True, key_operations=AES_OPS)
        for size in SIZES
    }


@pytest.fixture(scope="module")
def hmac_key(key_client):
    return key_client.create_oct_key(_name("hmac"), size=256, key_operations=HMAC_OPS)


# ---------------------------------------------------------------------------------------- create / get
@pytest.mark.parametrize("hardware_protected", [False, True], ids=["oct", "oct-HSM"])
def test_create_oct_key_defaults(key_client, credential, vault_url, hardware_protected):
    name = _name()
    key = key_client.create_oct_key(name, hardware_protected=hardware_protected)
    assert key.name == name
    assert key.key_type == (KeyType.oct_hsm if hardware_protected else KeyType.oct), key.key_type
    assert key.id.startswith(f"{vault_url}/keys/{name}/"), key.id
    assert key.properties.enabled is True
    assert key.key.k is None, "the key material must never be returned"
    ops = set(key.key_operations or [])
    for op in ("encrypt", "decrypt", "wrapKey", "unwrapKey"):
        assert op in ops, f"default key_ops {sorted(ops)} lacks {op}"

    # The default size is 256 bits: A256GCM works, A128GCM does not.
    crypto = CryptographyClient(key, credential)
    encrypted = crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"default size")
    assert crypto.decrypt(
        EncryptionAlgorithm.a256_gcm, encrypted.ciphertext, iv=encrypted.iv, authentication_tag=encrypted.tag
    ).plaintext == b"default size"
    with pytest.raises(HttpResponseError) as excinfo:
        crypto.encrypt(EncryptionAlgorithm.a128_gcm, b"default size")
    _assert_http_error(excinfo, 400, "BadParameter")


@pytest.mark.parametrize("size", SIZES)
def test_oct_key_size_decides_the_aes_algorithms(aes_keys, credential, size):
    """An A<n>* algorithm works only with an <n>-bit key; the others are 400 BadParameter."""
    key = aes_keys[size]
    assert key.key_type == KeyType.oct_hsm
    crypto = CryptographyClient(key, credential)
    encrypted = crypto.encrypt(GCM[size], b"sized")
    assert encrypted.ciphertext and encrypted.iv
    for other in SIZES:
        if other == size:
            continue
        with pytest.raises(HttpResponseError) as excinfo:
            crypto.encrypt(GCM[other], b"sized")
        _assert_http_error(excinfo, 400, "BadParameter")
        with pytest.raises(HttpResponseError) as excinfo:
            crypto.encrypt(CBC[other], b"0123456789abcdef", iv=os.urandom(16))
        _assert_http_error(excinfo, 400, "BadParameter")
        with pytest.raises(HttpResponseError) as excinfo:
            _service_crypto(key, credential).wrap_key(KW[other], os.urandom(32))
        _assert_http_error(excinfo, 400, "BadParameter")


@pytest.mark.parametrize("size", [0, 64, 512, 2048])
def test_create_oct_key_rejects_other_sizes(key_client, size):
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.create_oct_key(_name(), size=size, hardware_protected=True)
    _assert_http_error(excinfo, 400)


def test_get_oct_key_returns_no_material(key_client, aes_keys):
    key = aes_keys[256]
    fetched = key_client.get_key(key.name)
    assert fetched.id == key.id
    assert fetched.key_type == KeyType.oct_hsm
    assert fetched.key.k is None
    assert set(fetched.key_operations) == {"encrypt", "decrypt", "wrapKey", "unwrapKey"}

    # On the wire: the JWK of an oct key is kid, kty and key_ops, nothing else.
    response = key_client.send_request(HttpRequest("GET", f"/keys/{key.name}/{key.properties.version}"))
    assert response.status_code == 200, response.text()
    jwk = response.json()["key"]
    assert "k" not in jwk, jwk
    assert set(jwk) <= {"kid", "kty", "key_ops"}, jwk
    assert jwk["kid"] == key.id and jwk["kty"] == "oct-HSM"


# ---------------------------------------------------------------------------------------- AES-GCM
@pytest.mark.parametrize("with_aad", [False, True], ids=["no-aad", "aad"])
@pytest.mark.parametrize("size", SIZES)
def test_encrypt_decrypt_gcm(aes_keys, credential, size, with_aad):
    algorithm = GCM[size]
    crypto = CryptographyClient(aes_keys[size], credential)  # GCM is never local: the service does it
    plaintext = b"gcm payload " + os.urandom(21)
    aad = b"header " + os.urandom(8) if with_aad else None

    encrypted = crypto.encrypt(algorithm, plaintext, additional_authenticated_data=aad)
    assert encrypted.algorithm == algorithm
    assert len(encrypted.iv or b"") == 12, encrypted.iv
    assert len(encrypted.tag or b"") == 16, encrypted.tag
    assert len(encrypted.ciphertext) == len(plaintext)
    assert encrypted.ciphertext != plaintext

    decrypted = crypto.decrypt(
        algorithm,
        encrypted.ciphertext,
        iv=encrypted.iv,
        authentication_tag=encrypted.tag,
        additional_authenticated_data=aad,
    )
    assert decrypted.plaintext == plaintext

    # A fresh iv per encryption.
    again = crypto.encrypt(algorithm, plaintext, additional_authenticated_data=aad)
    assert again.iv != encrypted.iv and again.ciphertext != encrypted.ciphertext

    # A wrong tag, a wrong aad, or a modified ciphertext: the service refuses to decrypt.
    bad_tag = bytes([encrypted.tag[0] ^ 1]) + encrypted.tag[1:]
    bad_ciphertext = bytes([encrypted.ciphertext[0] ^ 1]) + encrypted.ciphertext[1:]
    wrong_aad = b"other aad" if with_aad else b"unexpected aad"
    for ciphertext, tag, extra in (
        (encrypted.ciphertext, bad_tag, aad),
        (bad_ciphertext, encrypted.tag, aad),
        (encrypted.ciphertext, encrypted.tag, wrong_aad),
    ):
        with pytest.raises(HttpResponseError) as excinfo:
            crypto.decrypt(
                algorithm, ciphertext, iv=encrypted.iv, authentication_tag=tag, additional_authenticated_data=extra
            )
        _assert_http_error(excinfo, 400)


# ---------------------------------------------------------------------------------------- AES-CBC
@pytest.mark.parametrize("size", SIZES)
def test_encrypt_decrypt_cbc_without_padding(aes_keys, credential, size):
    algorithm = CBC[size]
    crypto = CryptographyClient(aes_keys[size], credential)  # A*CBC is never local
    plaintext = os.urandom(48)
    iv = os.urandom(16)

    encrypted = crypto.encrypt(algorithm, plaintext, iv=iv)
    assert len(encrypted.ciphertext) == 48
    assert encrypted.ciphertext != plaintext
    assert encrypted.iv == iv
    assert crypto.decrypt(algorithm, encrypted.ciphertext, iv=iv).plaintext == plaintext
    # Same key, iv and plaintext: the same ciphertext (CBC is deterministic).
    assert crypto.encrypt(algorithm, plaintext, iv=iv).ciphertext == encrypted.ciphertext

    # No padding: a plaintext that is not a whole number of blocks is refused.
    with pytest.raises(HttpResponseError) as excinfo:
        crypto.encrypt(algorithm, os.urandom(20), iv=iv)
    _assert_http_error(excinfo, 400, "BadParameter")


@pytest.mark.parametrize("length", [0, 1, 16, 37])
@pytest.mark.parametrize("size", SIZES)
def test_encrypt_decrypt_cbcpad(aes_keys, credential, size, length):
    algorithm = CBCPAD[size]
    crypto = _service_crypto(aes_keys[size], credential)
    plaintext = os.urandom(length)
    iv = os.urandom(16)

    encrypted = crypto.encrypt(algorithm, plaintext, iv=iv)
    assert len(encrypted.ciphertext) == (length // 16 + 1) * 16, "PKCS#7 always adds 1..16 bytes"
    assert encrypted.iv == iv
    assert crypto.decrypt(algorithm, encrypted.ciphertext, iv=iv).plaintext == plaintext


def test_cbcpad_without_iv_gets_one_from_the_service(key_client, aes_keys, credential):
    """The SDK insists on an iv for CBC, so this request is sent raw through the SDK's pipeline."""
    key = aes_keys[256]
    plaintext = b"no iv supplied"
    response = key_client.send_request(
        HttpRequest(
            "POST",
            f"/keys/{key.name}/{key.properties.version}/encrypt",
            json={"alg": "A256CBCPAD", "value": _b64url(plaintext)},
        )
    )
    assert response.status_code == 200, response.text()
    body = response.json()
    iv = _unb64url(body["iv"])
    assert len(iv) == 16
    ciphertext = _unb64url(body["value"])
    assert len(ciphertext) == 16
    decrypted = _service_crypto(key, credential).decrypt(EncryptionAlgorithm.a256_cbcpad, ciphertext, iv=iv)
    assert decrypted.plaintext == plaintext


# ---------------------------------------------------------------------------------------- key wrap
@pytest.mark.parametrize("size", SIZES)
def test_wrap_unwrap_aes_kw(aes_keys, credential, size):
    algorithm = KW[size]
    crypto = _service_crypto(aes_keys[size], credential)
    for data_key in (os.urandom(16), os.urandom(32), os.urandom(64)):
        wrapped = crypto.wrap_key(algorithm, data_key)
        assert wrapped.algorithm == algorithm
        assert len(wrapped.encrypted_key) == len(data_key) + 8
        unwrapped = crypto.unwrap_key(algorithm, wrapped.encrypted_key)
        assert unwrapped.key == data_key

    # RFC 3394 without padding: the wrapped key must be a multiple of 8 bytes (and at least 16).
    with pytest.raises(HttpResponseError) as excinfo:
        crypto.wrap_key(algorithm, os.urandom(20))
    _assert_http_error(excinfo, 400)
    # A damaged wrapped key fails its integrity check.
    wrapped = crypto.wrap_key(algorithm, os.urandom(32)).encrypted_key
    with pytest.raises(HttpResponseError) as excinfo:
        crypto.unwrap_key(algorithm, bytes([wrapped[0] ^ 1]) + wrapped[1:])
    _assert_http_error(excinfo, 400)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "algorithm",
    [KeyWrapAlgorithm.ckm_aes_key_wrap, KeyWrapAlgorithm.ckm_aes_key_wrap_pad],
    ids=lambda a: a.value,
)
def test_wrap_unwrap_ckm(aes_keys, credential, algorithm, size):
    """CKM_AES_KEY_WRAP(_PAD) work with any key size."""
    crypto = CryptographyClient(aes_keys[size], credential)  # CKM_* is never local
    lengths = (16, 32) if algorithm == KeyWrapAlgorithm.ckm_aes_key_wrap else (1, 20, 32, 33)
    for length in lengths:
        data_key = os.urandom(length)
        wrapped = crypto.wrap_key(algorithm, data_key)
        expected = length + 8 if algorithm == KeyWrapAlgorithm.ckm_aes_key_wrap else -(-length // 8) * 8 + 8
        assert len(wrapped.encrypted_key) == expected, (length, len(wrapped.encrypted_key))
        assert crypto.unwrap_key(algorithm, wrapped.encrypted_key).key == data_key


# ---------------------------------------------------------------------------------------- HMAC
@pytest.mark.parametrize("algorithm", list(HMAC), ids=lambda a: a.value)
def test_hmac_sign_verify(hmac_key, credential, algorithm):
    crypto = CryptographyClient(hmac_key, credential)  # HS* is never local: the service signs and verifies
    digest = HMAC[algorithm](b"message authenticated by the emulator").digest()

    signed = crypto.sign(algorithm, digest)
    assert signed.algorithm == algorithm
    assert len(signed.signature) == len(digest)
    assert crypto.sign(algorithm, digest).signature == signed.signature, "HMAC is deterministic"
    assert crypto.verify(algorithm, digest, signed.signature).is_valid is True

    tampered = bytearray(signed.signature)
    tampered[len(tampered) // 2] ^= 0x01
    assert crypto.verify(algorithm, digest, bytes(tampered)).is_valid is False
    other_digest = HMAC[algorithm](b"another message").digest()
    assert crypto.verify(algorithm, other_digest, signed.signature).is_valid is False


def test_hmac_digest_length_is_checked(hmac_key, credential):
    crypto = CryptographyClient(hmac_key, credential)
    cases = ((SignatureAlgorithm.hs256, 48), (SignatureAlgorithm.hs384, 32), (SignatureAlgorithm.hs512, 20))
    for algorithm, length in cases:
        with pytest.raises(HttpResponseError) as excinfo:
            crypto.sign(algorithm, os.urandom(length))
        _assert_http_error(excinfo, 400, "BadParameter")


def test_algorithm_must_fit_the_key_type(key_client, aes_keys, hmac_key, credential):
    oct_crypto = _service_crypto(aes_keys[256], credential)
    with pytest.raises(HttpResponseError) as excinfo:
        oct_crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"rsa alg on an oct key")
    _assert_http_error(excinfo, 400, "BadParameter")
    with pytest.raises(HttpResponseError) as excinfo:
        _service_crypto(hmac_key, credential).sign(SignatureAlgorithm.rs256, hashlib.sha256(b"x").digest())
    _assert_http_error(excinfo, 400, "BadParameter")

    rsa_key = key_client.create_rsa_key(_name("rsa"), size=2048)
    rsa_crypto = CryptographyClient(rsa_key, credential)
    with pytest.raises(HttpResponseError) as excinfo:
        rsa_crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"aes alg on an RSA key")
    _assert_http_error(excinfo, 400, "BadParameter")
    with pytest.raises(HttpResponseError) as excinfo:
        rsa_crypto.wrap_key(KeyWrapAlgorithm.aes_256, os.urandom(32))
    _assert_http_error(excinfo, 400, "BadParameter")
    with pytest.raises(HttpResponseError) as excinfo:
        rsa_crypto.sign(SignatureAlgorithm.hs256, hashlib.sha256(b"x").digest())
    _assert_http_error(excinfo, 400, "BadParameter")


# ---------------------------------------------------------------------------------------- lifecycle
def test_disabled_oct_key_refuses_operations(key_client, credential):
    key = key_client.create_oct_key(_name(), size=256, key_operations=AES_OPS + HMAC_OPS)
    crypto = _service_crypto(key, credential)
    encrypted = crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"before disabling")
    data_key = os.urandom(32)
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.aes_256, data_key)

    disabled = key_client.update_key_properties(key.name, enabled=False)
    assert disabled.properties.enabled is False
    assert key_client.get_key(key.name).key_type == KeyType.oct  # get still works

    digest = hashlib.sha256(b"x").digest()
    for call in (
        lambda: crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"while disabled"),
        lambda: crypto.decrypt(
            EncryptionAlgorithm.a256_gcm, encrypted.ciphertext, iv=encrypted.iv, authentication_tag=encrypted.tag
        ),
        lambda: crypto.unwrap_key(KeyWrapAlgorithm.aes_256, wrapped.encrypted_key),
        lambda: crypto.sign(SignatureAlgorithm.hs256, digest),
    ):
        with pytest.raises(HttpResponseError) as excinfo:
            call()
        _assert_http_error(excinfo, 403, "Forbidden", "KeyDisabled")

    key_client.update_key_properties(key.name, enabled=True)
    assert crypto.unwrap_key(KeyWrapAlgorithm.aes_256, wrapped.encrypted_key).key == data_key


def test_key_ops_are_enforced_on_oct_keys(key_client, credential):
    key = key_client.create_oct_key(_name(), size=256, key_operations=[KeyOperation.encrypt, KeyOperation.decrypt])
    assert set(key.key_operations) == {"encrypt", "decrypt"}
    crypto = _service_crypto(key, credential)
    encrypted = crypto.encrypt(EncryptionAlgorithm.a256_gcm, b"allowed")
    assert encrypted.ciphertext
    for call in (
        lambda: crypto.wrap_key(KeyWrapAlgorithm.aes_256, os.urandom(32)),
        lambda: crypto.wrap_key(KeyWrapAlgorithm.ckm_aes_key_wrap_pad, os.urandom(20)),
        lambda: crypto.sign(SignatureAlgorithm.hs256, hashlib.sha256(b"x").digest()),
    ):
        with pytest.raises(HttpResponseError) as excinfo:
            call()
        _assert_http_error(excinfo, 403, "Forbidden", "KeyOperationForbidden")

    # Allowing wrapKey afterwards makes wrapping work.
    key_client.update_key_properties(key.name, key_operations=[KeyOperation.encrypt, KeyOperation.wrap_key])
    assert len(crypto.wrap_key(KeyWrapAlgorithm.aes_256, os.urandom(32)).encrypted_key) == 40
    with pytest.raises(HttpResponseError) as excinfo:
        crypto.decrypt(EncryptionAlgorithm.a256_gcm, encrypted.ciphertext, iv=encrypted.iv,
                       authentication_tag=encrypted.tag)
    _assert_http_error(excinfo, 403, "Forbidden", "KeyOperationForbidden")


def test_backup_restore_and_rotate_an_oct_key(key_client, credential):
    name = _name()
    key = key_client.create_oct_key(name, size=128, hardware_protected=True, key_operations=AES_OPS)
    wrapped = _service_crypto(key, credential).wrap_key(KeyWrapAlgorithm.aes_128, os.urandom(16))
    data_key = _service_crypto(key, credential).unwrap_key(KeyWrapAlgorithm.aes_128, wrapped.encrypted_key).key

    backup = key_client.backup_key(name)
    key_client.begin_delete_key(name).wait()
    key_client.purge_deleted_key(name)
    restored = key_client.restore_key_backup(backup)
    assert restored.id == key.id and restored.key_type == KeyType.oct_hsm and restored.key.k is None
    # The restored key is the same key material.
    unwrapped = _service_crypto(restored, credential).unwrap_key(KeyWrapAlgorithm.aes_128, wrapped.encrypted_key)
    assert unwrapped.key == data_key

    rotated = key_client.rotate_key(name)
    assert rotated.properties.version != key.properties.version
    assert rotated.key_type == KeyType.oct_hsm and rotated.key.k is None
    assert set(rotated.key_operations) == set(key.key_operations)
    new = _service_crypto(rotated, credential)
    # A new key, of the same size (A128KW still fits) ...
    assert len(new.wrap_key(KeyWrapAlgorithm.aes_128, os.urandom(16)).encrypted_key) == 24
    with pytest.raises(HttpResponseError) as excinfo:
        new.wrap_key(KeyWrapAlgorithm.aes_256, os.urandom(32))
    _assert_http_error(excinfo, 400, "BadParameter")
    # ... that cannot unwrap what the old version wrapped, while the old version still can.
    with pytest.raises(HttpResponseError) as excinfo:
        new.unwrap_key(KeyWrapAlgorithm.aes_128, wrapped.encrypted_key)
    _assert_http_error(excinfo, 400)
    assert _service_crypto(key, credential).unwrap_key(KeyWrapAlgorithm.aes_128, wrapped.encrypted_key).key == data_key


# ---------------------------------------------------------------------------------------- import + interop
@pytest.mark.parametrize(
    "kty, hardware_protected, expected",
    [("oct", None, "oct"), ("oct-HSM", None, "oct-HSM"), ("oct", True, "oct-HSM")],
    ids=["oct", "oct-HSM", "oct+Hsm"],
)
def test_import_oct_key(key_client, kty, hardware_protected, expected):
    k = os.urandom(32)
    key = key_client.import_key(_name("byok"), JsonWebKey(kty=kty, k=k), hardware_protected=hardware_protected)
    assert key.key_type == expected
    assert key.key.k is None, "imported material must not be echoed"
    assert key_client.get_key(key.name).key.k is None


def test_import_oct_key_with_a_bad_length_is_rejected(key_client):
    for length in (8, 20, 31, 64):
        with pytest.raises(HttpResponseError) as excinfo:
            key_client.import_key(_name("byok"), JsonWebKey(kty="oct-HSM", k=os.urandom(length)))
        _assert_http_error(excinfo, 400)


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"k{s}")
def imported(request, key_client):
    """(key, k): an oct-HSM key imported with known material and every AES and HMAC operation."""
    k = os.urandom(request.param // 8)
    jwk = JsonWebKey(kty="oct-HSM", k=k, key_ops=AES_OPS + HMAC_OPS)
    key = key_client.import_key(_name("byok"), jwk)
    assert set(key.key_operations) == {"encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"}
    return key, k


def test_gcm_interop_with_local_aes(imported, credential):
    key, k = imported
    algorithm = GCM[len(k) * 8]
    crypto = CryptographyClient(key, credential)
    plaintext, aad = b"sealed by the vault " + os.urandom(10), b"aad " + os.urandom(4)

    # service encrypts, cryptography decrypts
    encrypted = crypto.encrypt(algorithm, plaintext, additional_authenticated_data=aad)
    assert AESGCM(k).decrypt(encrypted.iv, encrypted.ciphertext + encrypted.tag, aad) == plaintext

    # cryptography encrypts, service decrypts
    nonce = os.urandom(12)
    sealed = AESGCM(k).encrypt(nonce, plaintext, aad)
    decrypted = crypto.decrypt(
        algorithm, sealed[:-16], iv=nonce, authentication_tag=sealed[-16:], additional_authenticated_data=aad
    )
    assert decrypted.plaintext == plaintext


def test_cbc_interop_with_local_aes(imported, credential):
    key, k = imported
    size = len(k) * 8
    crypto = _service_crypto(key, credential)
    iv = os.urandom(16)

    plaintext = os.urandom(45)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    local = Cipher(algorithms.AES(k), modes.CBC(iv)).encryptor()
    expected = local.update(padded) + local.finalize()
    # CBC is deterministic for a given key and iv: the service's ciphertext must be exactly this.
    assert crypto.encrypt(CBCPAD[size], plaintext, iv=iv).ciphertext == expected
    assert crypto.decrypt(CBCPAD[size], expected, iv=iv).plaintext == plaintext

    # Without padding the same blocks come out, minus the padding block.
    assert crypto.encrypt(CBC[size], padded[:32], iv=iv).ciphertext == expected[:32]
    decryptor = Cipher(algorithms.AES(k), modes.CBC(iv)).decryptor()
    assert crypto.decrypt(CBC[size], expected, iv=iv).plaintext == decryptor.update(expected) + decryptor.finalize()


def test_key_wrap_interop_with_local_aes(imported, credential):
    key, k = imported
    crypto = _service_crypto(key, credential)
    data_key = os.urandom(32)
    odd_key = os.urandom(20)

    # RFC 3394 is deterministic: the service's output must equal the local one, byte for byte.
    for algorithm in (KW[len(k) * 8], KeyWrapAlgorithm.ckm_aes_key_wrap):
        wrapped = crypto.wrap_key(algorithm, data_key).encrypted_key
        assert wrapped == aes_key_wrap(k, data_key), algorithm
        assert aes_key_unwrap(k, wrapped) == data_key
        assert crypto.unwrap_key(algorithm, aes_key_wrap(k, data_key)).key == data_key

    # RFC 5649 (with padding), also deterministic.
    wrapped = crypto.wrap_key(KeyWrapAlgorithm.ckm_aes_key_wrap_pad, odd_key).encrypted_key
    assert wrapped == aes_key_wrap_with_padding(k, odd_key)
    assert aes_key_unwrap_with_padding(k, wrapped) == odd_key
    local = aes_key_wrap_with_padding(k, odd_key)
    assert crypto.unwrap_key(KeyWrapAlgorithm.ckm_aes_key_wrap_pad, local).key == odd_key


def test_hmac_interop_with_local_hmac(imported, credential):
    key, k = imported
    crypto = CryptographyClient(key, credential)
    for algorithm, hash_fn in HMAC.items():
        digest = hash_fn(b"mac me").digest()
        expected = hmac.new(k, digest, hash_fn).digest()
        assert crypto.sign(algorithm, digest).signature == expected, algorithm
        assert crypto.verify(algorithm, digest, expected).is_valid is True
        other_key_mac = hmac.new(os.urandom(len(k)), digest, hash_fn).digest()
        assert crypto.verify(algorithm, digest, other_key_mac).is_valid is False
