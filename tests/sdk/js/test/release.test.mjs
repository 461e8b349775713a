// Secure key release and key attestation through the official JS SDK (@azure/keyvault-keys 4.10.2),
// default client settings.
//
// The emulator is its own attestation authority at `${AZURE_KEYVAULT_URL}/attestation`: OpenID
// metadata, a JWKS at /certs, and /generate-test-token. A release policy names that URL as its
// `authority`. `POST /attestation/generate-test-token {"claims", "runtimeKeys"}` mints a target
// token carrying our own RSA public key in `x-ms-runtime.keys`, so node:crypto can open `key_hsm`
// the way a TEE would: RSA-OAEP (SHA-1 for CKM_RSA_AES_KEY_WRAP, SHA-256/384 for
// RSA_AES_KEY_WRAP_256/384) gives the AES transport key, then RFC 5649 key unwrap
// (OpenSSL's id-aes256-wrap-pad) gives the key material: PKCS#8 DER for RSA and EC, raw bytes for oct.
// `GET /attestation/generate-test-token` is the SDKs' mock attestation service (the flow of the
// SDK's own live test: a value comes back; the wrapping key stays with the emulator).
//
// The attestation endpoints need no authentication; node:https reaches them, trusting the
// emulator's CA through NODE_EXTRA_CA_CERTS like the SDK does.
import assert from "node:assert/strict";
import {
  constants,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
  sign as signData,
  verify as verifyData,
} from "node:crypto";
import https from "node:https";
import { before, describe, test } from "node:test";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const vaultUrl = process.env.AZURE_KEYVAULT_URL;
const authority = `${vaultUrl}/attestation`;
const TIMEOUT = { timeout: 60_000 };
const DEFAULT_CONTENT_TYPE = "application/json; charset=utf-8";
const OAEP_HASH = { CKM_RSA_AES_KEY_WRAP: "sha1", RSA_AES_KEY_WRAP_256: "sha256", RSA_AES_KEY_WRAP_384: "sha384" };
const KWP_IV = Buffer.from("A65959A6", "hex"); // RFC 5649 alternative initial value

const uniqueName = (prefix = "skr") => `${prefix}-${randomBytes(6).toString("hex")}`;
const bytes = (u8) => Buffer.from(u8 ?? []);
const b64url = (u8) => bytes(u8).toString("base64url");
const jsonPart = (text) => JSON.parse(Buffer.from(text, "base64url").toString("utf8"));

// `await rejectsWith(promise, 400, "BadParameter", message?)`
async function rejectsWith(promise, status, code, message) {
  await assert.rejects(promise, (err) => {
    const body = JSON.stringify(err.details ?? err.message);
    assert.equal(err.statusCode, status, `${err.name} ${err.statusCode}: ${body}`);
    if (code) assert.equal(err.code, code, body);
    if (message) assert.equal(err.details?.error?.message, message, body);
    return true;
  });
}

// A JSON request to the attestation authority (no credential needed).
function call(method, url, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = payload ? { "content-type": "application/json", "content-length": payload.length } : {};
    const request = https.request(url, { method, headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (response.statusCode !== 200) reject(new Error(`${method} ${url}: ${response.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    request.on("error", reject);
    request.end(payload);
  });
}

async function mint(claims, ...runtimeKeys) {
  const body = runtimeKeys.length ? { claims, runtimeKeys } : { claims };
  return (await call("POST", `${authority}/generate-test-token`, body)).token;
}

// The policy as the SDK's live test writes it (member order not canonical).
function releasePolicy(conditions = [{ claim: "sdk-test", equals: "true" }], extra = {}, issuer = authority) {
  const document = { anyOf: [{ allOf: conditions, authority: issuer }], version: "1.0.0" };
  return { encodedPolicy: Buffer.from(JSON.stringify(document)), ...extra };
}

const canonical = (claim = "sdk-test", equals = "true") =>
  JSON.stringify({ version: "1.0.0", anyOf: [{ authority, allOf: [{ claim, equals }] }] });

// The caller's RSA transfer key: public half into the token, private half to unwrap the release.
function transferKey(modulusLength = 2048, kid = "HCLTransferKey") {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength });
  const { kty, n, e } = publicKey.export({ format: "jwk" });
  return { privateKey, modulusBytes: modulusLength / 8, kid, jwk: { kty, kid, key_ops: ["encrypt"], n, e } };
}

function unwrapKeyHsm(transfer, keyHsm, enc) {
  const envelope = jsonPart(keyHsm);
  assert.equal(envelope.schema_version, "1.0");
  assert.deepEqual(envelope.header, { kid: transfer.kid, alg: "dir", enc });
  const ciphertext = Buffer.from(envelope.ciphertext, "base64url");
  const rsaPart = ciphertext.subarray(0, transfer.modulusBytes);
  const kwpPart = ciphertext.subarray(transfer.modulusBytes);
  const transport = privateDecrypt(
    { key: transfer.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] }, rsaPart);
  assert.equal(transport.length, 32, "an AES-256 transport key");
  const decipher = createDecipheriv("id-aes256-wrap-pad", transport, KWP_IV);
  return Buffer.concat([decipher.update(kwpPart), decipher.final()]);
}

// Verifies the release JWS (RS256) with the authority's published keys; returns its payload.
async function verifyRelease(jws) {
  const [headerB64, payloadB64, signatureB64] = jws.split(".");
  const header = jsonPart(headerB64);
  assert.equal(header.alg, "RS256");
  const metadata = await call("GET", `${authority}/.well-known/openid-configuration`);
  assert.equal(metadata.issuer, authority);
  const { keys } = await call("GET", metadata.jwks_uri);
  const jwk = keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in ${metadata.jwks_uri}`);
  const ok = verifyData("sha256", Buffer.from(`${headerB64}.${payloadB64}`),
    createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: "jwk" }),
    Buffer.from(signatureB64, "base64url"));
  assert.ok(ok, "the release JWS does not verify with the authority's key");
  return jsonPart(payloadB64);
}

// The common parts of a release payload; returns the released JWK (with key_hsm).
function checkPayload(payload, key, { enc, requestedKid, nonce }) {
  assert.equal(payload.request.enc, enc);
  assert.equal(payload.request.kid, requestedKid);
  assert.equal(payload.request.nonce, nonce);
  const bundle = payload.response.key;
  assert.equal(bundle.key.kid, key.id);
  assert.equal(bundle.key.kty, key.keyType);
  for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) {
    assert.equal(bundle.key[member], undefined, `the released JWK shows '${member}' in clear`);
  }
  assert.equal(bundle.attributes.exportable, true);
  assert.equal(Buffer.from(bundle.release_policy.data, "base64url").toString("utf8"), canonical());
  assert.ok(bundle.key.key_hsm, "no key_hsm");
  return bundle.key;
}

describe("secure key release with @azure/keyvault-keys", () => {
  const credential = new ManagedIdentityCredential();
  let client;
  let rsaKey; // exportable RSA-HSM 2048 with the sdk-test policy

  before(async () => {
    assert.ok(vaultUrl, "AZURE_KEYVAULT_URL is not set (run the tests through run.mjs)");
    client = new KeyClient(vaultUrl, credential);
    rsaKey = await client.createRsaKey(uniqueName(), {
      hsm: true, keySize: 2048, exportable: true, releasePolicy: releasePolicy(),
    });
  }, TIMEOUT);

  test("createRsaKey with exportable and releasePolicy: the policy comes back canonical", TIMEOUT, async () => {
    assert.equal(rsaKey.keyType, "RSA-HSM");
    assert.equal(rsaKey.properties.exportable, true);
    const policy = rsaKey.properties.releasePolicy;
    assert.equal(policy.contentType, DEFAULT_CONTENT_TYPE);
    assert.equal(policy.immutable, false);
    assert.equal(bytes(policy.encodedPolicy).toString("utf8"), canonical());
    const fetched = await client.getKey(rsaKey.name);
    assert.equal(fetched.properties.exportable, true);
    assert.equal(bytes(fetched.properties.releasePolicy.encodedPolicy).toString("utf8"), canonical());
  });

  for (const [algorithm, size] of [[undefined, 2048], ["CKM_RSA_AES_KEY_WRAP", 3072],
    ["RSA_AES_KEY_WRAP_256", 2048], ["RSA_AES_KEY_WRAP_384", 4096]]) {
    test(`releaseKey (${algorithm ?? "default algorithm"}) and unwrap with node:crypto`, TIMEOUT, async () => {
      const transfer = transferKey(size);
      const token = await mint({ "sdk-test": true }, transfer.jwk);
      const nonce = randomBytes(8).toString("hex");
      const result = await client.releaseKey(rsaKey.name, token, { algorithm, nonce });
      assert.equal(typeof result.value, "string");

      const enc = algorithm ?? "CKM_RSA_AES_KEY_WRAP";
      const payload = await verifyRelease(result.value);
      const jwk = checkPayload(payload, rsaKey, { enc, requestedKid: `${vaultUrl}/keys/${rsaKey.name}`, nonce });
      assert.equal(jwk.n, b64url(rsaKey.key.n));

      const material = unwrapKeyHsm(transfer, jwk.key_hsm, enc);
      const privateKey = createPrivateKey({ key: material, format: "der", type: "pkcs8" });
      const released = privateKey.export({ format: "jwk" });
      assert.equal(released.kty, "RSA");
      assert.equal(released.n, b64url(rsaKey.key.n), "the released private key is not the vault key");
      assert.equal(released.e, b64url(rsaKey.key.e));

      // Signed with the released key, verified by the vault (verify of a digest is a service call).
      const message = Buffer.concat([Buffer.from("released to an attested TEE "), randomBytes(8)]);
      const signature = signData("sha256", message, privateKey);
      const digest = createHash("sha256").update(message).digest();
      const crypto = new CryptographyClient(rsaKey, credential);
      assert.equal((await crypto.verify("RS256", digest, signature)).result, true);
      const otherDigest = createHash("sha256").update("another message").digest();
      assert.equal((await crypto.verify("RS256", otherDigest, signature)).result, false);
    });
  }

  test("releaseKey of a specific version", TIMEOUT, async () => {
    const second = await client.createRsaKey(uniqueName(), {
      hsm: true, keySize: 2048, exportable: true, releasePolicy: releasePolicy(),
    });
    const newer = await client.createRsaKey(second.name, { hsm: true, keySize: 2048, exportable: true });
    assert.equal(bytes(newer.properties.releasePolicy?.encodedPolicy).toString("utf8"), canonical(),
      "a new version inherits the release policy");
    const transfer = transferKey();
    const token = await mint({ "sdk-test": true }, transfer.jwk);
    const enc = "RSA_AES_KEY_WRAP_256";
    const result = await client.releaseKey(second.name, token, { version: second.properties.version, algorithm: enc });
    const payload = await verifyRelease(result.value);
    const jwk = checkPayload(payload, second,
      { enc, requestedKid: `${vaultUrl}/keys/${second.name}/${second.properties.version}` });
    const released = createPrivateKey({ key: unwrapKeyHsm(transfer, jwk.key_hsm, enc), format: "der", type: "pkcs8" });
    assert.equal(released.export({ format: "jwk" }).n, b64url(second.key.n));
    assert.notEqual(b64url(second.key.n), b64url(newer.key.n));
  });

  test("releaseKey of an EC-HSM key gives PKCS#8", TIMEOUT, async () => {
    const key = await client.createEcKey(uniqueName(), {
      hsm: true, curve: "P-384", exportable: true, releasePolicy: releasePolicy(),
    });
    const transfer = transferKey();
    const enc = "RSA_AES_KEY_WRAP_384";
    const token = await mint({ "sdk-test": true }, transfer.jwk);
    const result = await client.releaseKey(key.name, token, { algorithm: enc });
    const requestedKid = `${vaultUrl}/keys/${key.name}`;
    const jwk = checkPayload(await verifyRelease(result.value), key, { enc, requestedKid });
    const material = unwrapKeyHsm(transfer, jwk.key_hsm, enc);
    const privateKey = createPrivateKey({ key: material, format: "der", type: "pkcs8" });
    const released = privateKey.export({ format: "jwk" });
    assert.deepEqual([released.kty, released.crv, released.x, released.y],
      ["EC", "P-384", b64url(key.key.x), b64url(key.key.y)]);

    const message = Buffer.from("signed by the released EC key");
    const signature = signData("sha384", message, { key: privateKey, dsaEncoding: "ieee-p1363" });
    const digest = createHash("sha384").update(message).digest();
    const crypto = new CryptographyClient(key, credential);
    assert.equal((await crypto.verify("ES384", digest, signature)).result, true);
  });

  test("releaseKey of an oct-HSM key gives its 32 raw bytes", TIMEOUT, async () => {
    const key = await client.createOctKey(uniqueName(), {
      hsm: true, keySize: 256, exportable: true, releasePolicy: releasePolicy(),
    });
    assert.equal(key.keyType, "oct-HSM");
    const transfer = transferKey();
    const result = await client.releaseKey(key.name, await mint({ "sdk-test": true }, transfer.jwk));
    const jwk = checkPayload(await verifyRelease(result.value), key,
      { enc: "CKM_RSA_AES_KEY_WRAP", requestedKid: `${vaultUrl}/keys/${key.name}` });
    const k = unwrapKeyHsm(transfer, jwk.key_hsm, "CKM_RSA_AES_KEY_WRAP");
    assert.equal(k.length, 32);

    // What the vault seals with A256GCM opens with the released bytes.
    const sealed = await new CryptographyClient(key, credential).encrypt({
      algorithm: "A256GCM", plaintext: Buffer.from("sealed by the vault"),
    });
    const decipher = createDecipheriv("aes-256-gcm", k, sealed.iv);
    decipher.setAuthTag(sealed.authenticationTag);
    assert.equal(Buffer.concat([decipher.update(sealed.result), decipher.final()]).toString(), "sealed by the vault");
  });

  test("the SDK live-test flow: GET generate-test-token, then releaseKey", TIMEOUT, async () => {
    const { token } = await call("GET", `${authority}/generate-test-token`);
    const claims = jsonPart(token.split(".")[1]);
    assert.equal(claims.iss, authority);
    assert.equal(claims["sdk-test"], true);
    assert.equal(claims["x-ms-runtime"].keys[0].kid, "fake-release-key");

    // As the SDK test does: policy authority = ATTESTATION_URI (here with a trailing slash).
    const key = await client.createRsaKey(uniqueName(), {
      hsm: true, exportable: true, releasePolicy: releasePolicy(undefined, {}, `${authority}/`),
    });
    assert.ok(JSON.parse(bytes(key.properties.releasePolicy.encodedPolicy).toString("utf8")));
    const result = await client.releaseKey(key.name, token);
    assert.ok(result.value);
    const payload = await verifyRelease(result.value);
    const envelope = jsonPart(payload.response.key.key.key_hsm);
    assert.equal(envelope.header.kid, "fake-release-key");
  });

  test("releaseKey with a token that does not satisfy the policy is 403", TIMEOUT, async () => {
    const transfer = transferKey();
    for (const claims of [{ "sdk-test": false }, {}]) {
      await rejectsWith(client.releaseKey(rsaKey.name, await mint(claims, transfer.jwk)), 403);
    }
    const elsewhere = await client.createRsaKey(uniqueName(), {
      hsm: true, exportable: true,
      releasePolicy: releasePolicy(undefined, {}, "https://sharedeus.eus.attest.azure.net"),
    });
    await rejectsWith(client.releaseKey(elsewhere.name, await mint({ "sdk-test": true }, transfer.jwk)), 403);
  });

  test("exportable without a release policy is 400 AKV.SKR.1004", TIMEOUT, async () => {
    await rejectsWith(client.createRsaKey(uniqueName(), { hsm: true, exportable: true }),
      400, "BadParameter", "AKV.SKR.1004: Exportable keys must have release policy.");
    await rejectsWith(client.createRsaKey(uniqueName(), { hsm: true, releasePolicy: releasePolicy() }),
      400, "BadParameter", "AKV.SKR.1005: Non-exportable keys must not have release policy.");
  });

  test("an immutable release policy cannot be modified (AKV.SKR.1020)", TIMEOUT, async () => {
    const key = await client.createRsaKey(uniqueName(), {
      hsm: true, exportable: true, releasePolicy: releasePolicy(undefined, { immutable: true }),
    });
    assert.equal(key.properties.releasePolicy.immutable, true);
    await rejectsWith(client.updateKeyProperties(key.name, {
      releasePolicy: releasePolicy([{ claim: "sdk-test", equals: "false" }], { immutable: true }),
    }), 400, "BadParameter", "AKV.SKR.1020: Immutable Key Release Policy cannot be modified.");
    const updated = await client.updateKeyProperties(key.name, { tags: { owner: "skr" } });
    assert.deepEqual(updated.properties.tags, { owner: "skr" });
    assert.equal(bytes(updated.properties.releasePolicy.encodedPolicy).toString("utf8"), canonical());
  });

  test("a mutable release policy can be replaced", TIMEOUT, async () => {
    const key = await client.createOctKey(uniqueName(), {
      hsm: true, exportable: true, releasePolicy: releasePolicy(),
    });
    const updated = await client.updateKeyProperties(key.name, {
      releasePolicy: releasePolicy([{ claim: "stage", equals: "prod" }]),
    });
    assert.equal(bytes(updated.properties.releasePolicy.encodedPolicy).toString("utf8"), canonical("stage", "prod"));
    const transfer = transferKey();
    assert.ok((await client.releaseKey(key.name, await mint({ stage: "prod" }, transfer.jwk))).value);
    await rejectsWith(client.releaseKey(key.name, await mint({ "sdk-test": true }, transfer.jwk)), 403);
  });

  test("releaseKey of a non-exportable key, or with a bad target, is 400", TIMEOUT, async () => {
    const plain = await client.createRsaKey(uniqueName(), { hsm: true });
    const token = await mint({ "sdk-test": true }, transferKey().jwk);
    await rejectsWith(client.releaseKey(plain.name, token), 400, "BadParameter");
    await rejectsWith(client.releaseKey(rsaKey.name, "not-a-token"), 400);
    await rejectsWith(client.releaseKey(rsaKey.name, await mint({ "sdk-test": true })), 400);
    await rejectsWith(client.releaseKey(rsaKey.name, token, { algorithm: "A256KW" }), 400, "BadParameter");
  });

  test("getKeyAttestation returns the key without an attestation (software vault)", TIMEOUT, async () => {
    const latest = await client.getKeyAttestation(rsaKey.name);
    assert.equal(latest.id, rsaKey.id);
    assert.equal(latest.keyType, "RSA-HSM");
    assert.equal(b64url(latest.key.n), b64url(rsaKey.key.n));
    assert.equal(latest.properties.exportable, true);
    assert.equal(latest.properties.attestation, undefined);
    const versioned = await client.getKeyAttestation(rsaKey.name, { version: rsaKey.properties.version });
    assert.equal(versioned.id, rsaKey.id);
    assert.equal(versioned.properties.attestation, undefined);
    await rejectsWith(client.getKeyAttestation(uniqueName("missing")), 404, "KeyNotFound");
  });
});
