// Symmetric keys (oct / oct-HSM) with AES and HMAC, RSNULL and getRandomBytes, through the official
// JS SDK (@azure/keyvault-keys 4.10.2), default settings.
//
// Where the SDK works locally: for oct keys, never here. Its AesCryptographyProvider only runs
// A*CBCPAD and only when the JWK has `k`, which the service never returns; RsaCryptographyProvider
// only handles RSA encrypt/wrapKey/verifyData. So every CryptographyClient call below (encrypt,
// decrypt, wrapKey, unwrapKey, sign, verify) is a request to the emulator. The client does check
// key_ops and nbf/exp itself before sending, but not `enabled`.
// node:crypto checks the results: AES-GCM, AES-CBC (PKCS#7), AES key wrap (RFC 3394 / 5649),
// HMAC, and PKCS#1 v1.5 recovery for RSNULL.
import assert from "node:assert/strict";
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  publicDecrypt,
  randomBytes,
} from "node:crypto";
import { before, describe, test } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const TIMEOUT = { timeout: 60_000 };
const AES_OPS = ["encrypt", "decrypt", "wrapKey", "unwrapKey"];
const uniqueName = (prefix) => `${prefix}-${randomBytes(6).toString("hex")}`;
const bytes = (u8) => Buffer.from(u8 ?? []);
const KW_IV = Buffer.from("A6A6A6A6A6A6A6A6", "hex"); // RFC 3394 default IV
const KWP_IV = Buffer.from("A65959A6", "hex"); // RFC 5649 alternative IV

// `await rejectsWith(promise, 400, "BadParameter")`, optionally with the inner error code.
async function rejectsWith(promise, status, code, inner) {
  await assert.rejects(promise, (err) => {
    const body = JSON.stringify(err.details ?? err.message);
    assert.equal(err.statusCode, status, `${err.name} ${err.statusCode}: ${body}`);
    if (code) assert.equal(err.code, code, body);
    if (inner) assert.equal(err.details?.error?.innerError?.code, inner, body);
    return true;
  });
}

function aesKeyWrap(cipher, key, data) {
  const c = createCipheriv(cipher, key, cipher.endsWith("-pad") ? KWP_IV : KW_IV);
  return Buffer.concat([c.update(data), c.final()]);
}

describe("symmetric keys with @azure/keyvault-keys", () => {
  const credential = new ManagedIdentityCredential();
  let client;
  let key256; // oct-HSM, 256 bits, AES operations
  let key128; // oct-HSM, 128 bits, AES operations

  before(async () => {
    assert.ok(process.env.AZURE_KEYVAULT_URL, "AZURE_KEYVAULT_URL is not set (run the tests through run.mjs)");
    client = new KeyClient(process.env.AZURE_KEYVAULT_URL, credential);
    key256 = await client.createOctKey(uniqueName("oct"), { hsm: true, keySize: 256, keyOps: AES_OPS });
    key128 = await client.createOctKey(uniqueName("oct"), { hsm: true, keySize: 128, keyOps: AES_OPS });
  }, TIMEOUT);

  for (const hsm of [false, true]) {
    test(`createOctKey with defaults (hsm ${hsm}) is a 256-bit key without material`, TIMEOUT, async () => {
      const name = uniqueName("oct");
      const key = await client.createOctKey(name, { hsm });
      assert.equal(key.name, name);
      assert.equal(key.keyType, hsm ? "oct-HSM" : "oct");
      assert.equal(key.key.k, undefined, "k must never be returned");
      for (const op of AES_OPS) {
        assert.ok(key.keyOperations?.includes(op),
          `default keyOperations ${JSON.stringify(key.keyOperations)} lack ${op}`);
      }
      const fetched = await client.getKey(name);
      assert.equal(fetched.keyType, key.keyType);
      assert.equal(fetched.key.k, undefined);

      const crypto = new CryptographyClient(key, credential);
      const encrypted = await crypto.encrypt({ algorithm: "A256GCM", plaintext: Buffer.from("default size") });
      assert.equal(bytes(encrypted.iv).length, 12);
      await rejectsWith(crypto.encrypt({ algorithm: "A128GCM", plaintext: Buffer.from("x") }), 400, "BadParameter");
    });
  }

  test("createOctKey keySize 128: A128 algorithms fit, A256 ones are 400", TIMEOUT, async () => {
    assert.equal(key128.keyType, "oct-HSM");
    const crypto = new CryptographyClient(key128, credential);
    const dataKey = randomBytes(16);
    const wrapped = await crypto.wrapKey("A128KW", dataKey);
    assert.equal(wrapped.result.length, 24);
    assert.deepEqual(bytes((await crypto.unwrapKey("A128KW", wrapped.result)).result), dataKey);
    await rejectsWith(crypto.wrapKey("A256KW", randomBytes(32)), 400, "BadParameter");
    await rejectsWith(crypto.encrypt({ algorithm: "A256GCM", plaintext: Buffer.from("x") }), 400, "BadParameter");
    await rejectsWith(crypto.encrypt({ algorithm: "A192CBCPAD", plaintext: Buffer.from("x"), iv: randomBytes(16) }),
      400, "BadParameter");
  });

  test("createOctKey with keySize 512 is refused", TIMEOUT, async () => {
    await assert.rejects(client.createOctKey(uniqueName("oct"), { hsm: true, keySize: 512 }),
      (err) => err.statusCode === 400);
  });

  test("encrypt/decrypt A256GCM with additional authenticated data", TIMEOUT, async () => {
    const crypto = new CryptographyClient(key256, credential);
    const plaintext = Buffer.concat([Buffer.from("gcm payload "), randomBytes(20)]);
    const aad = randomBytes(9);

    const encrypted = await crypto.encrypt({ algorithm: "A256GCM", plaintext, additionalAuthenticatedData: aad });
    assert.equal(encrypted.algorithm, "A256GCM");
    assert.equal(encrypted.keyID, key256.id);
    assert.equal(bytes(encrypted.iv).length, 12);
    assert.equal(bytes(encrypted.authenticationTag).length, 16);
    assert.equal(encrypted.result.length, plaintext.length);

    const decrypted = await crypto.decrypt({
      algorithm: "A256GCM", ciphertext: encrypted.result, iv: encrypted.iv,
      authenticationTag: encrypted.authenticationTag, additionalAuthenticatedData: aad,
    });
    assert.deepEqual(bytes(decrypted.result), plaintext);

    const badTag = bytes(encrypted.authenticationTag);
    badTag[0] ^= 1;
    await rejectsWith(crypto.decrypt({
      algorithm: "A256GCM", ciphertext: encrypted.result, iv: encrypted.iv,
      authenticationTag: badTag, additionalAuthenticatedData: aad,
    }), 400);
    await rejectsWith(crypto.decrypt({
      algorithm: "A256GCM", ciphertext: encrypted.result, iv: encrypted.iv,
      authenticationTag: encrypted.authenticationTag, additionalAuthenticatedData: Buffer.from("other"),
    }), 400);
  });

  test("encrypt/decrypt A128CBCPAD, with a caller iv and with a service-made iv", TIMEOUT, async () => {
    const crypto = new CryptographyClient(key128, credential);
    const plaintext = randomBytes(37);

    const iv = randomBytes(16);
    const encrypted = await crypto.encrypt({ algorithm: "A128CBCPAD", plaintext, iv });
    assert.equal(encrypted.result.length, 48);
    assert.deepEqual(bytes(encrypted.iv), iv);
    const decrypted = await crypto.decrypt({ algorithm: "A128CBCPAD", ciphertext: encrypted.result, iv });
    assert.deepEqual(bytes(decrypted.result), plaintext);

    // 4.10.2 does not fill in an iv for CBC itself, so this request carries none: the service makes one.
    const noIv = await crypto.encrypt({ algorithm: "A128CBCPAD", plaintext });
    assert.equal(bytes(noIv.iv).length, 16, "the service must return the iv it generated");
    const again = await crypto.decrypt({ algorithm: "A128CBCPAD", ciphertext: noIv.result, iv: noIv.iv });
    assert.deepEqual(bytes(again.result), plaintext);
  });

  test("encrypt A256CBC (no padding) needs whole blocks", TIMEOUT, async () => {
    const crypto = new CryptographyClient(key256, credential);
    const iv = randomBytes(16);
    const plaintext = randomBytes(32);
    const encrypted = await crypto.encrypt({ algorithm: "A256CBC", plaintext, iv });
    assert.equal(encrypted.result.length, 32);
    const decrypted = await crypto.decrypt({ algorithm: "A256CBC", ciphertext: encrypted.result, iv });
    assert.deepEqual(bytes(decrypted.result), plaintext);
    await rejectsWith(crypto.encrypt({ algorithm: "A256CBC", plaintext: randomBytes(17), iv }), 400, "BadParameter");
  });

  const WRAPS = [["A256KW", 32, 40], ["CKM_AES_KEY_WRAP", 32, 40], ["CKM_AES_KEY_WRAP_PAD", 20, 32]];
  for (const [algorithm, length, wrappedLength] of WRAPS) {
    test(`wrapKey/unwrapKey ${algorithm}`, TIMEOUT, async () => {
      const crypto = new CryptographyClient(key256, credential);
      const dataKey = randomBytes(length);
      const wrapped = await crypto.wrapKey(algorithm, dataKey);
      assert.equal(wrapped.algorithm, algorithm);
      assert.equal(wrapped.result.length, wrappedLength);
      const unwrapped = await crypto.unwrapKey(algorithm, wrapped.result);
      assert.deepEqual(bytes(unwrapped.result), dataKey);
      const damaged = bytes(wrapped.result);
      damaged[3] ^= 1;
      await rejectsWith(crypto.unwrapKey(algorithm, damaged), 400);
    });
  }

  test("CKM_AES_KEY_WRAP_PAD works with a 128-bit key too", TIMEOUT, async () => {
    const crypto = new CryptographyClient(key128, credential);
    const dataKey = randomBytes(33);
    const wrapped = await crypto.wrapKey("CKM_AES_KEY_WRAP_PAD", dataKey);
    assert.equal(wrapped.result.length, 48);
    assert.deepEqual(bytes((await crypto.unwrapKey("CKM_AES_KEY_WRAP_PAD", wrapped.result)).result), dataKey);
  });

  for (const [algorithm, hash] of [["HS256", "sha256"], ["HS384", "sha384"], ["HS512", "sha512"]]) {
    test(`sign/verify ${algorithm} on an oct key`, TIMEOUT, async () => {
      const key = await client.createOctKey(uniqueName("hmac"), { keySize: 256, keyOps: ["sign", "verify"] });
      const crypto = new CryptographyClient(key, credential);
      const digest = createHash(hash).update("message").digest();
      const signed = await crypto.sign(algorithm, digest);
      assert.equal(signed.result.length, digest.length);
      assert.equal((await crypto.verify(algorithm, digest, signed.result)).result, true);
      const tampered = bytes(signed.result);
      tampered[5] ^= 1;
      assert.equal((await crypto.verify(algorithm, digest, tampered)).result, false);
      await rejectsWith(crypto.sign(algorithm, randomBytes(digest.length + 1)), 400, "BadParameter");
    });
  }

  test("a disabled oct key refuses encrypt and unwrapKey with 403 KeyDisabled", TIMEOUT, async () => {
    const key = await client.createOctKey(uniqueName("oct"), { keySize: 256, keyOps: AES_OPS });
    const crypto = new CryptographyClient(key, credential);
    const dataKey = randomBytes(32);
    const wrapped = await crypto.wrapKey("A256KW", dataKey);
    await client.updateKeyProperties(key.name, { enabled: false });
    await rejectsWith(crypto.encrypt({ algorithm: "A256GCM", plaintext: Buffer.from("x") }),
      403, "Forbidden", "KeyDisabled");
    await rejectsWith(crypto.unwrapKey("A256KW", wrapped.result), 403, "Forbidden", "KeyDisabled");
    await client.updateKeyProperties(key.name, { enabled: true });
    assert.deepEqual(bytes((await crypto.unwrapKey("A256KW", wrapped.result)).result), dataKey);
  });

  test("importKey of an oct key: the service agrees with node:crypto", TIMEOUT, async () => {
    const k = randomBytes(32);
    const key = await client.importKey(uniqueName("byok"), {
      kty: "oct", k, keyOps: [...AES_OPS, "sign", "verify"],
    }, { hardwareProtected: true });
    assert.equal(key.keyType, "oct-HSM");
    assert.equal(key.key.k, undefined);
    const crypto = new CryptographyClient(key, credential);
    const plaintext = Buffer.from("interop with node:crypto");
    const aad = Buffer.from("aad");

    // AES-GCM: service -> node
    const encrypted = await crypto.encrypt({ algorithm: "A256GCM", plaintext, additionalAuthenticatedData: aad });
    const decipher = createDecipheriv("aes-256-gcm", k, encrypted.iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(encrypted.authenticationTag);
    assert.deepEqual(Buffer.concat([decipher.update(encrypted.result), decipher.final()]), plaintext);
    // AES-GCM: node -> service
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", k, nonce);
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const decrypted = await crypto.decrypt({
      algorithm: "A256GCM", ciphertext: sealed, iv: nonce,
      authenticationTag: cipher.getAuthTag(), additionalAuthenticatedData: aad,
    });
    assert.deepEqual(bytes(decrypted.result), plaintext);

    // AES-CBC with PKCS#7: deterministic, so byte-for-byte equal
    const iv = randomBytes(16);
    const cbc = createCipheriv("aes-256-cbc", k, iv);
    const expected = Buffer.concat([cbc.update(plaintext), cbc.final()]);
    assert.deepEqual(bytes((await crypto.encrypt({ algorithm: "A256CBCPAD", plaintext, iv })).result), expected);
    const cbcBack = await crypto.decrypt({ algorithm: "A256CBCPAD", ciphertext: expected, iv });
    assert.deepEqual(bytes(cbcBack.result), plaintext);

    // AES key wrap (RFC 3394, RFC 5649): deterministic too
    const dataKey = randomBytes(32);
    assert.deepEqual(bytes((await crypto.wrapKey("A256KW", dataKey)).result), aesKeyWrap("id-aes256-wrap", k, dataKey));
    const kwBack = await crypto.unwrapKey("A256KW", aesKeyWrap("id-aes256-wrap", k, dataKey));
    assert.deepEqual(bytes(kwBack.result), dataKey);
    const oddKey = randomBytes(21);
    assert.deepEqual(bytes((await crypto.wrapKey("CKM_AES_KEY_WRAP_PAD", oddKey)).result),
      aesKeyWrap("id-aes256-wrap-pad", k, oddKey));
    const kwpBack = await crypto.unwrapKey("CKM_AES_KEY_WRAP_PAD", aesKeyWrap("id-aes256-wrap-pad", k, oddKey));
    assert.deepEqual(bytes(kwpBack.result), oddKey);

    // HMAC
    const digest = createHash("sha256").update("mac me").digest();
    const mac = createHmac("sha256", k).update(digest).digest();
    assert.deepEqual(bytes((await crypto.sign("HS256", digest)).result), mac);
    assert.equal((await crypto.verify("HS256", digest, mac)).result, true);
  });

  test("RSNULL: PKCS#1 v1.5 over the raw value, recovered by node:crypto", TIMEOUT, async () => {
    const key = await client.createRsaKey(uniqueName("rsnull"), { keySize: 2048 });
    const crypto = new CryptographyClient(key, credential);
    const value = randomBytes(36);
    const signed = await crypto.sign("RSNULL", value);
    assert.equal(signed.result.length, 256);
    const publicKey = createPublicKey({
      key: { kty: "RSA", n: bytes(key.key.n).toString("base64url"), e: bytes(key.key.e).toString("base64url") },
      format: "jwk",
    });
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signed.result);
    assert.deepEqual(recovered, value);
    assert.equal((await crypto.verify("RSNULL", value, signed.result)).result, true);
    const tampered = bytes(signed.result);
    tampered[9] ^= 1;
    assert.equal((await crypto.verify("RSNULL", value, tampered)).result, false);
  });

  test("getRandomBytes: 1 and 128 bytes; 0 and 129 are 400 BadParameter", TIMEOUT, async () => {
    assert.equal((await client.getRandomBytes(1)).length, 1);
    const a = await client.getRandomBytes(128);
    const b = await client.getRandomBytes(128);
    assert.ok(a instanceof Uint8Array);
    assert.equal(a.length, 128);
    assert.notDeepEqual(bytes(a), bytes(b));
    await rejectsWith(client.getRandomBytes(0), 400, "BadParameter");
    await rejectsWith(client.getRandomBytes(129), 400, "BadParameter");
  });
});
