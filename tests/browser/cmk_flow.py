"""One step of a customer-managed-key flow, as a service using the official Python SDK does it.

Run by tests/browser/dashboard.test.mjs in the background while the dashboard is open, with the
emulator banner's environment (IDENTITY_ENDPOINT, REQUESTS_CA_BUNDLE, ...) and
IDENTITY_HEADER choosing the identity (App Service protocol):

  cmk_flow.py wrap VAULT_URL KEY               -> {"ok": true, "kid": ..., "wrapped": base64}
  cmk_flow.py unwrap VAULT_URL KID WRAPPED     -> {"ok": true} or {"ok": false, "status": 403, "message": ...}
  cmk_flow.py rotate VAULT_URL KEY             -> {"ok": true, "kid": ...} (the new version)

It prints one JSON line and exits 0 whether or not the vault said yes; 1 only on other failures.
"""

import base64
import json
import os
import sys

from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm


def main() -> None:
    step, vault_url, *rest = sys.argv[1:]
    credential = ManagedIdentityCredential()
    try:
        if step == "wrap":
            key = KeyClient(vault_url, credential).get_key(rest[0])
            result = CryptographyClient(key, credential).wrap_key(KeyWrapAlgorithm.rsa_oaep_256, os.urandom(32))
            out = {"ok": True, "kid": result.key_id, "wrapped": base64.b64encode(result.encrypted_key).decode()}
        elif step == "unwrap":
            kid, wrapped = rest
            CryptographyClient(kid, credential).unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, base64.b64decode(wrapped))
            out = {"ok": True}
        elif step == "rotate":
            out = {"ok": True, "kid": KeyClient(vault_url, credential).rotate_key(rest[0]).id}
        else:
            raise SystemExit(f"unknown step {step}")
    except HttpResponseError as error:
        out = {"ok": False, "status": error.status_code, "message": error.message}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
