// The emulator follows the official JS SDK (@azure/keyvault-keys, pinned in package.json): the
// api-version it sends by default is one the emulator knows, and the customer-managed-key flow
// runs with `serviceVersion: "2026-04-01"` (the SDK passes it through as the api-version).
// When a newer SDK is pinned, the first test names the version src/api_version.rs lacks.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const vaultUrl = process.env.AZURE_KEYVAULT_URL;
const TIMEOUT = { timeout: 60_000 };

// Records the api-version of every request the client sends.
function recorder() {
  const seen = new Set();
  const policy = {
    name: "apiVersionRecorder",
    sendRequest: (request, next) => {
      const version = new URL(request.url).searchParams.get("api-version");
      if (version) seen.add(version);
      return next(request);
    },
  };
  return { seen, additionalPolicies: [{ policy, position: "perCall" }] };
}

describe("api-versions", () => {
  test("the SDK's default api-version is known to the emulator", TIMEOUT, async () => {
    const { seen, additionalPolicies } = recorder();
    const client = new KeyClient(vaultUrl, new ManagedIdentityCredential(), { additionalPolicies });
    try {
      for await (const _ of client.listPropertiesOfKeys()) break;
    } catch (err) {
      assert.fail(`the emulator's version table (src/api_version.rs) lacks ${[...seen].join(", ")}, ` +
        `the default api-version of the pinned @azure/keyvault-keys: ${err.message}`);
    }
    assert.equal(seen.size, 1, [...seen].join(", "));
  });

  test("the CMK flow runs with serviceVersion 2026-04-01", TIMEOUT, async () => {
    const { seen, additionalPolicies } = recorder();
    const credential = new ManagedIdentityCredential();
    const options = { serviceVersion: "2026-04-01", additionalPolicies };
    const client = new KeyClient(vaultUrl, credential, options);
    const name = `cmk-2026-${randomBytes(6).toString("hex")}`;
    const key = await client.createRsaKey(name, { keySize: 2048 });
    const crypto = new CryptographyClient(key.id, credential, options);
    const dataKey = randomBytes(32);
    const wrapped = await crypto.wrapKey("RSA-OAEP-256", dataKey);
    const unwrapped = await crypto.unwrapKey("RSA-OAEP-256", wrapped.result);
    assert.deepEqual(Buffer.from(unwrapped.result), dataKey);
    const rotated = await client.rotateKey(name);
    assert.notEqual(rotated.properties.version, key.properties.version);
    await (await client.beginDeleteKey(name, { updateIntervalInMs: 100 })).pollUntilDone();
    const recovered = await (await client.beginRecoverDeletedKey(name, { updateIntervalInMs: 100 })).pollUntilDone();
    assert.equal(recovered.id, rotated.id);
    assert.deepEqual([...seen], ["2026-04-01"]);
  });
});
