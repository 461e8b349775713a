// Soft-delete, recovery and purge protection with the official JS SDK, default settings.
// The emulator runs a second vault `protected` (7-day retention, purge protection), declared by
// KVEMU_VAULTS in tests/sdk/run.sh.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const TIMEOUT = { timeout: 60_000 };
const DAY_MS = 86_400_000;
const VAULTS = { default: { retentionDays: 90, purgeProtected: false }, protected: { retentionDays: 7, purgeProtected: true } };

describe("soft-delete with @azure/keyvault-keys", () => {
  for (const [vault, { retentionDays, purgeProtected }] of Object.entries(VAULTS)) {
    test(`delete, recover and purge in vault ${vault}`, TIMEOUT, async () => {
      const url = process.env.AZURE_KEYVAULT_URL.replace("://default.", `://${vault}.`);
      const credential = new ManagedIdentityCredential();
      const client = new KeyClient(url, credential);
      const name = `sd-${randomBytes(6).toString("hex")}`;
      const key = await client.createRsaKey(name, { keySize: 2048 });
      const dataKey = randomBytes(32);
      const wrapped = await new CryptographyClient(key, credential).wrapKey("RSA-OAEP-256", dataKey);

      const deleted = await (await client.beginDeleteKey(name)).pollUntilDone();
      assert.equal(deleted.properties.recoveryId, `${url}/deletedkeys/${name}`);
      assert.equal(deleted.properties.scheduledPurgeDate - deleted.properties.deletedOn, retentionDays * DAY_MS);
      assert.equal((await client.getDeletedKey(name)).id, key.id);
      const names = [];
      for await (const item of client.listDeletedKeys()) names.push(item.name);
      assert.ok(names.includes(name), JSON.stringify(names));
      await assert.rejects(client.getKey(name), (err) => err.statusCode === 404);
      await assert.rejects(client.createRsaKey(name), (err) => err.statusCode === 409 && err.code === "Conflict");

      const recovered = await (await client.beginRecoverDeletedKey(name)).pollUntilDone();
      assert.equal(recovered.id, key.id);
      const unwrapped = await new CryptographyClient(recovered, credential).unwrapKey("RSA-OAEP-256", wrapped.result);
      assert.deepEqual(Buffer.from(unwrapped.result), dataKey);

      await (await client.beginDeleteKey(name)).pollUntilDone();
      if (purgeProtected) {
        await assert.rejects(client.purgeDeletedKey(name), (err) => err.statusCode === 403 && /purge protection is enabled/.test(err.message));
        assert.equal((await client.getDeletedKey(name)).id, key.id);
      } else {
        await client.purgeDeletedKey(name);
        await assert.rejects(client.getDeletedKey(name), (err) => err.statusCode === 404);
      }
    });
  }
});
