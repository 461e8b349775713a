// Import, sign/verify, backup/restore and rotation with the official JS SDK, default settings.
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const TIMEOUT = { timeout: 60_000 };
const uniqueName = (prefix) => `${prefix}-${randomBytes(6).toString("hex")}`;
const b64u = (text) => Buffer.from(text, "base64url");

describe("key lifecycle with @azure/keyvault-keys", () => {
  const credential = new ManagedIdentityCredential();
  const client = () => new KeyClient(process.env.AZURE_KEYVAULT_URL, credential);

  test("importKey of a Node-generated RSA key; the server decrypts what Node encrypted", TIMEOUT, async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = privateKey.export({ format: "jwk" });
    const name = uniqueName("byok");
    const key = await client().importKey(name, {
      kty: "RSA",
      n: b64u(jwk.n), e: b64u(jwk.e), d: b64u(jwk.d), p: b64u(jwk.p), q: b64u(jwk.q),
      dp: b64u(jwk.dp), dq: b64u(jwk.dq), qi: b64u(jwk.qi),
    }, { hardwareProtected: true });
    assert.equal(key.keyType, "RSA-HSM");
    assert.deepEqual(Buffer.from(key.key.n), b64u(jwk.n));
    assert.equal(key.key.d, undefined);
    const crypto = new CryptographyClient(key, credential);
    const dataKey = randomBytes(32);
    const wrapped = await crypto.wrapKey("RSA-OAEP-256", dataKey);
    const unwrapped = await crypto.unwrapKey("RSA-OAEP-256", wrapped.result);
    assert.deepEqual(Buffer.from(unwrapped.result), dataKey);
  });

  for (const [alg, make] of [
    ["PS256", (c, n) => c.createRsaKey(n, { keySize: 2048 })],
    ["ES384", (c, n) => c.createEcKey(n, { curve: "P-384" })],
  ]) {
    test(`sign on the server, verify ${alg}`, TIMEOUT, async () => {
      const key = await make(client(), uniqueName("sig"));
      const crypto = new CryptographyClient(key, credential);
      const digest = createHash(alg.endsWith("384") ? "sha384" : "sha256").update("payload").digest();
      const signed = await crypto.sign(alg, digest);
      assert.equal((await crypto.verify(alg, digest, signed.result)).result, true);
      const tampered = Buffer.from(signed.result);
      tampered[4] ^= 1;
      assert.equal((await crypto.verify(alg, digest, tampered)).result, false);
    });
  }

  test("backupKey then restoreKeyBackup after a purge keeps the key id", TIMEOUT, async () => {
    const c = client();
    const name = uniqueName("bak");
    const key = await c.createRsaKey(name);
    const backup = await c.backupKey(name);
    assert.ok(backup instanceof Uint8Array && backup.length > 0);
    await (await c.beginDeleteKey(name)).pollUntilDone();
    await c.purgeDeletedKey(name);
    const restored = await c.restoreKeyBackup(backup);
    assert.equal(restored.id, key.id);
    await assert.rejects(c.restoreKeyBackup(backup), (err) => err.statusCode === 409);
  });

  test("rotation policy and rotateKey", TIMEOUT, async () => {
    const c = client();
    const name = uniqueName("rot");
    const first = await c.createRsaKey(name);
    const defaultPolicy = await c.getKeyRotationPolicy(name);
    assert.deepEqual(defaultPolicy.lifetimeActions, [{ action: "Notify", timeBeforeExpiry: "P30D", timeAfterCreate: undefined }]);
    const policy = await c.updateKeyRotationPolicy(name, {
      lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P90D" }],
      expiresIn: "P1Y",
    });
    assert.equal(policy.expiresIn, "P1Y");
    assert.equal(policy.lifetimeActions.length, 2, "Notify P30D is appended");
    assert.ok(policy.id.endsWith(`/keys/${name}/rotationpolicy`));
    const rotated = await c.rotateKey(name);
    assert.notEqual(rotated.properties.version, first.properties.version);
    assert.equal(rotated.properties.expiresOn - rotated.properties.createdOn, 365 * 86_400_000);
  });
});
