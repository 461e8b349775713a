// KeyVaultEmulatorContainer against the image the Docker suite built ($KVEMU_IMAGE): a CMK
// wrap/unwrap through @azure/keyvault-keys with the module's credential and CA options, on random
// host ports (the key id and the challenge follow the mapped port). `*.vault.localhost` is mapped
// to 127.0.0.1 by tests/sdk/js/resolve-localhost.mjs (node --import) where the resolver does not.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request } from "node:https";
import { after, before, test } from "node:test";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";
import { KeyVaultEmulatorContainer } from "../index.mjs";

const IMAGE = process.env.KVEMU_IMAGE ?? "keyvault-emulator:latest";
let kv;

before(async () => {
  kv = await new KeyVaultEmulatorContainer(IMAGE).start();
});

after(async () => {
  await kv?.stop();
});

test("ports are random and on loopback", () => {
  assert.notEqual(kv.httpsPort(), 8443);
  const bindings = execFileSync("docker", ["port", kv.getId()], { encoding: "utf8" }).trim().split("\n");
  assert.equal(bindings.length, 2, bindings.join("; "));
  for (const line of bindings) assert.match(line, /-> 127\.0\.0\.1:\d+$/);
});

test("CMK wrap/unwrap with the admin credential; the key id names the mapped port", async () => {
  const credential = kv.credential();
  const client = new KeyClient(kv.vaultUrl("default"), credential, kv.clientOptions());
  const name = `cmk-${randomBytes(4).toString("hex")}`;
  const key = await client.createRsaKey(name, { keySize: 2048 });
  assert.ok(key.id.startsWith(`https://default.vault.localhost:${kv.httpsPort()}/keys/${name}/`), key.id);
  const crypto = new CryptographyClient(key, credential, kv.clientOptions());
  const dataKey = randomBytes(32);
  const wrapped = await crypto.wrapKey("RSA-OAEP-256", dataKey);
  const unwrapped = await crypto.unwrapKey("RSA-OAEP-256", wrapped.result);
  assert.deepEqual(Buffer.from(unwrapped.result), dataKey);
});

test("the challenge resource follows the mapped port", async () => {
  const port = kv.httpsPort();
  const challenge = await new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        servername: "default.vault.localhost",
        path: "/keys?api-version=7.6",
        headers: { Host: `default.vault.localhost:${port}` },
        ca: kv.caPem(),
      },
      (res) => {
        res.resume();
        resolve([res.statusCode, res.headers["www-authenticate"]]);
      },
    );
    req.on("error", reject);
    req.end();
  });
  assert.equal(challenge[0], 401);
  assert.match(challenge[1], new RegExp(`resource="https://vault\\.localhost:${port}"`));
});

test("sdkEnv names this container's endpoints and CA", () => {
  const env = kv.sdkEnv("default");
  assert.equal(env.AZURE_KEYVAULT_URL, kv.vaultUrl("default"));
  assert.equal(env.IDENTITY_ENDPOINT, `${kv.controlUrl()}/msi/token`);
  assert.match(env.AZURE_TENANT_ID, /^[0-9a-f-]{36}$/);
  assert.equal(env.NODE_EXTRA_CA_CERTS, kv.caFile());
});
