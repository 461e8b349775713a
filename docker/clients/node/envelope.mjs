// Envelope encryption of a file with a key in (emulated) Azure Key Vault, and revocation of that
// key, with the official Azure SDK for JavaScript.
//
// 1. a fresh 256-bit data key encrypts the file locally (AES-256-GCM);
// 2. the vault key wraps the data key (RSA-OAEP-256); the envelope (key id, wrapped key, nonce,
//    ciphertext) is written as JSON and the plaintext data key is dropped;
// 3. later, from the envelope file alone, the vault unwraps the data key, which decrypts the file,
//    and the result is compared with the original;
// 4. revocation (when admin credentials are given): the key is disabled through the API, the next
//    unwrap fails with 403, the key is enabled again and unwrap works again.
//
// Configured only by environment variables, the same inside the compose environment
// (docker/docker-compose.yml) and against an emulator on the host:
//
//   AZURE_KEYVAULT_URL    the vault, e.g. https://cmk.vault.localhost:8443
//   KEY_NAME              the vault key that wraps data keys, e.g. datafactory-cmk
//   IDENTITY_ENDPOINT     managed identity (App Service protocol), e.g. http://kvemu:8080/msi/token
//   IDENTITY_HEADER       selects the system-assigned identity, e.g. datafactory-identity-secret
//   NODE_EXTRA_CA_CERTS   the emulator's CA certificate, e.g. /ca/ca.pem (read when node starts)
//   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST
//                         optional: a service principal allowed to update the key (the emulator's
//                         `admin`), for step 4; without them step 4 is skipped
//   INPUT_FILE            optional: the file to protect (default: sample.txt beside this script)
//   ENVELOPE_FILE         optional: where to write the envelope (default: a temporary file)
//
// The envelope format is the one of ../python/envelope.py. Exits 0 when every step did what it
// should, 1 otherwise.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { ClientSecretCredential, ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const WRAP_ALGORITHM = "RSA-OAEP-256";
const ENVELOPE_VERSION = 1;
const TAG_BYTES = 16;

const step = (message) => console.log(`[node-client] ${message}`);

function fail(message) {
  console.error(`[node-client] FAILED: ${message}`);
  process.exit(1);
}

function env(name, { required = true } = {}) {
  const value = (process.env[name] ?? "").trim();
  if (!value && required) fail(`environment variable ${name} is not set`);
  return value;
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
// Binds the ciphertext to the key id recorded in the envelope: editing `kid` breaks decryption.
const aadFor = (keyId) => Buffer.from(`keyvault-emulator-envelope-v${ENVELOPE_VERSION}:${keyId}`);

async function seal(credential, vaultUrl, keyName, plaintext, source) {
  const key = await new KeyClient(vaultUrl, credential).getKey(keyName);
  step(`vault key: ${key.id} (${key.keyType}, ${key.key.n.length * 8} bits)`);

  const dataKey = randomBytes(32);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", dataKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadFor(key.id));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  step(`encrypted ${plaintext.length} bytes with a fresh 256-bit data key (AES-256-GCM)`);

  const wrapped = await new CryptographyClient(key, credential).wrapKey(WRAP_ALGORITHM, dataKey);
  dataKey.fill(0);
  step(`wrapped the data key with ${wrapped.algorithm}: ${wrapped.result.length} bytes`);
  return {
    version: ENVELOPE_VERSION,
    source,
    kid: wrapped.keyID ?? key.id,
    alg: WRAP_ALGORITHM,
    wrapped_key: Buffer.from(wrapped.result).toString("base64"),
    enc: "A256GCM",
    nonce: nonce.toString("base64"),
    ciphertext: ciphertext.toString("base64"),
    plaintext_sha256: sha256(plaintext),
  };
}

async function unwrap(credential, envelope) {
  const crypto = new CryptographyClient(envelope.kid, credential);
  const { result } = await crypto.unwrapKey(envelope.alg, Buffer.from(envelope.wrapped_key, "base64"));
  step(`unwrapped the data key with ${envelope.kid}`);
  return Buffer.from(result);
}

function decrypt(dataKey, envelope) {
  const sealed = Buffer.from(envelope.ciphertext, "base64");
  const decipher = createDecipheriv("aes-256-gcm", dataKey, Buffer.from(envelope.nonce, "base64"), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(aadFor(envelope.kid));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const plaintext = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  step(`decrypted ${plaintext.length} bytes`);
  return plaintext;
}

function verify(recovered, original, envelope, inputFile) {
  if (!recovered.equals(original) || sha256(recovered) !== envelope.plaintext_sha256) {
    fail("the decrypted file differs from the original");
  }
  step(`OK: the decrypted file equals ${inputFile} (sha256 ${envelope.plaintext_sha256.slice(0, 16)}...)`);
}

// The key's version from a key id https://{vault}/keys/{name}/{version}.
const versionOf = (kid) => new URL(kid).pathname.split("/").filter(Boolean)[2];

async function revocation(credential, vaultUrl, keyName, envelope, original, inputFile) {
  const tenantId = env("AZURE_TENANT_ID", { required: false });
  const clientId = env("AZURE_CLIENT_ID", { required: false });
  const clientSecret = env("AZURE_CLIENT_SECRET", { required: false });
  if (!tenantId || !clientId || !clientSecret) {
    step("revocation: skipped (set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to run it)");
    return;
  }
  const authorityHost = env("AZURE_AUTHORITY_HOST", { required: false }) || undefined;
  // The emulator is the authority: no instance discovery at login.microsoftonline.com.
  const admin = new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
  });
  const adminKeys = new KeyClient(vaultUrl, admin);
  const version = versionOf(envelope.kid);

  step(`revocation: disabling ${keyName} (version ${version}) as service principal ${clientId}`);
  const disabled = await adminKeys.updateKeyProperties(keyName, version, { enabled: false });
  if (disabled.properties.enabled !== false) fail(`the key is still enabled: ${JSON.stringify(disabled.properties)}`);
  step("revocation: key disabled");
  try {
    let refused;
    try {
      await unwrap(credential, envelope);
    } catch (err) {
      refused = err;
    }
    if (!refused) fail("unwrap succeeded with the key disabled");
    const inner = refused.details?.error?.innerError?.code; // the body's error.innererror.code
    step(
      `revocation: unwrap refused as expected: HTTP ${refused.statusCode}, code ${refused.code}` +
        (inner ? `, inner code ${inner}` : "") +
        (refused.details?.error?.message ? ` (${refused.details.error.message})` : ""),
    );
    if (refused.statusCode !== 403) fail(`expected HTTP 403, got ${refused.statusCode}: ${refused.message}`);
  } finally {
    await adminKeys.updateKeyProperties(keyName, version, { enabled: true });
    step("revocation: key enabled again");
  }
  verify(decrypt(await unwrap(credential, envelope), envelope), original, envelope, inputFile);
  step("revocation: unwrap works again after re-enabling");
}

async function main() {
  const vaultUrl = env("AZURE_KEYVAULT_URL");
  const keyName = env("KEY_NAME");
  env("IDENTITY_ENDPOINT");
  env("IDENTITY_HEADER");
  const here = path.dirname(fileURLToPath(import.meta.url));
  const inputFile = env("INPUT_FILE", { required: false }) || path.join(here, "sample.txt");
  const envelopeFile =
    env("ENVELOPE_FILE", { required: false }) ||
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "envelope-")), "envelope.json");
  step(`vault ${vaultUrl}, key ${keyName}, identity endpoint ${process.env.IDENTITY_ENDPOINT}`);

  const original = fs.readFileSync(inputFile);
  step(`read ${inputFile} (${original.length} bytes)`);

  // ManagedIdentityCredential reads IDENTITY_ENDPOINT and IDENTITY_HEADER.
  const credential = new ManagedIdentityCredential();
  const sealed = await seal(credential, vaultUrl, keyName, original, inputFile);
  fs.writeFileSync(envelopeFile, JSON.stringify(sealed, null, 2) + "\n");
  step(`wrote the envelope to ${envelopeFile}`);

  // Later: nothing but the envelope and the vault.
  const envelope = JSON.parse(fs.readFileSync(envelopeFile, "utf8"));
  step(`read the envelope back (kid ${envelope.kid})`);
  verify(decrypt(await unwrap(credential, envelope), envelope), original, envelope, inputFile);

  await revocation(credential, vaultUrl, keyName, envelope, original, inputFile);
  step("done");
}

main().catch((err) => {
  fail(`${err.name}: ${err.message}${err.statusCode ? ` (HTTP ${err.statusCode}, code ${err.code})` : ""}`);
});
