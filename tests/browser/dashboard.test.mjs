// The dashboard in a real browser: Debian's chromium, driven by playwright-core, against the
// emulator binary ($KVEMU_BIN) started with tests/sdk/kvemu.toml. A service's CMK flow runs
// beside it with the official Python SDK (tests/browser/cmk_flow.py, as identity "storage").
// Screenshots go to $KVEMU_ARTIFACTS (default target/browser-artifacts), never into git.
//
//   node --test tests/browser/dashboard.test.mjs   (tests/sdk/run.sh suite `browser` sets it up)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const BIN = process.env.KVEMU_BIN || join(REPO, "target/debug/keyvault-emulator");
const CHROMIUM = process.env.KVEMU_CHROMIUM || "/usr/bin/chromium";
const PYTHON = process.env.KVEMU_PYTHON || join(REPO, "tests/sdk/python/.venv/bin/python");
const ARTIFACTS = resolve(process.env.KVEMU_ARTIFACTS || join(REPO, "target/browser-artifacts"));
const STORAGE_HEADER = "storage-secret"; // tests/sdk/kvemu.toml: the "storage" identity
const KEY = "storage-cmk";
const run = promisify(execFile);

let emulator, env, dashboard, browser, page, dataDir;

function startEmulator() {
  dataDir = mkdtempSync(join(tmpdir(), "kvemu-browser-"));
  const childEnv = { ...process.env, KVEMU_CONFIG: join(REPO, "tests/sdk/kvemu.toml") };
  delete childEnv.KVEMU_VAULTS;
  const child = spawn(BIN, ["--data-dir", join(dataDir, "data"), "--https-port", "0", "--http-port", "0", "--hsm", "pagehsm"], {
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr = (stderr + chunk).slice(-8000); });
  return new Promise((resolveStart, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no 'ready' within 30 s:\n${out}\n${stderr}`)), 30000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (!/^ready$/m.test(out)) return;
      clearTimeout(timer);
      const exports = {};
      for (const [, name, value] of out.matchAll(/^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) exports[name] = value;
      const url = out.match(/^Dashboard: (\S+)$/m);
      if (!url) return reject(new Error(`the banner names no dashboard:\n${out}`));
      resolveStart({ child, exports, dashboard: url[1] });
    });
    child.on("exit", (code) => reject(new Error(`the emulator exited (${code}):\n${out}\n${stderr}`)));
  });
}

/** One step of the service's CMK flow, as identity `header` picks (App Service protocol). */
async function cmk(header, ...args) {
  const { stdout } = await run(PYTHON, [join(HERE, "cmk_flow.py"), ...args], {
    env: { ...process.env, ...env, IDENTITY_HEADER: header, PYTHONPATH: join(REPO, "tests/sdk/localhost") },
  });
  return JSON.parse(stdout.trim().split("\n").pop());
}

/** The emulator's controls as a script calls them: no Origin, so no dashboard token needed. */
async function control(path, method = "GET", body) {
  const response = await fetch(dashboard.replace(/\/$/, "") + path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function shot(name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

const cmkVault = () => `https://cmk.vault.localhost:${new URL(env.AZURE_KEYVAULT_URL).port}`;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  ({ child: emulator, exports: env, dashboard } = await startEmulator());
  // Root (CI) needs --no-sandbox; the browser still talks only to loopback.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (error) => console.error("page error:", error));
});

after(async () => {
  await browser?.close();
  emulator?.kill();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("the dashboard opens on the vaults, with the emulator's settings", async () => {
  await page.goto(dashboard);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector('[data-vault="cmk"]');
  const text = await page.textContent('[data-vault="cmk"]');
  assert.match(text, /access policies/);
  assert.match(await page.textContent('[data-vault="cmkrbac"]'), /RBAC/);
  assert.notEqual(await page.textContent("#clock-now"), "…");
  const hsm = await page.textContent('[data-vault="pagehsm"]');
  assert.match(hsm, /Managed HSM/);
  assert.match(hsm, /local RBAC/);
  await shot("01-vaults");
  await page.click('[data-vault="pagehsm"]');
  await page.waitForSelector("#authorization");
  assert.match(await page.textContent("main"), /activated\s*yes/);
});

// The Python SDK wraps locally with the public key it fetched (GetKey) and unwraps in the vault
// (UnwrapKey): both requests appear in the stream as the flow runs.
test("a CMK flow run in the background appears live in the audit stream", async () => {
  await page.goto(`${dashboard}#audit?vault=cmk`);
  await page.waitForSelector(".live-dot.on", { timeout: 10000 });
  const flow = (async () => {
    const wrapped = await cmk(STORAGE_HEADER, "wrap", cmkVault(), KEY);
    assert.ok(wrapped.ok, JSON.stringify(wrapped));
    const unwrapped = await cmk(STORAGE_HEADER, "unwrap", cmkVault(), wrapped.kid, wrapped.wrapped);
    assert.ok(unwrapped.ok, JSON.stringify(unwrapped));
    return wrapped;
  })();
  await page.waitForSelector('#audit-rows tr.fresh[data-operation="GetKey"][data-decision="allowed"]', { timeout: 30000 });
  await page.waitForSelector('#audit-rows tr.fresh[data-operation="UnwrapKey"][data-decision="allowed"]', { timeout: 30000 });
  await flow;
  const row = await page.textContent('#audit-rows tr[data-operation="UnwrapKey"]');
  assert.match(row, /storage/, "the caller is named");
  assert.match(row, new RegExp(KEY));
  await shot("02-audit-live");
});

test("without its access policy the service gets a 403, and the page shows the rule", async () => {
  const { body: authorization } = await control("/_emulator/vaults/cmk/authorization");
  const storage = (await control("/_emulator/identities")).body.value.find((i) => i.name === "storage");
  const without = { ...authorization, accessPolicies: authorization.accessPolicies.filter((p) => p.objectId !== storage.objectId) };
  assert.equal((await control("/_emulator/vaults/cmk/authorization", "PUT", without)).status, 200);
  try {
    await page.goto(`${dashboard}#audit?vault=cmk&decision=denied`);
    await page.waitForSelector(".live-dot.on", { timeout: 10000 });
    const denied = await cmk(STORAGE_HEADER, "wrap", cmkVault(), KEY);
    assert.equal(denied.ok, false);
    assert.equal(denied.status, 403);
    const row = await page.waitForSelector('#audit-rows tr.fresh[data-decision="denied"]', { timeout: 30000 });
    const text = await row.textContent();
    assert.match(text, /403/);
    assert.match(text, /get|wrapKey/, "the permission no policy granted");
    await shot("03-denied-with-reason");
    // The row links to the identity's effective permissions, decided by the server's table.
    await row.click({ position: { x: 5, y: 5 } }).catch(() => {});
    await page.goto(`${dashboard}#identity/storage`);
    const cell = await page.waitForSelector('tr[data-operation="WrapKey"] td[data-vault="cmk"]');
    assert.equal(await cell.textContent(), "·");
    assert.match(await cell.getAttribute("title"), /no access policy on the vault; it needs key permission 'wrapKey'/);
    await shot("04-effective-permissions");
  } finally {
    assert.equal((await control("/_emulator/vaults/cmk/authorization", "PUT", authorization)).status, 200);
  }
});

test("disabling the old version from the page makes the next unwrap under it fail", async () => {
  const old = await cmk(STORAGE_HEADER, "wrap", cmkVault(), KEY);
  assert.ok(old.ok, JSON.stringify(old));
  const oldVersion = old.kid.split("/").pop();
  // The rotation an administrator makes (the default identity holds every permission there).
  const rotated = await cmk(env.IDENTITY_HEADER, "rotate", cmkVault(), KEY);
  assert.ok(rotated.ok, JSON.stringify(rotated));

  await page.goto(`${dashboard}#key/cmk/${KEY}`);
  const row = `tr[data-version="${oldVersion}"]`;
  await page.waitForSelector(`${row} button[data-action="disable"]`);
  assert.match(await page.textContent(row), /storage/, "usage: the version was last used by storage");
  page.once("dialog", (dialog) => dialog.accept());
  await page.click(`${row} button[data-action="disable"]`);
  await page.waitForSelector(`${row} button[data-action="enable"]`);
  await shot("05-old-version-disabled");

  const refused = await cmk(STORAGE_HEADER, "unwrap", cmkVault(), old.kid, old.wrapped);
  assert.equal(refused.ok, false);
  assert.equal(refused.status, 403);
  assert.match(refused.message, /disabled/i);
  const fresh = await cmk(STORAGE_HEADER, "wrap", cmkVault(), KEY);
  assert.ok(fresh.ok && !fresh.kid.endsWith(oldVersion), "the new version still serves");
});

test("a write from another origin is refused and changes nothing", async () => {
  const before = (await control("/_emulator/clock")).body.offsetSeconds;
  const target = dashboard.replace(/\/$/, "");
  const evil = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<!doctype html><title>elsewhere</title><p>another site</p>");
  });
  await new Promise((ready) => evil.listen(0, "127.0.0.1", ready));
  const other = await browser.newPage();
  try {
    await other.goto(`http://127.0.0.1:${evil.address().port}/`);
    const outcome = await other.evaluate(async (target) => {
      const results = {};
      // A "simple" request (no preflight): it reaches the emulator, whose front door refuses it.
      try {
        const r = await fetch(`${target}/_emulator/clock`, { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: '{"advance":"P8D"}' });
        results.simple = r.type;
      } catch (e) { results.simple = "error"; }
      // JSON needs a preflight the emulator never grants.
      try {
        await fetch(`${target}/_emulator/clock`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"advance":"P8D"}' });
        results.json = "sent";
      } catch (e) { results.json = "blocked"; }
      // Reading the page (and its token) cross-site is not allowed either.
      try {
        const r = await fetch(`${target}/`);
        results.read = (await r.text()).length ? "read" : "empty";
      } catch (e) { results.read = "blocked"; }
      return results;
    }, target);
    assert.equal(outcome.json, "blocked");
    assert.equal(outcome.read, "blocked");
    await shot("06-foreign-origin");
  } finally {
    await other.close();
    evil.close();
  }
  assert.equal((await control("/_emulator/clock")).body.offsetSeconds, before, "the clock did not move");

  // The page's own write needs its token: without it (same origin) the emulator refuses.
  const refused = await page.evaluate(async () => {
    const r = await fetch("/_emulator/clock", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"advance":"P8D"}' });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.innererror.code, "DashboardTokenMissing");
  assert.equal((await control("/_emulator/clock")).body.offsetSeconds, before);

  // With it, from the page's own clock control, the clock moves.
  await page.goto(dashboard);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('[data-advance="PT1H"]');
  await page.waitForFunction(() => /\+3600s/.test(document.getElementById("clock-offset").textContent));
  assert.equal((await control("/_emulator/clock")).body.offsetSeconds, before + 3600);
});
