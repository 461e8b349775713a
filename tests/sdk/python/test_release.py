"""Secure key release and key attestation through the official Python SDK (azure-keyvault-keys 4.11.3),
default client settings.

The emulator is its own attestation authority at `{vault URL}/attestation` (OpenID metadata, a JWKS at
`/certs`, and `/generate-test-token`). A release policy names that URL as its `authority`; a `target`
token minted there carries the claims the policy checks and, in `x-ms-runtime.keys`, the RSA key the
released key is wrapped for:

* `GET  /attestation/generate-test-token` is the Azure SDKs' mock attestation service: claim
  `sdk-test: true` and a wrapping key (`fake-release-key`) only the emulator holds, so a release works
  but nobody can unwrap it (the SDKs' own live tests only check that a value comes back);
* `POST /attestation/generate-test-token {"claims", "runtimeKeys"}` puts the caller's own RSA public key
  in the token, so these tests unwrap `key_hsm` with the `cryptography` package, as a TEE would:
  RSA-OAEP (SHA-1 for CKM_RSA_AES_KEY_WRAP, SHA-256/384 for RSA_AES_KEY_WRAP_256/384) for the
  AES transport key, then RFC 5649 key wrap with padding for the key material (PKCS#8 DER for RSA and
  EC, raw bytes for oct).

The attestation endpoints need no authentication; they are called with `requests` (installed with
azure-core), trusting the emulator's CA through REQUESTS_CA_BUNDLE like the SDK does.
"""

import base64
import hashlib
import json
import os
import time

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.keyvault.keys import KeyClient, KeyExportEncryptionAlgorithm, KeyReleasePolicy, KeyType
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

DEFAULT_CONTENT_TYPE = "application/json; charset=utf-8"
OAEP_HASH = {
    "CKM_RSA_AES_KEY_WRAP": hashes.SHA1,
    "RSA_AES_KEY_WRAP_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_384": hashes.SHA384,
}
# Every member of the SDK's enum is covered.
assert {a.value for a in KeyExportEncryptionAlgorithm} == set(OAEP_HASH)


def _name(prefix: str = "skr") -> str:
    return f"{prefix}-{os.urandom(6).hex()}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_part(text: str):
    return json.loads(_unb64url(text))


def _assert_http_error(excinfo, status, code=None, message=None, inner=None):
    err = excinfo.value
    body = err.response.text() if err.response is not None else None
    assert err.status_code == status, f"status {err.status_code}, expected {status}; body: {body}"
    if code is not None:
        assert err.error is not None and err.error.code == code, f"expected code {code}; body: {body}"
    if message is not None:
        assert err.error is not None and err.error.message == message, f"expected message {message!r}; body: {body}"
    if inner is not None:
        assert (err.error.innererror or {}).get("code") == inner, f"expected innererror {inner}; body: {body}"


def _service_crypto(key_or_id, credential) -> CryptographyClient:
    """A CryptographyClient that sends every operation to the emulator (no local public-key shortcut)."""
    crypto = CryptographyClient(key_or_id if isinstance(key_or_id, str) else key_or_id.id, credential)
    crypto._keys_get_forbidden = True  # pylint: disable=protected-access
    return crypto


# ---------------------------------------------------------------------------------------- authority
def _call(method: str, url: str, body=None) -> dict:
    response = requests.request(method, url, json=body, verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=30)
    assert response.status_code == 200, f"{method} {url}: {response.status_code} {response.text}"
    return response.json()


@pytest.fixture(scope="session")
def authority(vault_url) -> str:
    """The built-in attestation authority's issuer URL for the vault URL the SDK uses."""
    return f"{vault_url}/attestation"


def _mint(authority: str, claims: dict, *runtime_keys: dict) -> str:
    body = {"claims": claims}
    if runtime_keys:
        body["runtimeKeys"] = list(runtime_keys)
    return _call("POST", f"{authority}/generate-test-token", body)["token"]


def _policy_document(authority: str, conditions=None) -> dict:
    # Member order as the JS SDK's live test writes it (not canonical): the service re-serialises it.
    conditions = conditions if conditions is not None else [{"claim": "sdk-test", "equals": "true"}]
    return {"anyOf": [{"allOf": conditions, "authority": authority}], "version": "1.0.0"}


def _release_policy(authority: str, conditions=None, **kwargs) -> KeyReleasePolicy:
    return KeyReleasePolicy(json.dumps(_policy_document(authority, conditions)).encode(), **kwargs)


def _canonical(authority: str, claim: str = "sdk-test", equals="true") -> bytes:
    document = {"version": "1.0.0", "anyOf": [{"authority": authority, "allOf": [{"claim": claim, "equals": equals}]}]}
    return json.dumps(document, separators=(",", ":")).encode()


class TransferKey:
    """The caller's own RSA key pair: the public half goes into the target token, the private half
    unwraps what the release returns."""

    def __init__(self, size: int = 2048, kid: str = "TpmEphemeralEncryptionKey", use_enc: bool = False):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=size)
        self.kid = kid
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "kty": "RSA",
            "kid": kid,
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes(3, "big")),
        }
        # Real tokens use either form: MAA's HCLTransferKey has key_ops ["encrypt"], the SDK mock `use: enc`.
        if use_enc:
            self.jwk["use"] = "enc"
        else:
            self.jwk["key_ops"] = ["encrypt"]

    def unwrap(self, key_hsm: str, enc: str) -> bytes:
        """Opens `key_hsm`: base64url(JSON {schema_version, header{kid, alg, enc}, ciphertext})."""
        envelope = _json_part(key_hsm)
        assert envelope["schema_version"] == "1.0", envelope
        assert envelope["header"] == {"kid": self.kid, "alg": "dir", "enc": enc}, envelope["header"]
        ciphertext = _unb64url(envelope["ciphertext"])
        modulus_bytes = self.private.key_size // 8
        assert len(ciphertext) > modulus_bytes + 8
        rsa_part, kwp_part = ciphertext[:modulus_bytes], ciphertext[modulus_bytes:]
        hash_cls = OAEP_HASH[enc]
        transport = self.private.decrypt(
            rsa_part, padding.OAEP(mgf=padding.MGF1(algorithm=hash_cls()), algorithm=hash_cls(), label=None)
        )
        assert len(transport) == 32, f"an AES-256 transport key, got {len(transport)} bytes"
        assert len(kwp_part) % 8 == 0
        return aes_key_unwrap_with_padding(transport, kwp_part)


def _verify_release(authority: str, jws: str) -> dict:
    """Checks the release JWS (RS256) against the authority's published keys; returns its payload."""
    header_b64, payload_b64, signature_b64 = jws.split(".")
    header = _json_part(header_b64)
    assert header["alg"] == "RS256", header
    metadata = _call("GET", f"{authority}/.well-known/openid-configuration")
    jwks = _call("GET", metadata["jwks_uri"])
    kid = header.get("kid")
    candidates = [k for k in jwks["keys"] if k.get("kty") == "RSA" and k.get("kid", kid) == kid]
    assert candidates, f"no key in {metadata['jwks_uri']} for the JWS header {header}"
    signed = f"{header_b64}.{payload_b64}".encode("ascii")
    signature = _unb64url(signature_b64)
    for jwk in candidates:
        public = rsa.RSAPublicNumbers(
            int.from_bytes(_unb64url(jwk["e"]), "big"), int.from_bytes(_unb64url(jwk["n"]), "big")
        ).public_key()
        try:
            public.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            break
        except Exception:  # pylint: disable=broad-except
            continue
    else:
        pytest.fail(f"the release JWS does not verify with any key of {metadata['jwks_uri']}")
    return _json_part(payload_b64)


def _versionless(key) -> str:
    return f"{key.properties.vault_url}/keys/{key.name}"


def _check_payload(payload: dict, key, *, enc: str, requested_kid: str, authority: str, nonce=None) -> dict:
    """The parts of the release payload every release has; returns the released JWK (with key_hsm)."""
    request = payload["request"]
    assert request["enc"] == enc, request
    assert request["kid"] == requested_kid, request
    assert request.get("api-version"), request
    if nonce is None:
        assert "nonce" not in request, request
    else:
        assert request["nonce"] == nonce, request
    bundle = payload["response"]["key"]
    jwk = bundle["key"]
    assert jwk["kid"] == key.id, (jwk["kid"], key.id)
    assert jwk["kty"] == key.key_type, jwk
    for private_member in ("d", "p", "q", "dp", "dq", "qi", "k"):
        assert private_member not in jwk, f"the released JWK shows '{private_member}' in clear"
    assert isinstance(jwk.get("key_hsm"), str) and jwk["key_hsm"], jwk
    assert bundle["attributes"]["exportable"] is True, bundle["attributes"]
    assert bundle["attributes"]["enabled"] is True, bundle["attributes"]
    policy = bundle["release_policy"]
    assert policy["immutable"] is False, policy
    assert _unb64url(policy["data"]) == _canonical(authority), policy
    return jwk


# ---------------------------------------------------------------------------------------- authority metadata
def test_attestation_authority_metadata(authority):
    metadata = _call("GET", f"{authority}/.well-known/openid-configuration")
    assert metadata["issuer"] == authority, metadata
    assert metadata["jwks_uri"] == f"{authority}/certs", metadata
    jwks = _call("GET", metadata["jwks_uri"])
    assert jwks["keys"], jwks
    for jwk in jwks["keys"]:
        assert jwk["kty"] == "RSA" and jwk["n"] and jwk["e"] and jwk["kid"], jwk

    transfer = TransferKey()
    token = _mint(authority, {"sdk-test": True, "x-ms-attestation-type": "sevsnpvm"}, transfer.jwk)
    header, claims = _json_part(token.split(".")[0]), _json_part(token.split(".")[1])
    assert header["alg"] == "RS256" and header["kid"] in {k["kid"] for k in jwks["keys"]}, header
    assert claims["iss"] == authority, claims
    assert claims["sdk-test"] is True and claims["x-ms-attestation-type"] == "sevsnpvm", claims
    assert claims["x-ms-runtime"]["keys"] == [transfer.jwk], claims
    assert claims["exp"] > time.time(), claims


# ---------------------------------------------------------------------------------------- create + policy round trip
def test_create_exportable_key_with_release_policy(key_client, authority):
    name = _name()
    key = key_client.create_rsa_key(
        name, size=2048, hardware_protected=True, exportable=True, release_policy=_release_policy(authority)
    )
    assert key.key_type == KeyType.rsa_hsm
    assert key.properties.exportable is True
    policy = key.properties.release_policy
    assert policy is not None
    assert policy.content_type == DEFAULT_CONTENT_TYPE
    assert policy.immutable is False
    # Stored re-serialised in the service's canonical member order, compact.
    assert policy.encoded_policy == _canonical(authority), policy.encoded_policy

    fetched = key_client.get_key(name)
    assert fetched.properties.exportable is True
    assert fetched.properties.release_policy.encoded_policy == _canonical(authority)
    assert fetched.properties.release_policy.content_type == DEFAULT_CONTENT_TYPE
    assert fetched.properties.release_policy.immutable is False


def test_exportable_key_without_release_policy_is_refused(key_client):
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.create_rsa_key(_name(), hardware_protected=True, exportable=True)
    _assert_http_error(excinfo, 400, "BadParameter", "AKV.SKR.1004: Exportable keys must have release policy.")


def test_release_policy_on_a_non_exportable_key_is_refused(key_client, authority):
    for exportable in (None, False):
        with pytest.raises(HttpResponseError) as excinfo:
            key_client.create_rsa_key(
                _name(), hardware_protected=True, exportable=exportable, release_policy=_release_policy(authority)
            )
        _assert_http_error(
            excinfo, 400, "BadParameter", "AKV.SKR.1005: Non-exportable keys must not have release policy."
        )


# ---------------------------------------------------------------------------------------- release + unwrap
@pytest.fixture(scope="module")
def exportable_rsa_key(key_client, authority):
    return key_client.create_rsa_key(
        _name(), size=2048, hardware_protected=True, exportable=True, release_policy=_release_policy(authority)
    )


# The transfer key size varies so that the split of `ciphertext` is checked against the modulus length.
@pytest.mark.parametrize(
    "algorithm, transfer_size",
    [
        (None, 2048),
        (KeyExportEncryptionAlgorithm.ckm_rsa_aes_key_wrap, 2048),
        (KeyExportEncryptionAlgorithm.rsa_aes_key_wrap_256, 3072),
        (KeyExportEncryptionAlgorithm.rsa_aes_key_wrap_384, 4096),
    ],
    ids=["default", "CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384"],
)
def test_release_rsa_key_and_unwrap_it(key_client, credential, authority, exportable_rsa_key, algorithm, transfer_size):
    key = exportable_rsa_key
    transfer = TransferKey(transfer_size)
    token = _mint(authority, {"sdk-test": True}, transfer.jwk)
    nonce = os.urandom(8).hex()

    result = key_client.release_key(key.name, token, algorithm=algorithm, nonce=nonce)
    assert isinstance(result.value, str) and result.value.count(".") == 2, result.value

    enc = algorithm.value if algorithm else "CKM_RSA_AES_KEY_WRAP"  # the service's default
    payload = _verify_release(authority, result.value)
    # The SDK asks for the latest version: the request echoes the versionless key URL.
    jwk = _check_payload(
        payload, key, enc=enc, requested_kid=_versionless(key), authority=authority, nonce=nonce
    )
    assert _unb64url(jwk["n"]) == key.key.n and int.from_bytes(_unb64url(jwk["e"]), "big") == 65537

    material = transfer.unwrap(jwk["key_hsm"], enc)
    private = serialization.load_der_private_key(material, password=None)  # PKCS#8 PrivateKeyInfo
    assert isinstance(private, rsa.RSAPrivateKey)
    numbers = private.public_key().public_numbers()
    assert numbers.n == int.from_bytes(key.key.n, "big"), "the released private key is not the vault key"
    assert numbers.e == int.from_bytes(key.key.e, "big")

    # The released private key signs; the vault verifies with the key it kept.
    message = b"released to an attested TEE " + os.urandom(8)
    digest = hashlib.sha256(message).digest()
    signature = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    assert _service_crypto(key, credential).verify(SignatureAlgorithm.rs256, digest, signature).is_valid is True
    other = hashlib.sha256(b"another message").digest()
    assert _service_crypto(key, credential).verify(SignatureAlgorithm.rs256, other, signature).is_valid is False
    # ... and what the vault signs verifies with the released key's public half.
    signed = _service_crypto(key, credential).sign(SignatureAlgorithm.ps256, digest).signature
    private.public_key().verify(
        signed, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )


def test_release_a_specific_version(key_client, authority):
    name = _name()
    first = key_client.create_rsa_key(
        name, size=2048, hardware_protected=True, exportable=True, release_policy=_release_policy(authority)
    )
    # A later version of an exportable key inherits the release policy when none is given.
    second = key_client.create_rsa_key(name, size=2048, hardware_protected=True, exportable=True)
    assert second.properties.version != first.properties.version
    assert second.properties.release_policy is not None
    assert second.properties.release_policy.encoded_policy == _canonical(authority)

    transfer = TransferKey(use_enc=True)
    token = _mint(authority, {"sdk-test": True}, transfer.jwk)
    enc = KeyExportEncryptionAlgorithm.rsa_aes_key_wrap_256
    for version, expected in ((first.properties.version, first), (None, second)):
        payload = _verify_release(authority, key_client.release_key(name, token, version=version, algorithm=enc).value)
        requested = f"{expected.properties.vault_url}/keys/{name}" + (f"/{version}" if version else "")
        jwk = _check_payload(payload, expected, enc=enc.value, requested_kid=requested, authority=authority)
        private = serialization.load_der_private_key(transfer.unwrap(jwk["key_hsm"], enc.value), password=None)
        assert private.public_key().public_numbers().n == int.from_bytes(expected.key.n, "big"), version


def test_release_ec_key_gives_pkcs8(key_client, credential, authority):
    key = key_client.create_ec_key(
        _name(), curve="P-256", hardware_protected=True, exportable=True, release_policy=_release_policy(authority)
    )
    assert key.key_type == KeyType.ec_hsm and key.properties.exportable is True
    transfer = TransferKey()
    token = _mint(authority, {"sdk-test": True}, transfer.jwk)
    enc = KeyExportEncryptionAlgorithm.rsa_aes_key_wrap_384
    payload = _verify_release(authority, key_client.release_key(key.name, token, algorithm=enc).value)
    jwk = _check_payload(payload, key, enc=enc.value, requested_kid=_versionless(key), authority=authority)
    assert jwk["crv"] == "P-256" and _unb64url(jwk["x"]) == key.key.x and _unb64url(jwk["y"]) == key.key.y

    private = serialization.load_der_private_key(transfer.unwrap(jwk["key_hsm"], enc.value), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1"
    public = private.public_key().public_numbers()
    assert public.x.to_bytes(32, "big") == key.key.x and public.y.to_bytes(32, "big") == key.key.y

    digest = hashlib.sha256(b"signed by the released EC key").digest()
    r, s = decode_dss_signature(private.sign(b"signed by the released EC key", ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert _service_crypto(key, credential).verify(SignatureAlgorithm.es256, digest, raw).is_valid is True


def test_release_oct_hsm_key_gives_the_raw_bytes(key_client, credential, authority):
    key = key_client.create_oct_key(
        _name(), size=256, hardware_protected=True, exportable=True, release_policy=_release_policy(authority)
    )
    assert key.key_type == KeyType.oct_hsm and key.properties.exportable is True
    transfer = TransferKey()
    token = _mint(authority, {"sdk-test": True}, transfer.jwk)
    payload = _verify_release(authority, key_client.release_key(key.name, token).value)
    jwk = _check_payload(
        payload, key, enc="CKM_RSA_AES_KEY_WRAP", requested_kid=_versionless(key), authority=authority
    )
    k = transfer.unwrap(jwk["key_hsm"], "CKM_RSA_AES_KEY_WRAP")
    assert len(k) == 32, f"an oct-HSM 256 key releases its 32 raw bytes, got {len(k)}"

    # The bytes are the vault's key: what the vault seals with A256GCM opens locally.
    aad = b"released"
    sealed = CryptographyClient(key, credential).encrypt(
        EncryptionAlgorithm.a256_gcm, b"sealed by the vault", additional_authenticated_data=aad
    )
    assert AESGCM(k).decrypt(sealed.iv, sealed.ciphertext + sealed.tag, aad) == b"sealed by the vault"


# ---------------------------------------------------------------------------------------- the SDK live-test flow
def test_sdk_mock_attestation_flow(key_client, authority):
    """What the SDKs' own live tests do: ATTESTATION_URI = the authority, a token from
    GET /generate-test-token, release, and a value comes back (nobody can unwrap it)."""
    token = _call("GET", f"{authority}/generate-test-token")["token"]
    claims = _json_part(token.split(".")[1])
    assert claims["iss"] == authority and claims["sdk-test"] is True, claims
    runtime_keys = claims["x-ms-runtime"]["keys"]
    assert runtime_keys[0]["kid"] == "fake-release-key" and runtime_keys[0]["kty"] == "RSA", runtime_keys
    assert runtime_keys[0].get("use") == "enc" or "encrypt" in runtime_keys[0].get("key_ops", []), runtime_keys

    # The policy exactly as the JS SDK test builds it (authority with a trailing slash, as the mock's URL has).
    name = _name()
    key = key_client.create_rsa_key(
        name, hardware_protected=True, exportable=True, release_policy=_release_policy(f"{authority}/")
    )
    result = key_client.release_key(name, token)
    assert result.value
    payload = _verify_release(authority, result.value)
    assert payload["response"]["key"]["key"]["kid"] == key.id
    envelope = _json_part(payload["response"]["key"]["key"]["key_hsm"])
    assert envelope["header"] == {"kid": "fake-release-key", "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"}, envelope


# ---------------------------------------------------------------------------------------- policy evaluation
def test_release_is_403_when_the_policy_is_not_satisfied(key_client, authority, exportable_rsa_key):
    transfer = TransferKey()
    key = exportable_rsa_key
    for claims in ({"sdk-test": False}, {"sdk-test": "false"}, {"other-claim": True}, {}):
        token = _mint(authority, claims, transfer.jwk)
        with pytest.raises(HttpResponseError) as excinfo:
            key_client.release_key(key.name, token)
        _assert_http_error(excinfo, 403)

    # The right claims from an authority the policy does not name: also 403.
    other = key_client.create_rsa_key(
        _name(),
        hardware_protected=True,
        exportable=True,
        release_policy=_release_policy("https://sharedeus.eus.attest.azure.net"),
    )
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.release_key(other.name, _mint(authority, {"sdk-test": True}, transfer.jwk))
    _assert_http_error(excinfo, 403)


def test_policy_with_nested_claims_and_groups(key_client, authority):
    """Dotted claim names reach into nested objects; `anyOf` nests inside `allOf` (as in the CVM default policy)."""
    conditions = [
        {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
        {"anyOf": [
            {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
            {"claim": "x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", "equals": "false"},
        ]},
    ]
    key = key_client.create_rsa_key(
        _name(), hardware_protected=True, exportable=True, release_policy=_release_policy(authority, conditions)
    )
    transfer = TransferKey()

    def release(tee: dict):
        return key_client.release_key(key.name, _mint(authority, {"x-ms-isolation-tee": tee}, transfer.jwk))

    assert release({"x-ms-attestation-type": "sevsnpvm", "x-ms-compliance-status": "azure-compliant-cvm"}).value
    assert release({"x-ms-attestation-type": "sevsnpvm", "x-ms-sevsnpvm-is-debuggable": False}).value
    for tee in (
        {"x-ms-attestation-type": "sevsnpvm", "x-ms-sevsnpvm-is-debuggable": True},
        {"x-ms-attestation-type": "sgx", "x-ms-compliance-status": "azure-compliant-cvm"},
        {"x-ms-compliance-status": "azure-compliant-cvm"},
    ):
        with pytest.raises(HttpResponseError) as excinfo:
            release(tee)
        _assert_http_error(excinfo, 403)


def test_mutable_policy_can_be_replaced(key_client, authority):
    name = _name()
    key_client.create_oct_key(
        name, size=256, hardware_protected=True, exportable=True, release_policy=_release_policy(authority)
    )
    transfer = TransferKey()
    yes = _mint(authority, {"sdk-test": True, "stage": "prod"}, transfer.jwk)
    no = _mint(authority, {"sdk-test": True, "stage": "dev"}, transfer.jwk)
    assert key_client.release_key(name, no).value

    stricter = _release_policy(authority, [{"claim": "stage", "equals": "prod"}])
    updated = key_client.update_key_properties(name, release_policy=stricter)
    assert updated.properties.release_policy.encoded_policy == _canonical(authority, "stage", "prod")
    assert updated.properties.release_policy.immutable is False
    assert key_client.get_key(name).properties.release_policy.encoded_policy == _canonical(authority, "stage", "prod")
    assert key_client.release_key(name, yes).value
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.release_key(name, no)
    _assert_http_error(excinfo, 403)


def test_immutable_policy_cannot_be_modified(key_client, authority):
    name = _name()
    key = key_client.create_rsa_key(
        name, hardware_protected=True, exportable=True, release_policy=_release_policy(authority, immutable=True)
    )
    assert key.properties.release_policy.immutable is True

    for replacement in (
        _release_policy(authority, [{"claim": "sdk-test", "equals": "false"}], immutable=True),
        _release_policy(authority, [{"claim": "sdk-test", "equals": "false"}]),
    ):
        with pytest.raises(HttpResponseError) as excinfo:
            key_client.update_key_properties(name, release_policy=replacement)
        _assert_http_error(
            excinfo, 400, "BadParameter", "AKV.SKR.1020: Immutable Key Release Policy cannot be modified."
        )

    # Other properties still change, and the policy stays as it was.
    updated = key_client.update_key_properties(name, tags={"owner": "skr"})
    assert updated.properties.tags == {"owner": "skr"}
    assert updated.properties.release_policy.immutable is True
    assert updated.properties.release_policy.encoded_policy == _canonical(authority)
    assert key_client.release_key(name, _mint(authority, {"sdk-test": True}, TransferKey().jwk)).value


# ---------------------------------------------------------------------------------------- refusals
def test_release_of_a_non_exportable_key_is_400(key_client, authority):
    key = key_client.create_rsa_key(_name(), hardware_protected=True)
    assert not key.properties.exportable
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.release_key(key.name, _mint(authority, {"sdk-test": True}, TransferKey().jwk))
    _assert_http_error(excinfo, 400, "BadParameter")


def test_release_of_a_disabled_key_is_refused(key_client, authority, exportable_rsa_key):
    name = exportable_rsa_key.name
    token = _mint(authority, {"sdk-test": True}, TransferKey().jwk)
    key_client.update_key_properties(name, enabled=False)
    try:
        with pytest.raises(HttpResponseError) as excinfo:
            key_client.release_key(name, token)
        _assert_http_error(excinfo, 403, "Forbidden", inner="KeyDisabled")
    finally:
        key_client.update_key_properties(name, enabled=True)
    assert key_client.release_key(name, token).value


def test_release_of_a_missing_key_is_404(key_client, authority):
    with pytest.raises(HttpResponseError) as excinfo:
        key_client.release_key(_name("missing"), _mint(authority, {"sdk-test": True}, TransferKey().jwk))
    _assert_http_error(excinfo, 404, "KeyNotFound")


def _forged_token(authority: str, kid: str, claims: dict) -> str:
    """A token shaped like the authority's, with its kid and issuer, but signed by a key of ours."""
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = _b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": kid}).encode())
    body = _b64url(json.dumps(claims).encode())
    signature = signer.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64url(signature)}"


def test_invalid_targets_are_400(key_client, authority, exportable_rsa_key):
    name = exportable_rsa_key.name
    transfer = TransferKey()
    good = _mint(authority, {"sdk-test": True}, transfer.jwk)
    header, claims = _json_part(good.split(".")[0]), _json_part(good.split(".")[1])
    now = int(time.time())
    cases = {
        "not a JWT": "not-a-token",
        "signed by another key": _forged_token(authority, header["kid"], claims),
        "tampered claims": ".".join([good.split(".")[0], _b64url(json.dumps({**claims, "extra": 1}).encode()),
                                     good.split(".")[2]]),
        "expired": _mint(authority, {"sdk-test": True, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
                         transfer.jwk),
        "no runtime keys": _mint(authority, {"sdk-test": True}),
        "no encryption key": _mint(authority, {"sdk-test": True}, {k: v for k, v in transfer.jwk.items()
                                                                   if k != "key_ops"} | {"use": "sig"}),
    }
    for case, token in cases.items():
        with pytest.raises(HttpResponseError) as excinfo:
            key_client.release_key(name, token)
        assert excinfo.value.status_code == 400, f"{case}: {excinfo.value.status_code} {excinfo.value.message}"

    with pytest.raises(HttpResponseError) as excinfo:
        key_client.release_key(name, good, algorithm="A256KW")
    _assert_http_error(excinfo, 400, "BadParameter")
    assert key_client.release_key(name, good).value  # the good token still works


# ---------------------------------------------------------------------------------------- key attestation
def test_get_key_attestation_on_a_software_vault(key_client, authority, exportable_rsa_key):
    key = exportable_rsa_key
    latest = key_client.get_key_attestation(key.name)
    assert latest.id == key.id
    assert latest.key_type == KeyType.rsa_hsm
    assert latest.key.n == key.key.n and latest.key.e == key.key.e
    assert latest.properties.exportable is True
    assert latest.properties.release_policy.encoded_policy == _canonical(authority)
    assert latest.properties.attestation is None, "no HSM here, so no attestation blob"

    versioned = key_client.get_key_attestation(key.name, key.properties.version)
    assert versioned.id == key.id and versioned.properties.attestation is None

    oct_key = key_client.create_oct_key(_name(), hardware_protected=True)
    attested = key_client.get_key_attestation(oct_key.name)
    assert attested.id == oct_key.id and attested.key.k is None and attested.properties.attestation is None

    with pytest.raises(HttpResponseError) as excinfo:
        key_client.get_key_attestation(_name("missing"))
    _assert_http_error(excinfo, 404, "KeyNotFound")


# ---------------------------------------------------------------------------------------- token separation
class _StaticCredential:
    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes, **kwargs):  # pylint: disable=unused-argument
        return AccessToken(self._token, int(time.time()) + 3600)


def test_attestation_tokens_are_not_access_tokens(vault_url, credential, authority, exportable_rsa_key):
    """The test authority mints any claims for anyone; what it signs must not open the vault."""
    real = credential.get_token("https://vault.azure.net/.default").token
    minted = _mint(authority, _json_part(real.split(".")[1]))  # the same claims as a real access token
    client = KeyClient(vault_url, _StaticCredential(minted))
    try:
        with pytest.raises((ClientAuthenticationError, HttpResponseError)) as excinfo:
            client.get_key(exportable_rsa_key.name)
        assert excinfo.value.status_code == 401
    finally:
        client.close()
