// Identities other than the default one, with the official Azure SDK for JavaScript and default
// settings (TLS verification and challenge-resource verification on).
//
// The customer-managed-key (CMK) flow as a storage service runs it: the identity holds only
// get / wrapKey / unwrapKey on its key (an access policy on vault `cmk`, or the role
// "Key Vault Crypto Service Encryption User" scoped to the key on the RBAC vault `cmkrbac`). It
// reads the key, wraps a data key (locally with RSA-OAEP, through the service with RSA-OAEP-256,
// which the SDK never does locally), unwraps (always the service), and is refused (403) when it
// tries to create, delete or sign. When its access policy or role assignment is removed through
// the emulator's control port, its very next unwrap is a 403; the test then puts it back.
//
// Identities (tests/sdk/kvemu.toml): `storage`, system-assigned, selected by the App Service
// header X-IDENTITY-HEADER: storage-secret; `app`, a service principal with a client secret and a
// federated credential (issuer https://federation.example, subject system:serviceaccount:default:app).
//
// Managed identity and IDENTITY_HEADER: msal-node reads IDENTITY_ENDPOINT / IDENTITY_HEADER at the
// FIRST managed-identity token request of the process (not when the credential is constructed)
// and keeps that source, header included, in a process-wide static: a later credential with
// another IDENTITY_HEADER still gets the first identity. `node --test` runs every test file in its
// own process, so this file sets the storage account's header before anything asks for a token,
// as the App Service of that storage account would. The tests of this file run one after another
// (they change the authorization of cmk and cmkrbac and put it back).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import {
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
} from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

process.env.IDENTITY_HEADER = "storage-secret";
// No variable from the developer's shell may choose another identity for these tests.
for (const name of ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_USERNAME"]) {
  delete process.env[name];
}

const TIMEOUT = { timeout: 60_000 };
const APP_SECRET = "app-secret-value";
const FEDERATION_ISSUER = "https://federation.example";
const APP_SUBJECT = "system:serviceaccount:default:app";
const CMK = "storage-cmk";
const OTHER_KEY = "other-key";

const defaultVaultUrl = process.env.AZURE_KEYVAULT_URL;
const httpUrl = new URL(process.env.IDENTITY_ENDPOINT).origin; // the emulator's control port
const authorityHost = `https://localhost:${new URL(defaultVaultUrl).port}`;
const tenantId = process.env.AZURE_TENANT_ID;
const vaultUrl = (vault) => defaultVaultUrl.replace("://default.", `://${vault}.`);

// ------------------------------------------------------------------ control port
async function control(method, pathAndQuery, body) {
  const response = await fetch(`${httpUrl}${pathAndQuery}`, {
    method,
    // `Metadata: true`: the token routes answer only requests that carry it; the others ignore it.
    headers: body === undefined ? { metadata: "true" } : { metadata: "true", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${method} ${pathAndQuery}: HTTP ${response.status}: ${text}`);
  return JSON.parse(text);
}

async function identity(name) {
  const { value } = await control("GET", "/_emulator/identities");
  const found = value.find((i) => i.name === name);
  assert.ok(found, `the emulator has no identity '${name}': was it started with tests/sdk/kvemu.toml (KVEMU_CONFIG)?`);
  return found;
}

const getAuthorization = (vault) => control("GET", `/_emulator/vaults/${vault}/authorization`);
const setAuthorization = (vault, authorization) => control("PUT", `/_emulator/vaults/${vault}/authorization`, authorization);

async function federatedAssertion(subject) {
  const query = new URLSearchParams({ issuer: FEDERATION_ISSUER, subject });
  return (await control("GET", `/_emulator/federated-token?${query}`)).token;
}

function withoutPrincipal(authorization, oid) {
  const revoked = structuredClone(authorization);
  revoked.accessPolicies = (revoked.accessPolicies ?? []).filter((p) => p.objectId !== oid);
  revoked.roleAssignments = (revoked.roleAssignments ?? []).filter((a) => a.principalId !== oid);
  assert.notDeepEqual(revoked, authorization, `${oid} holds no access policy or role assignment to revoke`);
  return revoked;
}

// ------------------------------------------------------------------ assertions
// A 403 of the vault for `oid`, naming what was missing (the access-policy permission or the
// RBAC data action).
function forbidden({ oid, rbac, permission, action, what }) {
  return (err) => {
    const body = JSON.stringify(err.details); // the error body, as the SDK deserialized it
    assert.equal(err.statusCode, 403, `${what}: ${err.name} ${err.statusCode}: ${err.message} ${body}`);
    assert.equal(err.code, "Forbidden", `${what}: ${body}`);
    assert.equal(err.details?.error?.innerError?.code, rbac ? "ForbiddenByRbac" : "AccessDenied", `${what}: ${body}`);
    assert.ok(err.message.includes(`oid=${oid}`), `${what}: the caller is not ${oid}: ${err.message}`);
    if (rbac) {
      assert.ok(err.message.includes(`Action: 'Microsoft.KeyVault/vaults/${action}'`), `${what}: ${err.message}`);
    } else {
      assert.ok(err.message.includes(`does not have keys ${permission} permission`), `${what}: ${err.message}`);
    }
    return true;
  };
}

// get + wrap + unwrap work; create, delete, sign are 403; after revocation the next unwrap is 403.
async function cmkFlow(credential, vault, oid, { rbac = false } = {}) {
  const url = vaultUrl(vault);
  const client = new KeyClient(url, credential);
  const key = await client.getKey(CMK);
  assert.ok(key.id.startsWith(`${url}/keys/${CMK}/`), key.id);
  assert.equal(key.key.d, undefined, "no private material in a key bundle");

  const crypto = new CryptographyClient(key.id, credential); // fetches the key itself (get)
  const dataKey = randomBytes(32);
  const remoteWrap = await crypto.wrapKey("RSA-OAEP-256", dataKey); // the service
  assert.equal(remoteWrap.keyID, key.id);
  assert.deepEqual(Buffer.from((await crypto.unwrapKey("RSA-OAEP-256", remoteWrap.result)).result), dataKey);
  const localWrap = await crypto.wrapKey("RSA-OAEP", dataKey); // locally, with the public key
  assert.deepEqual(Buffer.from((await crypto.unwrapKey("RSA-OAEP", localWrap.result)).result), dataKey);

  const check = (what, permission, action) => forbidden({ oid, rbac, permission, action, what });
  await assert.rejects(client.createRsaKey(`not-mine-${randomBytes(4).toString("hex")}`, { keySize: 2048 }),
    check("create", "create", "keys/create/action"));
  await assert.rejects(client.beginDeleteKey(CMK), check("delete", "delete", "keys/delete"));
  await assert.rejects(crypto.sign("RS256", createHash("sha256").update("not mine to sign").digest()),
    check("sign", "sign", "keys/sign/action"));
  assert.equal((await client.getKey(CMK)).id, key.id, "the refused delete left the key in place");

  // Revocation: the next unwrap is refused, with the same (still valid) token.
  const original = await getAuthorization(vault);
  await setAuthorization(vault, withoutPrincipal(original, oid));
  try {
    await assert.rejects(crypto.unwrapKey("RSA-OAEP-256", remoteWrap.result),
      check("unwrap after revocation", "unwrapKey", "keys/unwrap/action"));
  } finally {
    await setAuthorization(vault, original);
  }
  // Granted again: the next unwrap works again.
  assert.deepEqual(Buffer.from((await crypto.unwrapKey("RSA-OAEP-256", remoteWrap.result)).result), dataKey);
}

// ------------------------------------------------------------------ tests
describe("identities: the customer-managed-key flow", () => {
  let storage;
  let app;
  const tempDirs = [];

  before(async () => {
    assert.ok(defaultVaultUrl, "AZURE_KEYVAULT_URL is not set (run the tests through run.mjs)");
    storage = await identity("storage");
    app = await identity("app");
  }, TIMEOUT);

  after(() => {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  // --- managed identity (App Service protocol, IDENTITY_HEADER=storage-secret)
  test("ManagedIdentityCredential (storage's identity header): access policy on cmk, revocation", TIMEOUT, async () => {
    await cmkFlow(new ManagedIdentityCredential(), "cmk", storage.objectId);
  });

  test("ManagedIdentityCredential: key-scoped role on cmkrbac; other keys and listing refused", TIMEOUT, async () => {
    const credential = new ManagedIdentityCredential();
    await cmkFlow(credential, "cmkrbac", storage.objectId, { rbac: true });

    const client = new KeyClient(vaultUrl("cmkrbac"), credential);
    const rbacRefusal = (what, action) => forbidden({ oid: storage.objectId, rbac: true, action, what });
    await assert.rejects(client.getKey(OTHER_KEY), rbacRefusal("get another key", "keys/read"));
    const otherCrypto = new CryptographyClient(`${vaultUrl("cmkrbac")}/keys/${OTHER_KEY}`, credential);
    await assert.rejects(otherCrypto.unwrapKey("RSA-OAEP-256", randomBytes(256)),
      rbacRefusal("unwrap with another key", "keys/unwrap/action"));
    // The pager reports only the status ("Pagination failed with unexpected statusCode 403") and
    // the error code, not the body's message: that is @azure/keyvault-keys, not the emulator.
    await assert.rejects(async () => {
      for await (const _ of client.listPropertiesOfKeys()) { /* refused before the first item */ }
    }, (err) => {
      assert.equal(err.statusCode, 403, `list keys: ${err.name} ${err.statusCode}: ${err.message}`);
      assert.equal(err.code, "Forbidden", `list keys: ${err.message}`);
      return true;
    });
  });

  test("DefaultAzureCredential falls through to the managed identity", TIMEOUT, async () => {
    await cmkFlow(new DefaultAzureCredential(), "cmk", storage.objectId);
  });

  // --- service principal at the Entra-like authority
  test("ClientSecretCredential (authorityHost, disableInstanceDiscovery): access policy on cmk", TIMEOUT, async () => {
    const credential = new ClientSecretCredential(tenantId, app.clientId, APP_SECRET, {
      authorityHost,
      disableInstanceDiscovery: true,
    });
    await cmkFlow(credential, "cmk", app.objectId);
  });

  test("ClientSecretCredential with a wrong secret: AADSTS7000215", TIMEOUT, async () => {
    const credential = new ClientSecretCredential(tenantId, app.clientId, "not-the-secret", {
      authorityHost,
      disableInstanceDiscovery: true,
    });
    await assert.rejects(new KeyClient(vaultUrl("cmk"), credential).getKey(CMK), (err) => {
      assert.match(err.message, /AADSTS7000215/, `${err.name}: ${err.message}`);
      return true;
    });
  });

  test("WorkloadIdentityCredential (AZURE_FEDERATED_TOKEN_FILE etc.): access policy on cmk", TIMEOUT, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvemu-wi-"));
    tempDirs.push(dir);
    const tokenFile = path.join(dir, "azure-identity-token");
    fs.writeFileSync(tokenFile, await federatedAssertion(APP_SUBJECT));
    // The variables the AKS workload-identity webhook injects, for this test only (the
    // credential reads AZURE_AUTHORITY_HOST again for each token request that names a tenant,
    // as Key Vault's challenge does); AZURE_FEDERATED_TOKEN_FILE would also turn a
    // ManagedIdentityCredential into token exchange, so the other tests must not see them.
    const injected = {
      AZURE_AUTHORITY_HOST: authorityHost,
      AZURE_TENANT_ID: tenantId,
      AZURE_CLIENT_ID: app.clientId,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
    };
    const saved = Object.fromEntries(Object.keys(injected).map((k) => [k, process.env[k]]));
    try {
      Object.assign(process.env, injected);
      await cmkFlow(new WorkloadIdentityCredential({ disableInstanceDiscovery: true }), "cmk", app.objectId);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
