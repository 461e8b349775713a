#!/usr/bin/env python3
"""Azure Storage-style customer-managed keys (CMK), against keyvault-emulator.

A storage account encrypts its data under an *account encryption key* (AEK). With CMK, the
account keeps the AEK only wrapped by an RSA key in the customer's vault and asks the vault
(as the account's user-assigned managed identity) to unwrap it whenever it needs it. The
customer revokes access by disabling the key, by taking the identity's access policy away, or
by deleting the key; the account reads again once access is restored.

This script plays both parts with the official SDKs:
  * the customer (the emulator's admin service principal): provisions the identity, its access
    policy and the key through the management API (azure-mgmt-msi, azure-mgmt-keyvault) and the
    data plane (azure-keyvault-keys), then rotates, disables, revokes, deletes and recovers;
  * the storage account (ManagedIdentityCredential for the new identity): wraps and unwraps
    the AEK with RSA-OAEP-256 and encrypts "blob" data locally with AES-256-GCM.

Every expected outcome is checked; anything else ends the script with exit status 1.

Configuration, from the environment only (the export lines of the emulator's start banner):
  AZURE_KEYVAULT_URL, AZURE_TENANT_ID, IDENTITY_ENDPOINT, IDENTITY_HEADER, REQUESTS_CA_BUNDLE
  optional, for the admin: AZURE_CLIENT_ID (default: the emulator's "admin", looked up at
  {IDENTITY_ENDPOINT origin}/_emulator/identities), AZURE_CLIENT_SECRET (default:
  keyvault-emulator-admin-secret), AZURE_AUTHORITY_HOST and AZURE_RESOURCE_MANAGER_ENDPOINT
  (default: https://localhost:{vault port}), AZURE_SUBSCRIPTION_ID (default: the one
  GET /subscriptions lists).

Run: python examples/storage_cmk.py   (see examples/README.md)
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import traceback
import urllib.parse

import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    Permissions,
    VaultAccessPolicyParameters,
    VaultAccessPolicyProperties,
)
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import Identity
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEFAULT_ADMIN_SECRET = "keyvault-emulator-admin-secret"  # the emulator's documented default
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
WRAP = KeyWrapAlgorithm.rsa_oaep_256
IDENTITY_PERMISSIONS = ["get", "wrapKey", "unwrapKey"]


class Unexpected(Exception):
    """An outcome the walkthrough did not expect: the script fails."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Unexpected(message)


_step = 0


def step(text: str) -> None:
    global _step
    _step += 1
    print(f"{_step:2d}. {text}", flush=True)


def note(text: str) -> None:
    print(f"    {text}", flush=True)


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise Unexpected(f"{name} is not set: export the lines the emulator prints at start")
    return value


def short(key_id: str) -> str:
    """keys/{name}/{version} of a key id."""
    return "/".join(urllib.parse.urlsplit(key_id).path.strip("/").split("/")[1:]) or key_id


def permission_names(entry: AccessPolicyEntry) -> str:
    return ", ".join(sorted(getattr(p, "value", p) for p in entry.permissions.keys_property))


def version_of(key_id: str) -> str:
    return urllib.parse.urlsplit(key_id).path.rstrip("/").split("/")[-1]


def error_body(err: HttpResponseError) -> tuple[str, str, str]:
    """(code, innererror code, message) of a Key Vault error body."""
    try:
        body = json.loads(err.response.text())["error"]
    except Exception:  # noqa: BLE001 - not a Key Vault body
        return (getattr(err.error, "code", None) or "?", "?", err.message or "")
    return body.get("code", "?"), (body.get("innererror") or {}).get("code", "-"), body.get("message", "")


def expect_refused(what: str, call, status: int, code: str, inner: str | None = None) -> str:
    """Runs `call`, which must fail with HTTP `status`, error code `code` and innererror code `inner`."""
    wanted = f"{status} {code}" + (f"/{inner}" if inner else "")
    try:
        call()
    except HttpResponseError as err:
        got_code, got_inner, message = error_body(err)
        reason = err.response.reason if err.response is not None else ""
        message = message.splitlines()[0] if message else ""
        seen = f"{err.status_code} {reason}, error {got_code}" + (f"/{got_inner}" if got_inner != "-" else "")
        seen += f' "{message[:110]}{"..." if len(message) > 110 else ""}"'
        ok = err.status_code == status and got_code == code and (inner is None or got_inner == inner)
        expect(ok, f"{what}: expected {wanted}, got {seen}: {err.message}")
        return seen
    raise Unexpected(f"{what}: expected {wanted}, but the call succeeded")


def main() -> None:
    vault_url = env("AZURE_KEYVAULT_URL").rstrip("/")
    tenant_id = env("AZURE_TENANT_ID")
    env("IDENTITY_ENDPOINT")  # read by ManagedIdentityCredential
    port = urllib.parse.urlsplit(vault_url).port or 443
    arm_endpoint = os.environ.get("AZURE_RESOURCE_MANAGER_ENDPOINT") or f"https://localhost:{port}"
    authority = os.environ.get("AZURE_AUTHORITY_HOST") or f"https://localhost:{port}"
    admin_client_id = os.environ.get("AZURE_CLIENT_ID") or emulator_admin_client_id()
    admin_secret = os.environ.get("AZURE_CLIENT_SECRET") or DEFAULT_ADMIN_SECRET

    suffix = secrets.token_hex(4)
    key_name = f"storage-cmk-{suffix}"
    identity_name = f"stcmk{suffix}-identity"
    print(f"Storage-style CMK walkthrough: vault {vault_url}, run {suffix}")

    admin = ClientSecretCredential(
        tenant_id, admin_client_id, admin_secret, authority=authority, disable_instance_discovery=True
    )
    subscription_id = os.environ.get("AZURE_SUBSCRIPTION_ID") or first_subscription(admin, arm_endpoint)
    arm = {"base_url": arm_endpoint, "credential_scopes": [MANAGEMENT_SCOPE]}
    keyvault_mgmt = KeyVaultManagementClient(admin, subscription_id, **arm)
    msi_mgmt = ManagedServiceIdentityClient(admin, subscription_id, **arm)
    admin_keys = KeyClient(vault_url, admin)

    cleanup: list = []  # (description, callable), run in reverse order
    try:
        # a. provisioning, as the admin ------------------------------------------------------
        vault = next(
            (v for v in keyvault_mgmt.vaults.list_by_subscription() if v.properties.vault_uri.rstrip("/") == vault_url),
            None,
        )
        expect(vault is not None, f"no vault of subscription {subscription_id} has the URI {vault_url}")
        group = vault.id.split("/")[4]
        step(f"admin found the vault: {vault.id}")

        identity = msi_mgmt.user_assigned_identities.create_or_update(group, identity_name, Identity(location=vault.location))
        cleanup.append((f"delete identity {identity_name}", lambda: msi_mgmt.user_assigned_identities.delete(group, identity_name)))
        expect(bool(identity.client_id and identity.principal_id), f"identity without ids: {identity.as_dict()}")
        step(f"admin created user-assigned identity {identity_name}: clientId {identity.client_id}, principalId {identity.principal_id}")

        def policy(operation: str) -> None:
            parameters = VaultAccessPolicyParameters(
                properties=VaultAccessPolicyProperties(
                    access_policies=[
                        AccessPolicyEntry(
                            tenant_id=tenant_id,
                            object_id=identity.principal_id,
                            permissions=Permissions(keys_property=IDENTITY_PERMISSIONS),
                        )
                    ]
                )
            )
            keyvault_mgmt.vaults.update_access_policy(group, vault.name, operation, parameters)

        policy("add")
        cleanup.append(("remove the identity's access policy", lambda: policy("remove")))
        granted = {p.object_id: p for p in keyvault_mgmt.vaults.get(group, vault.name).properties.access_policies}
        expect(identity.principal_id in granted, "the access policy is not on the vault after accessPolicies/add")
        step(f"admin added an access policy for it: keys {permission_names(granted[identity.principal_id])}")

        key = admin_keys.create_rsa_key(key_name, size=3072)
        cleanup.append((f"delete and purge key {key_name}", lambda: delete_and_purge(admin_keys, key_name)))
        expect(key.key.n is not None and len(key.key.n) == 384, f"not an RSA 3072 key: {key.key_type}")
        step(f"admin created RSA 3072 key {short(key.id)}")

        # b. the storage account wraps its account encryption key ---------------------------
        account = ManagedIdentityCredential(client_id=identity.client_id)
        aek = os.urandom(32)
        pinned_client = CryptographyClient(key.id, account)
        wrapped = pinned_client.wrap_key(WRAP, aek)
        expect(wrapped.key_id == key.id, f"wrapped under {wrapped.key_id}, not {key.id}")
        pinned_id, wrapped_aek = wrapped.key_id, wrapped.encrypted_key
        step(f"identity wrapped a 256-bit account encryption key (AEK) with RSA-OAEP-256: {len(wrapped_aek)} bytes under {short(pinned_id)}")

        # c. blob data under the AEK, and the round trip --------------------------------------
        blob = b"blob: invoices/2024-06.csv,total=1234.56\n" * 4
        nonce = os.urandom(12)
        sealed = AESGCM(aek).encrypt(nonce, blob, b"container=invoices")
        del aek  # the account keeps only the wrapped AEK
        step(f"encrypted a {len(blob)}-byte blob locally with AES-256-GCM under the AEK -> {len(sealed)} bytes; AEK dropped")

        def read_blob(crypto: CryptographyClient, wrapped_key: bytes) -> bytes:
            unwrapped = crypto.unwrap_key(WRAP, wrapped_key).key
            return AESGCM(unwrapped).decrypt(nonce, sealed, b"container=invoices")

        expect(read_blob(pinned_client, wrapped_aek) == blob, "round trip: the decrypted blob differs")
        step("identity unwrapped the AEK and decrypted the blob: round trip OK")

        # d. rotation ---------------------------------------------------------------------------
        rotated = admin_keys.rotate_key(key_name)
        expect(rotated.properties.version != key.properties.version, "rotate_key returned the same version")
        step(f"admin rotated the key: new version {version_of(rotated.id)}")

        expect(read_blob(pinned_client, wrapped_aek) == blob, "unwrap with the pinned version failed after rotation")
        step(f"unwrap with the PINNED key id {short(pinned_id)} still works")

        latest_client = CryptographyClient(f"{vault_url}/keys/{key_name}", account)  # versionless: latest
        latest = KeyClient(vault_url, account).get_key(key_name)
        expect(latest.id == rotated.id, f"latest is {latest.id}, expected {rotated.id}")
        rewrapped = latest_client.wrap_key(WRAP, pinned_client.unwrap_key(WRAP, wrapped_aek).key)
        expect(rewrapped.key_id == rotated.id, f"rewrapped under {rewrapped.key_id}, expected the latest {rotated.id}")
        old_wrapped_aek = wrapped_aek
        current_id, wrapped_aek = rewrapped.key_id, rewrapped.encrypted_key
        current_client = CryptographyClient(current_id, account)
        expect(read_blob(current_client, wrapped_aek) == blob, "the rewrapped AEK does not decrypt the blob")
        step(f"versionless key id now resolves to {version_of(latest.id)}; AEK rewrapped under {short(current_id)} and verified")

        # e. revocation by disabling the key ----------------------------------------------------
        admin_keys.update_key_properties(key_name, version_of(current_id), enabled=False)
        seen = expect_refused("unwrap of a disabled key", lambda: current_client.unwrap_key(WRAP, wrapped_aek), 403, "Forbidden", "KeyDisabled")
        step(f"admin disabled version {version_of(current_id)} -> identity's unwrap refused: {seen}")

        expect(read_blob(pinned_client, old_wrapped_aek) == blob, "the older, still enabled version refused the unwrap")
        note(f"(disabling is per version: the copy wrapped under the older {version_of(pinned_id)} still unwraps;"
             " disable every version to revoke fully)")

        admin_keys.update_key_properties(key_name, version_of(current_id), enabled=True)
        expect(read_blob(current_client, wrapped_aek) == blob, "unwrap failed after re-enabling the key")
        step("admin re-enabled it -> unwrap works again")

        # f. revocation by removing the access policy --------------------------------------------
        policy("remove")
        seen = expect_refused("unwrap without an access policy", lambda: current_client.unwrap_key(WRAP, wrapped_aek), 403, "Forbidden", "AccessDenied")
        step(f"admin removed the identity's access policy -> unwrap refused on the next request: {seen}")

        policy("add")
        expect(read_blob(current_client, wrapped_aek) == blob, "unwrap failed after the access policy was added back")
        step("admin added the access policy back -> unwrap works again")

        # g. soft-delete and recovery -------------------------------------------------------------
        deleted = admin_keys.begin_delete_key(key_name).result()
        listed = [d.name for d in admin_keys.list_deleted_keys()]
        expect(key_name in listed, f"{key_name} is not among the deleted keys")
        seen = expect_refused("unwrap of a deleted key", lambda: current_client.unwrap_key(WRAP, wrapped_aek), 404, "KeyNotFound")
        step(f"admin deleted the key (soft-delete): listed in deleted keys, recoveryId {deleted.recovery_id},"
             f" purge scheduled {deleted.scheduled_purge_date:%Y-%m-%d}")
        note(f"identity's unwrap of the deleted key: {seen}")

        recovered = admin_keys.begin_recover_deleted_key(key_name).result()
        expect(recovered.id == current_id, f"recovered {recovered.id}, expected {current_id}")
        expect(read_blob(current_client, wrapped_aek) == blob, "unwrap failed after recovery")
        step(f"admin recovered it ({short(recovered.id)}) -> identity unwraps and decrypts again")
        print("OK: every step behaved as expected")
    finally:
        failures = run_cleanup(cleanup)
        for client in (keyvault_mgmt, msi_mgmt, admin_keys):
            client.close()
    if failures:
        raise Unexpected(f"clean-up failed: {'; '.join(failures)}")


def run_cleanup(cleanup: list) -> list[str]:
    failures = []
    for description, action in reversed(cleanup):
        try:
            action()
            print(f"    cleanup: {description}")
        except Exception as err:  # noqa: BLE001 - report every clean-up failure
            failures.append(f"{description}: {err}")
            print(f"    cleanup FAILED: {description}: {err}", file=sys.stderr)
    return failures


def delete_and_purge(keys: KeyClient, name: str) -> None:
    try:
        deleted = keys.begin_delete_key(name).result()
    except ResourceNotFoundError:  # already soft-deleted (a step failed half-way)
        deleted = keys.get_deleted_key(name)
    if "Purgeable" in (deleted.properties.recovery_level or ""):
        keys.purge_deleted_key(name)
    else:
        print(f"    (the vault does not allow purge: {name} stays soft-deleted until {deleted.scheduled_purge_date})")


def emulator_admin_client_id() -> str:
    """The client id of the emulator's default admin, from its identity listing."""
    endpoint = urllib.parse.urlsplit(env("IDENTITY_ENDPOINT"))
    response = requests.get(f"{endpoint.scheme}://{endpoint.netloc}/_emulator/identities", timeout=30)
    response.raise_for_status()
    admin = next((i for i in response.json()["value"] if i["name"] == "admin"), None)
    expect(admin is not None, "the emulator lists no identity 'admin': set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET")
    return admin["clientId"]


def first_subscription(credential: ClientSecretCredential, arm_endpoint: str) -> str:
    token = credential.get_token(MANAGEMENT_SCOPE).token
    response = requests.get(
        f"{arm_endpoint}/subscriptions?api-version=2022-12-01", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    subscriptions = response.json()["value"]
    expect(bool(subscriptions), "GET /subscriptions lists none: set AZURE_SUBSCRIPTION_ID")
    return subscriptions[0]["subscriptionId"]


if __name__ == "__main__":
    try:
        main()
    except Unexpected as err:
        print(f"FAILED: {err}", file=sys.stderr)
        sys.exit(1)
    except Exception:  # noqa: BLE001 - an SDK error nobody expected
        traceback.print_exc()
        print("FAILED: unexpected error (above)", file=sys.stderr)
        sys.exit(1)
