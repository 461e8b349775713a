// Provisioning with the official management SDK for JavaScript (@azure/arm-keyvault): vault
// creation and access policies, as against Azure, with only the endpoint and the credential
// pointed at the emulator:
//   new KeyVaultManagementClient(credential, subscriptionId, {
//     endpoint: "https://localhost:{https port}",
//     credentials: { scopes: ["https://management.azure.com/.default"] },
//   })
// (without `credentials.scopes` the client would ask for "{endpoint}/.default"), the credential
// being a ClientSecretCredential for the emulator's default admin service principal at the
// emulator's Entra-like authority (authorityHost https://localhost:{https port},
// disableInstanceDiscovery).
//
// The vault gets soft-delete (7 days), purge protection and an access policy for the admin, who
// creates a key in it; then accessPolicies add / replace / remove grant and take away the
// service principal `app` (tests/sdk/kvemu.toml), and the data plane enforces each change on the
// next request.
//
// The subscription id is printed nowhere: it is derived as the emulator derives it (UUIDv5 of
// the tenant, src/auth/identity.rs `default_subscription`). The resource group is created with a
// plain ARM request (PUT /subscriptions/{s}/resourcegroups/{rg}) so that no second management
// package is needed.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";

import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ClientSecretCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const TIMEOUT = { timeout: 60_000 };
const ADMIN_SECRET = "keyvault-emulator-admin-secret";
const APP_SECRET = "app-secret-value";
const MANAGEMENT_SCOPE = "https://management.azure.com/.default";
const LOCATION = "westeurope";

const defaultVaultUrl = process.env.AZURE_KEYVAULT_URL;
const httpsPort = new URL(defaultVaultUrl).port;
const armEndpoint = `https://localhost:${httpsPort}`;
const httpUrl = new URL(process.env.IDENTITY_ENDPOINT).origin; // the emulator's control port
const tenantId = process.env.AZURE_TENANT_ID;

// RFC 4122 name-based UUID (SHA-1, version 5).
function uuidV5(name, namespace) {
  const bytes = createHash("sha1").update(Buffer.from(namespace.replaceAll("-", ""), "hex")).update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
const NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";
const subscriptionId = uuidV5(`${tenantId}/subscription/subscription`, uuidV5("https://github.com/keyvault-emulator/identities", NAMESPACE_URL));

async function identity(name) {
  const response = await fetch(`${httpUrl}/_emulator/identities`);
  assert.equal(response.status, 200, `GET /_emulator/identities: HTTP ${response.status}`);
  const found = (await response.json()).value.find((i) => i.name === name);
  assert.ok(found, `the emulator has no identity '${name}': was it started with tests/sdk/kvemu.toml (KVEMU_CONFIG)?`);
  return found;
}

const unique = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;

// A 403 of the vault for `oid` (access policies: inner code AccessDenied).
function accessDenied(oid, what) {
  return (err) => {
    const body = JSON.stringify(err.details);
    assert.equal(err.statusCode, 403, `${what}: ${err.name} ${err.statusCode}: ${err.message} ${body}`);
    assert.equal(err.code, "Forbidden", `${what}: ${body}`);
    assert.equal(err.details?.error?.innerError?.code, "AccessDenied", `${what}: ${body}`);
    assert.ok(err.message.includes(`oid=${oid}`), `${what}: the caller is not ${oid}: ${err.message}`);
    return true;
  };
}

// An ARM error of the management client.
function armError(status, code, what) {
  return (err) => {
    assert.equal(err.statusCode, status, `${what}: ${err.name} ${err.statusCode} ${err.code}: ${err.message}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  };
}

const policy = (objectId, keys) => ({ tenantId, objectId, permissions: { keys } });
const keysOf = (vault, objectId) =>
  vault.properties.accessPolicies?.find((p) => p.objectId === objectId)?.permissions.keys ?? null;

describe("management SDK (@azure/arm-keyvault): vaults and access policies", () => {
  let admin;
  let app;
  let adminCredential;
  let appCredential;
  let client;
  const group = unique("js-rg");
  const vaultName = unique("js-vault");
  let vaultUri;
  let keyId;

  before(async () => {
    assert.ok(defaultVaultUrl, "AZURE_KEYVAULT_URL is not set (run the tests through run.mjs)");
    admin = await identity("admin");
    app = await identity("app");
    const options = { authorityHost: armEndpoint, disableInstanceDiscovery: true };
    adminCredential = new ClientSecretCredential(tenantId, admin.clientId, ADMIN_SECRET, options);
    appCredential = new ClientSecretCredential(tenantId, app.clientId, APP_SECRET, options);
    client = new KeyVaultManagementClient(adminCredential, subscriptionId, {
      endpoint: armEndpoint,
      credentials: { scopes: [MANAGEMENT_SCOPE] },
    });
  }, TIMEOUT);

  test("create a resource group and a vault with soft-delete 7 days and purge protection", TIMEOUT, async () => {
    const { token } = await adminCredential.getToken(MANAGEMENT_SCOPE);
    const response = await fetch(`${armEndpoint}/subscriptions/${subscriptionId}/resourcegroups/${group}?api-version=2025-04-01`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ location: LOCATION }),
    });
    const text = await response.text();
    assert.ok([200, 201].includes(response.status), `PUT resource group: HTTP ${response.status}: ${text}`);
    assert.equal(JSON.parse(text).name, group);

    const created = await client.vaults.createOrUpdate(group, vaultName, {
      location: LOCATION,
      tags: { purpose: "storage-cmk" },
      properties: {
        tenantId,
        sku: { family: "A", name: "standard" },
        enableSoftDelete: true,
        softDeleteRetentionInDays: 7,
        enablePurgeProtection: true,
        // Since management api-version 2026-02-01 (which this SDK sends) a vault without the
        // flag uses RBAC, as in Azure: access policies need it said.
        enableRbacAuthorization: false,
        accessPolicies: [policy(admin.objectId, ["all"])],
      },
    });
    assert.equal(created.id, `/subscriptions/${subscriptionId}/resourceGroups/${group}/providers/Microsoft.KeyVault/vaults/${vaultName}`);
    assert.equal(created.name, vaultName);
    assert.equal(created.type, "Microsoft.KeyVault/vaults");
    assert.equal(created.location, LOCATION);
    assert.deepEqual(created.tags, { purpose: "storage-cmk" });
    const props = created.properties;
    assert.equal(props.vaultUri, `https://${vaultName}.vault.localhost:${httpsPort}/`);
    assert.equal(props.tenantId, tenantId);
    assert.deepEqual(props.sku, { family: "A", name: "standard" });
    assert.equal(props.enableSoftDelete, true);
    assert.equal(props.softDeleteRetentionInDays, 7);
    assert.equal(props.enablePurgeProtection, true);
    assert.equal(props.enableRbacAuthorization, false);
    assert.equal(props.provisioningState, "Succeeded");
    assert.deepEqual(keysOf(created, admin.objectId), ["all"]);
    vaultUri = props.vaultUri;

    const read = await client.vaults.get(group, vaultName);
    assert.equal(read.id, created.id);
    const inGroup = [];
    for await (const vault of client.vaults.listByResourceGroup(group)) inGroup.push(vault.name);
    assert.deepEqual(inGroup, [vaultName]);
    const everywhere = [];
    for await (const vault of client.vaults.listBySubscription()) everywhere.push(vault.name);
    assert.ok(everywhere.includes(vaultName) && everywhere.includes("default"), everywhere.join(", "));

    // A second PUT updates (200) and keeps the vault's URI.
    const again = await client.vaults.createOrUpdate(group, vaultName, {
      location: LOCATION,
      tags: { purpose: "storage-cmk", owner: "js" },
      properties: { tenantId, sku: { family: "A", name: "standard" }, accessPolicies: [policy(admin.objectId, ["all"])] },
    });
    assert.deepEqual(again.tags, { purpose: "storage-cmk", owner: "js" });
    assert.equal(again.properties.vaultUri, vaultUri);
    assert.equal(again.properties.enablePurgeProtection, true, "purge protection stays on");

    // The data plane enforces the admin's access policy: it creates the key.
    const key = await new KeyClient(vaultUri, adminCredential).createRsaKey("storage-cmk", { keySize: 3072 });
    assert.ok(key.id.startsWith(`${vaultUri}keys/storage-cmk/`), key.id);
    keyId = key.id;
  });

  test("accessPolicies add, replace and remove, enforced on the next request", TIMEOUT, async () => {
    assert.ok(keyId, "the vault and its key were not created");
    const keys = new KeyClient(vaultUri, appCredential);
    const crypto = new CryptographyClient(keyId, appCredential);
    const dataKey = randomBytes(32);
    await assert.rejects(keys.getKey("storage-cmk"), accessDenied(app.objectId, "get before any policy"));

    // add: get, wrapKey, unwrapKey.
    const added = await client.vaults.updateAccessPolicy(group, vaultName, "add", {
      properties: { accessPolicies: [policy(app.objectId, ["get", "wrapKey", "unwrapKey"])] },
    });
    assert.ok(added.properties.accessPolicies.some((p) => p.objectId === app.objectId), JSON.stringify(added));
    let vault = await client.vaults.get(group, vaultName);
    assert.deepEqual([...keysOf(vault, app.objectId)].sort(), ["get", "unwrapKey", "wrapKey"]);
    assert.deepEqual(keysOf(vault, admin.objectId), ["all"], "add leaves the other policies alone");

    assert.equal((await keys.getKey("storage-cmk")).id, keyId);
    const wrapped = await crypto.wrapKey("RSA-OAEP-256", dataKey); // the service
    assert.equal(wrapped.keyID, keyId);
    assert.deepEqual(Buffer.from((await crypto.unwrapKey("RSA-OAEP-256", wrapped.result)).result), dataKey);
    await assert.rejects(keys.createRsaKey(unique("not-mine"), { keySize: 2048 }), accessDenied(app.objectId, "create"));

    // replace: get and wrapKey only; unwrap is refused on the next request.
    await client.vaults.updateAccessPolicy(group, vaultName, "replace", {
      properties: { accessPolicies: [policy(app.objectId, ["get", "wrapKey"])] },
    });
    vault = await client.vaults.get(group, vaultName);
    assert.deepEqual([...keysOf(vault, app.objectId)].sort(), ["get", "wrapKey"]);
    await assert.rejects(crypto.unwrapKey("RSA-OAEP-256", wrapped.result), accessDenied(app.objectId, "unwrap after replace"));
    assert.equal((await crypto.wrapKey("RSA-OAEP-256", dataKey)).keyID, keyId, "wrapKey is still granted");

    // remove: every permission named goes, and with it the entry.
    await client.vaults.updateAccessPolicy(group, vaultName, "remove", {
      properties: { accessPolicies: [policy(app.objectId, ["get", "wrapKey"])] },
    });
    vault = await client.vaults.get(group, vaultName);
    assert.equal(keysOf(vault, app.objectId), null, JSON.stringify(vault.properties.accessPolicies));
    await assert.rejects(keys.getKey("storage-cmk"), accessDenied(app.objectId, "get after remove"));

    // The admin's own policy was never touched.
    assert.equal((await new KeyClient(vaultUri, adminCredential).getKey("storage-cmk")).id, keyId);
  });

  test("ARM validation errors", TIMEOUT, async () => {
    const create = (name, properties = {}, inGroup = group) =>
      client.vaults.createOrUpdate(inGroup, name, {
        location: LOCATION,
        properties: { tenantId, sku: { family: "A", name: "standard" }, ...properties },
      });
    await assert.rejects(create("no_such--name"), armError(400, "VaultNameNotValid", "invalid name"));
    await assert.rejects(create(unique("retention"), { softDeleteRetentionInDays: 3 }), armError(400, "BadRequest", "retention 3 days"));
    await assert.rejects(create(vaultName, {}, unique("elsewhere-rg")), armError(409, "VaultAlreadyExists", "name in use"));
    await assert.rejects(
      client.vaults.update(group, vaultName, { properties: { enablePurgeProtection: false } }),
      armError(400, "BadRequest", "turning purge protection off"),
    );
    await assert.rejects(client.vaults.get(group, unique("missing")), armError(404, "ResourceNotFound", "a missing vault"));
  });

  test("only owners may manage: another service principal gets AuthorizationFailed", TIMEOUT, async () => {
    const stranger = new KeyVaultManagementClient(appCredential, subscriptionId, {
      endpoint: armEndpoint,
      credentials: { scopes: [MANAGEMENT_SCOPE] },
    });
    await assert.rejects(stranger.vaults.get(group, vaultName), (err) => {
      armError(403, "AuthorizationFailed", "a non-owner")(err);
      assert.ok(err.message.includes(app.objectId), err.message);
      return true;
    });
  });
});
