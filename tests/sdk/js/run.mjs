#!/usr/bin/env node
// Launcher for the official-SDK (JavaScript) scenario tests.
//
// 1. starts `$KVEMU_BIN --in-memory --https-port 0 --http-port 0`
//    (default binary: <repo>/target/debug/keyvault-emulator) with the config file $KVEMU_CONFIG
//    (default: tests/sdk/kvemu.toml: the identities `storage` and `app`, the vaults `cmk` and
//    `cmkrbac`) and whatever KVEMU_VAULTS run.sh sets;
// 2. reads its stdout until the line `ready` (timeout KVEMU_READY_TIMEOUT seconds, default 30),
//    collecting every `export K=V` line;
// 3. spawns `node --import ./resolve-localhost.mjs --test test/*.test.mjs` with those variables
//    in its environment: NODE_EXTRA_CA_CERTS is only read at Node start, hence the child process;
// 4. stops the emulator and exits with the test run's status.
//
// Extra arguments are passed to `node --test` (e.g. `node run.mjs --test-name-pattern=wrap`).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..", "..");
const binary = process.env.KVEMU_BIN || path.join(repoRoot, "target", "debug", "keyvault-emulator");
const configFile = process.env.KVEMU_CONFIG || path.join(repoRoot, "tests", "sdk", "kvemu.toml");
const readyTimeoutMs = Number(process.env.KVEMU_READY_TIMEOUT || "30") * 1000;
const REQUIRED = ["AZURE_KEYVAULT_URL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "NODE_EXTRA_CA_CERTS"];
const EXPORT_RE = /^export ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

function fail(message) {
  console.error(`run.mjs: ${message}`);
  process.exit(1);
}

try {
  fs.accessSync(binary, fs.constants.X_OK);
} catch {
  fail(`keyvault-emulator binary not found or not executable: ${binary}\n` +
    "build it with `cargo build` or point KVEMU_BIN at it");
}

const unquote = (v) => (v.length >= 2 && v[0] === v.at(-1) && (v[0] === '"' || v[0] === "'") ? v.slice(1, -1) : v);

const args = ["--in-memory", "--https-port", "0", "--http-port", "0"];
const emu = spawn(binary, args, {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, KVEMU_CONFIG: configFile },
});
const stdoutLines = [];
let stderrText = "";
emu.stderr.setEncoding("utf8");
emu.stderr.on("data", (chunk) => {
  stderrText = (stderrText + chunk).slice(-64 * 1024);
});

let emuExited = false;
const emuExit = new Promise((resolve) => {
  emu.on("exit", (code, signal) => {
    emuExited = true;
    resolve({ code, signal });
  });
  emu.on("error", (err) => {
    emuExited = true;
    resolve({ code: null, signal: null, error: err });
  });
});

function emulatorOutput() {
  return `--- command: KVEMU_CONFIG=${configFile} KVEMU_VAULTS=${process.env.KVEMU_VAULTS ?? ""} ${binary} ${args.join(" ")}\n` +
    `--- stdout (${stdoutLines.length} lines):\n${stdoutLines.slice(-200).join("\n")}\n` +
    `--- stderr (tail):\n${stderrText.slice(-8000)}`;
}

async function stopEmulator() {
  if (emuExited) return;
  emu.kill("SIGTERM");
  const timer = setTimeout(() => { if (!emuExited) emu.kill("SIGKILL"); }, 10_000);
  await emuExit;
  clearTimeout(timer);
}

// --- wait for `ready` ---------------------------------------------------------------
const exports = {};
const ready = await new Promise((resolve) => {
  const rl = readline.createInterface({ input: emu.stdout, crlfDelay: Infinity });
  let done = false;
  const finish = (value) => { if (!done) { done = true; clearTimeout(timer); resolve(value); } };
  const timer = setTimeout(() => finish({ ok: false, why: `emulator did not print 'ready' within ${readyTimeoutMs / 1000} s` }), readyTimeoutMs);
  rl.on("line", (line) => {
    stdoutLines.push(line);  // keep draining stdout for the whole run
    if (done) return;
    const m = EXPORT_RE.exec(line);
    if (m) exports[m[1]] = unquote(m[2]);
    else if (line === "ready") finish({ ok: true });
  });
  emuExit.then(({ code, signal, error }) =>
    finish({ ok: false, why: error ? `could not start emulator: ${error.message}` : `emulator exited (code ${code}, signal ${signal}) before printing 'ready'` }));
});

if (!ready.ok) {
  await stopEmulator();
  fail(`${ready.why}\n${emulatorOutput()}`);
}
const missing = REQUIRED.filter((k) => !exports[k]);
if (missing.length) {
  await stopEmulator();
  fail(`emulator printed 'ready' but no export line for ${missing.join(", ")}\n${emulatorOutput()}`);
}

// --- run the tests ----------------------------------------------------------------------
const testDir = path.join(here, "test");
const testFiles = fs.readdirSync(testDir).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => path.join(testDir, f));
const preload = new URL("./resolve-localhost.mjs", import.meta.url).href;
const nodeArgs = ["--import", preload, "--test", "--test-reporter=spec", ...process.argv.slice(2), ...testFiles];

console.log(`run.mjs: emulator ready, vault ${exports.AZURE_KEYVAULT_URL}`);
const child = spawn(process.execPath, nodeArgs, {
  cwd: here,
  stdio: "inherit",
  env: { ...process.env, ...exports },
});

const forward = (sig) => () => { child.kill(sig); };
process.on("SIGINT", forward("SIGINT"));
process.on("SIGTERM", forward("SIGTERM"));

const { code, signal } = await new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
const status = code ?? (signal ? 1 : 0);
if (status !== 0) {
  console.error(`run.mjs: node --test failed (code ${code}, signal ${signal}); emulator output follows\n${emulatorOutput()}`);
}
await stopEmulator();
process.exit(status);
