// Customer-managed-key scenarios with the official Azure SDK for JavaScript
// (@azure/keyvault-keys + @azure/identity), default client settings only:
// challenge-resource verification on, TLS verification on (the emulator's CA comes in through
// NODE_EXTRA_CA_CERTS), ManagedIdentityCredential configured by IDENTITY_ENDPOINT + IDENTITY_HEADER.
//
// Run through ../run.mjs, which starts the emulator and provides the environment.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, test } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const vaultUrl = process.env.AZURE_KEYVAULT_URL;
const RSA_3072_MODULUS_BYTES = 3072 / 8;
const TIMEOUT = { timeout: 60_000 };

const uniqueName = () => `cmk-${randomBytes(6).toString("hex")}`;
const bytes = (u8) => Buffer.from(u8 ?? []);

function assertRsa3072(key, name) {
  assert.equal(key.name, name);
  assert.equal(key.keyType, "RSA");
  assert.ok(key.key?.n, "key.key.n missing");
  assert.equal(key.key.n.length, RSA_3072_MODULUS_BYTES,
    `modulus is ${key.key.n.length} bytes, expected ${RSA_3072_MODULUS_BYTES} (no leading zero byte)`);
  assert.deepEqual(bytes(key.key.e), Buffer.from([1, 0, 1]));
  assert.ok(key.id.startsWith(`${vaultUrl}/keys/${name}/`), key.id);
  assert.ok(key.properties.version && key.id.endsWith(`/${key.properties.version}`), key.id);
  assert.equal(key.properties.enabled, true);
  assert.equal(key.key.d, undefined, "private exponent must not be returned");
}

describe("customer-managed key with @azure/keyvault-keys", () => {
  let credential;
  let client;
  let sharedKey; // one RSA-3072 key for the read-only scenarios

  before(async () => {
    assert.ok(vaultUrl, "AZURE_KEYVAULT_URL is not set (run the tests through run.mjs)");
    credential = new ManagedIdentityCredential();
    client = new KeyClient(vaultUrl, credential);
    sharedKey = await client.createRsaKey(uniqueName(), { keySize: 3072 });
  }, TIMEOUT);

  // 1. create an RSA-3072 key
  test("createRsaKey with keySize 3072", TIMEOUT, async () => {
    const name = uniqueName();
    const key = await client.createRsaKey(name, { keySize: 3072 });
    assertRsa3072(key, name);
    for (const op of ["wrapKey", "unwrapKey", "encrypt", "decrypt"]) {
      assert.ok(key.keyOperations?.includes(op), `keyOperations ${JSON.stringify(key.keyOperations)} lacks ${op}`);
    }
  });

  // 2. wrap / unwrap a 32-byte data key
  for (const algorithm of ["RSA-OAEP-256", "RSA-OAEP"]) {
    test(`wrapKey/unwrapKey ${algorithm}`, TIMEOUT, async () => {
      const crypto = new CryptographyClient(sharedKey, credential);
      const dataKey = randomBytes(32);

      const wrapped = await crypto.wrapKey(algorithm, dataKey); // RSA-OAEP may run locally
      assert.equal(wrapped.algorithm, algorithm);
      assert.equal(wrapped.keyID, sharedKey.id);
      assert.equal(wrapped.result.length, RSA_3072_MODULUS_BYTES);

      const unwrapped = await crypto.unwrapKey(algorithm, wrapped.result); // always the service
      assert.deepEqual(bytes(unwrapped.result), dataKey);
      assert.equal(unwrapped.keyID, sharedKey.id);
    });
  }

  test("wrapKey/unwrapKey RSA-OAEP-256 with a client built from the key id", TIMEOUT, async () => {
    const crypto = new CryptographyClient(sharedKey.id, credential);
    const dataKey = randomBytes(32);
    const wrapped = await crypto.wrapKey("RSA-OAEP-256", dataKey);
    const unwrapped = await crypto.unwrapKey("RSA-OAEP-256", wrapped.result);
    assert.deepEqual(bytes(unwrapped.result), dataKey);
  });

  // 3. get, list, versions
  test("getKey returns the key", TIMEOUT, async () => {
    const fetched = await client.getKey(sharedKey.name);
    assertRsa3072(fetched, sharedKey.name);
    assert.equal(fetched.id, sharedKey.id);
    assert.deepEqual(bytes(fetched.key.n), bytes(sharedKey.key.n));

    const byVersion = await client.getKey(sharedKey.name, { version: sharedKey.properties.version });
    assert.equal(byVersion.id, sharedKey.id);
  });

  test("listPropertiesOfKeys finds the key", TIMEOUT, async () => {
    const found = [];
    for await (const props of client.listPropertiesOfKeys()) {
      if (props.name === sharedKey.name) found.push(props);
    }
    assert.equal(found.length, 1, `${sharedKey.name} listed ${found.length} times`);
    assert.equal(found[0].id, `${vaultUrl}/keys/${sharedKey.name}`);
    assert.equal(found[0].enabled, true);
  });

  test("a second version; listPropertiesOfKeyVersions yields 2", TIMEOUT, async () => {
    const name = uniqueName();
    const first = await client.createRsaKey(name, { keySize: 3072 });
    const second = await client.createRsaKey(name, { keySize: 3072 });
    assert.notEqual(second.properties.version, first.properties.version);
    assert.notDeepEqual(bytes(second.key.n), bytes(first.key.n));

    const latest = await client.getKey(name);
    assert.equal(latest.properties.version, second.properties.version);

    const versions = [];
    for await (const props of client.listPropertiesOfKeyVersions(name)) versions.push(props);
    assert.equal(versions.length, 2, JSON.stringify(versions.map((v) => v.id)));
    assert.deepEqual(new Set(versions.map((v) => v.version)),
      new Set([first.properties.version, second.properties.version]));
    assert.ok(versions.every((v) => v.name === name));
  });

  // 4. encrypt / decrypt
  test("encrypt/decrypt RSA-OAEP", TIMEOUT, async () => {
    const crypto = new CryptographyClient(sharedKey, credential);
    const plaintext = Buffer.concat([Buffer.from("customer-managed key test "), randomBytes(16)]);

    const encrypted = await crypto.encrypt({ algorithm: "RSA-OAEP", plaintext });
    assert.equal(encrypted.algorithm, "RSA-OAEP");
    assert.equal(encrypted.keyID, sharedKey.id);
    assert.equal(encrypted.result.length, RSA_3072_MODULUS_BYTES);

    const decrypted = await crypto.decrypt({ algorithm: "RSA-OAEP", ciphertext: encrypted.result });
    assert.deepEqual(bytes(decrypted.result), plaintext);
    assert.equal(decrypted.keyID, sharedKey.id);
  });

  // 5. a missing key
  test("getKey of a missing key rejects with 404 KeyNotFound", TIMEOUT, async () => {
    await assert.rejects(client.getKey("does-not-exist-xyz"), (err) => {
      assert.equal(err.name, "RestError", `${err.name}: ${err.message}`);
      assert.equal(err.statusCode, 404, err.message);
      assert.equal(err.code, "KeyNotFound", `code ${err.code}: ${err.message}`);
      return true;
    });
  });
});
