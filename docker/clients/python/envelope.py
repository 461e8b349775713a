"""Envelope encryption of a file with a key in (emulated) Azure Key Vault, the official Python SDK.

1. a fresh 256-bit data key encrypts the file locally (AES-256-GCM);
2. the vault key wraps the data key (RSA-OAEP-256); the envelope (key id, wrapped key, nonce,
   ciphertext) is written as JSON and the plaintext data key is dropped;
3. later, from the envelope file alone, the vault unwraps the data key, which decrypts the file,
   and the result is compared with the original.

Configured only by environment variables, the same inside the compose environment
(docker/docker-compose.yml) and against an emulator on the host:

  AZURE_KEYVAULT_URL   the vault, e.g. https://cmk.vault.localhost:8443
  KEY_NAME             the vault key that wraps data keys, e.g. storage-cmk
  IDENTITY_ENDPOINT    managed identity (App Service protocol), e.g. http://kvemu:8080/msi/token
  IDENTITY_HEADER      selects the system-assigned identity, e.g. storage-identity-secret
  REQUESTS_CA_BUNDLE   the emulator's CA certificate, e.g. /ca/ca.pem
  INPUT_FILE           optional: the file to protect (default: sample.txt beside this script)
  ENVELOPE_FILE        optional: where to write the envelope (default: a temporary file)

Exits 0 when the decrypted file equals the original, 1 otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from azure.identity import ManagedIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WRAP_ALGORITHM = KeyWrapAlgorithm.rsa_oaep_256
ENVELOPE_VERSION = 1


def step(message: str) -> None:
    print(f"[python-client] {message}", flush=True)


def require(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"[python-client] environment variable {name} is not set")
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def aad_for(key_id: str) -> bytes:
    # Binds the ciphertext to the key id recorded in the envelope: editing `kid` breaks decryption.
    return f"keyvault-emulator-envelope-v{ENVELOPE_VERSION}:{key_id}".encode()


def seal(credential, vault_url: str, key_name: str, plaintext: bytes, source: str) -> dict:
    key = KeyClient(vault_url, credential).get_key(key_name)
    step(f"vault key: {key.id} ({key.key_type.value}, {len(key.key.n) * 8} bits)")

    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, aad_for(key.id))
    step(f"encrypted {len(plaintext)} bytes with a fresh 256-bit data key (AES-256-GCM)")

    wrapped = CryptographyClient(key, credential).wrap_key(WRAP_ALGORITHM, data_key)
    step(f"wrapped the data key with {wrapped.algorithm.value}: {len(wrapped.encrypted_key)} bytes")
    return {
        "version": ENVELOPE_VERSION,
        "source": source,
        "kid": wrapped.key_id,
        "alg": str(WRAP_ALGORITHM.value),
        "wrapped_key": b64(wrapped.encrypted_key),
        "enc": "A256GCM",
        "nonce": b64(nonce),
        "ciphertext": b64(ciphertext),
        "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
    }


def open_envelope(credential, envelope: dict) -> bytes:
    crypto = CryptographyClient(envelope["kid"], credential)
    unwrapped = crypto.unwrap_key(envelope["alg"], base64.b64decode(envelope["wrapped_key"]))
    step(f"unwrapped the data key with {envelope['kid']}")
    plaintext = AESGCM(unwrapped.key).decrypt(
        base64.b64decode(envelope["nonce"]),
        base64.b64decode(envelope["ciphertext"]),
        aad_for(envelope["kid"]),
    )
    step(f"decrypted {len(plaintext)} bytes")
    return plaintext


def main() -> int:
    vault_url = require("AZURE_KEYVAULT_URL")
    key_name = require("KEY_NAME")
    require("IDENTITY_ENDPOINT")
    require("IDENTITY_HEADER")
    input_file = Path(os.environ.get("INPUT_FILE") or Path(__file__).with_name("sample.txt"))
    envelope_file = os.environ.get("ENVELOPE_FILE") or os.path.join(
        tempfile.mkdtemp(prefix="envelope-"), "envelope.json"
    )
    step(f"vault {vault_url}, key {key_name}, identity endpoint {os.environ['IDENTITY_ENDPOINT']}")

    plaintext = input_file.read_bytes()
    step(f"read {input_file} ({len(plaintext)} bytes)")

    # ManagedIdentityCredential reads IDENTITY_ENDPOINT and IDENTITY_HEADER.
    with ManagedIdentityCredential() as credential:
        envelope = seal(credential, vault_url, key_name, plaintext, str(input_file))
        del plaintext
        Path(envelope_file).write_text(json.dumps(envelope, indent=2) + "\n")
        step(f"wrote the envelope to {envelope_file}")

    # Later, another process: nothing but the envelope and the vault.
    envelope = json.loads(Path(envelope_file).read_text())
    step(f"read the envelope back (kid {envelope['kid']})")
    with ManagedIdentityCredential() as credential:
        recovered = open_envelope(credential, envelope)

    original = input_file.read_bytes()
    if recovered != original or hashlib.sha256(recovered).hexdigest() != envelope["plaintext_sha256"]:
        step("FAILED: the decrypted file differs from the original")
        return 1
    step(f"OK: the decrypted file equals {input_file} (sha256 {envelope['plaintext_sha256'][:16]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
