#!/usr/bin/env node
// Azure Cosmos DB-style customer-managed keys (CMK), against keyvault-emulator.
//
// A Cosmos DB account encrypts its documents under a per-account data encryption key (DEK).
// With CMK the account stores the DEK only wrapped by an RSA key in the customer's vault, and
// its default identity (here a user-assigned managed identity) asks the vault to unwrap it. When
// the customer disables the key, withdraws the identity's access or deletes the key, the account
// is "revoked" and serves nothing; once access is back it serves again.
//
// This script plays both parts with the official SDKs:
//   * the customer (the emulator's admin service principal, ClientSecretCredential): creates the
//     identity (plain ARM REST: PUT .../userAssignedIdentities/{name}), grants it an access policy
//     (@azure/arm-keyvault) and creates, rotates, disables, deletes and recovers the key
//     (@azure/keyvault-keys);
//   * the Cosmos DB account (ManagedIdentityCredential with the identity's client id): wraps and
//     unwraps its DEK with RSA-OAEP-256 and seals documents locally with AES-256-GCM (node:crypto).
//
// Every expected outcome is checked; anything else ends the script with exit status 1.
//
// Configuration, from the environment only (the export lines of the emulator's start banner):
//   AZURE_KEYVAULT_URL, AZURE_TENANT_ID, IDENTITY_ENDPOINT, IDENTITY_HEADER, NODE_EXTRA_CA_CERTS
//   (read when node starts); optional, for the admin: AZURE_CLIENT_ID (default: the emulator's
//   "admin", looked up at {IDENTITY_ENDPOINT origin}/_emulator/identities), AZURE_CLIENT_SECRET
//   (default: keyvault-emulator-admin-secret), AZURE_AUTHORITY_HOST and
//   AZURE_RESOURCE_MANAGER_ENDPOINT (default: https://localhost:{vault port}),
//   AZURE_SUBSCRIPTION_ID (default: the one GET /subscriptions lists).
//
// Run: node examples/cosmos_cmk.mjs   (see examples/README.md)
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { STATUS_CODES } from "node:http";

import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ClientSecretCredential, ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const DEFAULT_ADMIN_SECRET = "keyvault-emulator-admin-secret"; // the emulator's documented default
const MANAGEMENT_SCOPE = "https://management.azure.com/.default";
const MSI_API_VERSION = "2023-01-31";
const WRAP = "RSA-OAEP-256";
const IDENTITY_PERMISSIONS = ["get", "wrapKey", "unwrapKey"];

class Unexpected extends Error {}

function expect(condition, message) {
  if (!condition) throw new Unexpected(message);
}

let stepNumber = 0;
const step = (text) => console.log(`${String(++stepNumber).padStart(2)}. ${text}`);
const note = (text) => console.log(`    ${text}`);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Unexpected(`${name} is not set: export the lines the emulator prints at start`);
  return value;
}

const keyPath = (keyId) => new URL(keyId).pathname.split("/").filter(Boolean).slice(1).join("/"); // name/version
const versionOf = (keyId) => new URL(keyId).pathname.split("/").filter(Boolean).at(-1);
const same = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

// Runs `call`, which must fail with HTTP `status`, error code `code` and (if given) innererror `inner`.
async function expectRefused(what, call, status, code, inner) {
  const wanted = `${status} ${code}${inner ? `/${inner}` : ""}`;
  try {
    await call();
  } catch (err) {
    if (err instanceof Unexpected) throw err;
    const body = err.details?.error ?? {};
    const gotInner = body.innerError?.code ?? body.innererror?.code;
    const message = String(body.message ?? err.message ?? "").split("\n")[0];
    const seen = `${err.statusCode} ${STATUS_CODES[err.statusCode] ?? ""}, error ${err.code ?? body.code}${gotInner ? `/${gotInner}` : ""} ` +
      `"${message.slice(0, 110)}${message.length > 110 ? "..." : ""}"`;
    expect(err.statusCode === status && (err.code ?? body.code) === code && (!inner || gotInner === inner),
      `${what}: expected ${wanted}, got ${seen}`);
    return seen;
  }
  throw new Unexpected(`${what}: expected ${wanted}, but the call succeeded`);
}

// ---------------------------------------------------------------- AES-256-GCM documents
function sealDocument(dek, id, document) {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", dek, iv);
  cipher.setAAD(Buffer.from(id));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(document)), cipher.final()]);
  return { id, iv, ciphertext, tag: cipher.getAuthTag() };
}

function openDocument(dek, sealed) {
  const decipher = createDecipheriv("aes-256-gcm", dek, sealed.iv);
  decipher.setAAD(Buffer.from(sealed.id));
  decipher.setAuthTag(sealed.tag);
  return JSON.parse(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString());
}

// ---------------------------------------------------------------- plain ARM / emulator REST
async function armRequest(credential, method, url, body) {
  const { token } = await credential.getToken(MANAGEMENT_SCOPE);
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Unexpected(`${method} ${url}: HTTP ${response.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

async function emulatorAdminClientId() {
  const response = await fetch(`${new URL(env("IDENTITY_ENDPOINT")).origin}/_emulator/identities`);
  expect(response.ok, `GET /_emulator/identities: HTTP ${response.status}`);
  const admin = (await response.json()).value.find((i) => i.name === "admin");
  expect(admin, "the emulator lists no identity 'admin': set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET");
  return admin.clientId;
}

// ---------------------------------------------------------------- the walkthrough
async function main() {
  const vaultUrl = env("AZURE_KEYVAULT_URL").replace(/\/+$/, "");
  const tenantId = env("AZURE_TENANT_ID");
  env("IDENTITY_ENDPOINT"); // read by ManagedIdentityCredential
  const port = new URL(vaultUrl).port || "443";
  const armEndpoint = (process.env.AZURE_RESOURCE_MANAGER_ENDPOINT || `https://localhost:${port}`).replace(/\/+$/, "");
  const authorityHost = process.env.AZURE_AUTHORITY_HOST || `https://localhost:${port}`;
  const adminClientId = process.env.AZURE_CLIENT_ID || (await emulatorAdminClientId());
  const adminSecret = process.env.AZURE_CLIENT_SECRET || DEFAULT_ADMIN_SECRET;

  const suffix = randomBytes(4).toString("hex");
  const keyName = `cosmos-cmk-${suffix}`;
  const identityName = `cosmos${suffix}-identity`;
  console.log(`Cosmos DB-style CMK walkthrough: vault ${vaultUrl}, run ${suffix}`);

  const admin = new ClientSecretCredential(tenantId, adminClientId, adminSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
  });
  const subscriptionId = process.env.AZURE_SUBSCRIPTION_ID ||
    (await armRequest(admin, "GET", `${armEndpoint}/subscriptions?api-version=2022-12-01`)).value?.[0]?.subscriptionId;
  expect(subscriptionId, "GET /subscriptions lists none: set AZURE_SUBSCRIPTION_ID");
  const keyvaultMgmt = new KeyVaultManagementClient(admin, subscriptionId, {
    endpoint: armEndpoint,
    credentials: { scopes: [MANAGEMENT_SCOPE] },
  });
  const adminKeys = new KeyClient(vaultUrl, admin);

  const cleanup = []; // [description, async () => ...], run in reverse order
  let failed;
  try {
    // a. provisioning, as the admin ------------------------------------------------------------
    let vault;
    for await (const v of keyvaultMgmt.vaults.listBySubscription()) {
      if (v.properties?.vaultUri?.replace(/\/+$/, "") === vaultUrl) vault = v;
    }
    expect(vault, `no vault of subscription ${subscriptionId} has the URI ${vaultUrl}`);
    const group = vault.id.split("/")[4];
    step(`admin found the vault: ${vault.id}`);

    const identityUrl = `${armEndpoint}/subscriptions/${subscriptionId}/resourceGroups/${group}` +
      `/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identityName}?api-version=${MSI_API_VERSION}`;
    const identity = await armRequest(admin, "PUT", identityUrl, { location: vault.location });
    cleanup.push([`delete identity ${identityName}`, () => armRequest(admin, "DELETE", identityUrl)]);
    const { clientId, principalId } = identity.properties ?? {};
    expect(clientId && principalId, `identity without ids: ${JSON.stringify(identity)}`);
    step(`admin created user-assigned identity ${identityName} (the account's default identity): clientId ${clientId}, principalId ${principalId}`);

    const policy = (operation) =>
      keyvaultMgmt.vaults.updateAccessPolicy(group, vault.name, operation, {
        properties: { accessPolicies: [{ tenantId, objectId: principalId, permissions: { keys: IDENTITY_PERMISSIONS } }] },
      });
    await policy("add");
    cleanup.push(["remove the identity's access policy", () => policy("remove")]);
    const granted = (await keyvaultMgmt.vaults.get(group, vault.name)).properties.accessPolicies
      ?.find((p) => p.objectId === principalId);
    expect(granted, "the access policy is not on the vault after accessPolicies/add");
    step(`admin added an access policy for it: keys ${[...granted.permissions.keys].sort().join(", ")}`);

    const key = await adminKeys.createRsaKey(keyName, { keySize: 3072 });
    cleanup.push([`delete and purge key ${keyName}`, () => deleteAndPurge(adminKeys, keyName)]);
    expect(key.key?.n?.length === 384, `not an RSA 3072 key: ${key.keyType}`);
    step(`admin created RSA 3072 key ${keyPath(key.id)}`);

    // b. the account wraps its data encryption key ------------------------------------------------
    const account = new ManagedIdentityCredential({ clientId });
    let dek = randomBytes(32);
    const pinned = new CryptographyClient(key.id, account);
    const wrapped = await pinned.wrapKey(WRAP, dek);
    expect(wrapped.keyID === key.id, `wrapped under ${wrapped.keyID}, not ${key.id}`);
    const pinnedId = wrapped.keyID;
    const pinnedWrappedDek = wrapped.result;
    step(`identity wrapped the account's 256-bit data encryption key (DEK) with ${WRAP}: ${pinnedWrappedDek.length} bytes under ${keyPath(pinnedId)}`);

    // c. documents under the DEK, and the round trip ----------------------------------------------
    const document = { id: "order-1001", customer: "contoso", total: 1234.56, items: ["disk", "cable"] };
    const sealed = sealDocument(dek, document.id, document);
    dek.fill(0);
    dek = undefined; // the account keeps only the wrapped DEK
    step(`sealed document ${document.id} locally with AES-256-GCM under the DEK: ${sealed.ciphertext.length}-byte ciphertext, 16-byte tag; DEK dropped`);

    const readDocument = async (crypto, wrappedDek) => {
      const { result } = await crypto.unwrapKey(WRAP, wrappedDek);
      return openDocument(Buffer.from(result), sealed);
    };
    const readsBack = async (crypto, wrappedDek) =>
      JSON.stringify(await readDocument(crypto, wrappedDek)) === JSON.stringify(document);
    expect(await readsBack(pinned, pinnedWrappedDek), "round trip: the decrypted document differs");
    step("identity unwrapped the DEK and opened the document: round trip OK");

    // d. rotation ---------------------------------------------------------------------------------
    const rotated = await adminKeys.rotateKey(keyName);
    expect(rotated.properties.version !== key.properties.version, "rotateKey returned the same version");
    step(`admin rotated the key: new version ${rotated.properties.version}`);

    expect(await readsBack(pinned, pinnedWrappedDek), "unwrap with the pinned version failed after rotation");
    step(`unwrap with the PINNED key id ${keyPath(pinnedId)} still works`);

    const latest = await new KeyClient(vaultUrl, account).getKey(keyName); // versionless: latest
    expect(latest.id === rotated.id, `latest is ${latest.id}, expected ${rotated.id}`);
    const { result: plainDek } = await pinned.unwrapKey(WRAP, pinnedWrappedDek);
    const rewrapped = await new CryptographyClient(`${vaultUrl}/keys/${keyName}`, account).wrapKey(WRAP, plainDek);
    expect(rewrapped.keyID === rotated.id, `rewrapped under ${rewrapped.keyID}, expected the latest ${rotated.id}`);
    const currentId = rewrapped.keyID;
    const wrappedDek = rewrapped.result;
    const current = new CryptographyClient(currentId, account);
    expect(await readsBack(current, wrappedDek), "the rewrapped DEK does not open the document");
    step(`versionless key id now resolves to ${versionOf(latest.id)}; DEK rewrapped under ${keyPath(currentId)} and verified`);

    // e. revocation by disabling the key ----------------------------------------------------------
    await adminKeys.updateKeyProperties(keyName, versionOf(currentId), { enabled: false });
    let seen = await expectRefused("unwrap of a disabled key", () => current.unwrapKey(WRAP, wrappedDek), 403, "Forbidden", "KeyDisabled");
    step(`admin disabled version ${versionOf(currentId)} -> account revoked, unwrap refused: ${seen}`);
    expect(await readsBack(pinned, pinnedWrappedDek), "the older, still enabled version refused the unwrap");
    note(`(disabling is per version: the copy wrapped under the older ${versionOf(pinnedId)} still unwraps; disable every version to revoke fully)`);

    await adminKeys.updateKeyProperties(keyName, versionOf(currentId), { enabled: true });
    expect(await readsBack(current, wrappedDek), "unwrap failed after re-enabling the key");
    step("admin re-enabled it -> the account unwraps its DEK again");

    // f. revocation by removing the access policy -------------------------------------------------
    await policy("remove");
    seen = await expectRefused("unwrap without an access policy", () => current.unwrapKey(WRAP, wrappedDek), 403, "Forbidden", "AccessDenied");
    step(`admin removed the identity's access policy -> unwrap refused on the next request: ${seen}`);

    await policy("add");
    expect(await readsBack(current, wrappedDek), "unwrap failed after the access policy was added back");
    step("admin added the access policy back -> unwrap works again");

    // g. soft-delete and recovery ------------------------------------------------------------------
    const deleted = await (await adminKeys.beginDeleteKey(keyName)).pollUntilDone();
    const deletedNames = [];
    for await (const d of adminKeys.listDeletedKeys()) deletedNames.push(d.name);
    expect(deletedNames.includes(keyName), `${keyName} is not among the deleted keys`);
    step(`admin deleted the key (soft-delete): listed in deleted keys, recoveryId ${deleted.properties.recoveryId}, ` +
      `purge scheduled ${deleted.properties.scheduledPurgeDate?.toISOString().slice(0, 10)}`);
    seen = await expectRefused("unwrap of a deleted key", () => current.unwrapKey(WRAP, wrappedDek), 404, "KeyNotFound");
    note(`identity's unwrap of the deleted key: ${seen}`);

    const recovered = await (await adminKeys.beginRecoverDeletedKey(keyName)).pollUntilDone();
    expect(recovered.id === currentId, `recovered ${recovered.id}, expected ${currentId}`);
    expect(await readsBack(current, wrappedDek), "unwrap failed after recovery");
    step(`admin recovered it (${keyPath(recovered.id)}) -> the account unwraps and serves documents again`);
    console.log("OK: every step behaved as expected");
  } catch (err) {
    failed = err;
  } finally {
    const failures = [];
    for (const [description, action] of cleanup.reverse()) {
      try {
        await action();
        console.log(`    cleanup: ${description}`);
      } catch (err) {
        failures.push(`${description}: ${err.message}`);
        console.error(`    cleanup FAILED: ${description}: ${err.message}`);
      }
    }
    if (failed) throw failed; // the first failure is the one to report
    if (failures.length) throw new Unexpected(`clean-up failed: ${failures.join("; ")}`);
  }
}

async function deleteAndPurge(keys, name) {
  let deleted;
  try {
    deleted = await (await keys.beginDeleteKey(name)).pollUntilDone();
  } catch (err) {
    if (err.statusCode !== 404) throw err;
    deleted = await keys.getDeletedKey(name); // already soft-deleted (a step failed half-way)
  }
  if ((deleted.properties.recoveryLevel ?? "").includes("Purgeable")) {
    await keys.purgeDeletedKey(name);
  } else {
    console.log(`    (the vault does not allow purge: ${name} stays soft-deleted until ${deleted.properties.scheduledPurgeDate?.toISOString()})`);
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof Unexpected)) console.error(err);
  console.error(`FAILED: ${err instanceof Unexpected ? err.message : "unexpected error (above)"}`);
  process.exit(1);
}
