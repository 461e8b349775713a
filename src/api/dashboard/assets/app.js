// keyvault-emulator dashboard: plain DOM, no build step. Every list is paged or capped, and
// every view is one or two requests, so it stays fast with thousands of keys and a long audit
// log. Data is written with textContent only (never as HTML). Writes carry the per-start token
// from the page's <meta>; the emulator refuses a browser's write without it.
"use strict";

const TOKEN = document.querySelector('meta[name="kvemu-dashboard-token"]').content;
// The page may sit below the admin-token prefix (/<token>/): every call goes below it too.
const BASE = location.pathname.replace(/\/[^/]*$/, "");
const LIVE_ROWS = 500;
const KEY_PAGE = 100;
const AUDIT_PAGE = 100;

const state = { identities: [], vaults: [], clock: null, auditSource: null };

// ------------------------------------------------------------------ helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {} };
  if (init.method !== "GET") {
    init.headers["X-Kvemu-Dashboard-Token"] = TOKEN;
    init.headers["Content-Type"] = "application/json";
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
  }
  const response = await fetch(BASE + path, init);
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
    error.status = response.status;
    error.code = body && body.error && body.error.code;
    throw error;
  }
  return body;
}

function toast(message, isError) {
  const el = h("div", { class: "toast" + (isError ? " error" : "") }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), isError ? 8000 : 3500);
}

async function act(label, work) {
  try {
    const result = await work();
    toast(label);
    return result;
  } catch (error) {
    toast(`${label} failed: ${error.message}`, true);
    throw error;
  }
}

function when(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const value = typeof seconds === "number" ? seconds * 1000 : Date.parse(seconds);
  if (Number.isNaN(value)) return String(seconds);
  return new Date(value).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function short(version) {
  return version ? version.slice(0, 8) + "…" : "—";
}

const q = encodeURIComponent;

function identityName(objectId) {
  const found = state.identities.find((i) => i.objectId === objectId);
  return found ? found.name : objectId;
}

function badge(text, kind) {
  return h("span", { class: "badge " + kind }, text);
}

function props(pairs) {
  return h("dl", { class: "props" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function table(headers, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty || "Nothing here.");
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

// ------------------------------------------------------------------ clock
function drawClock() {
  if (!state.clock) return;
  const elapsed = (Date.now() - state.clock.fetchedAt) / 1000;
  document.getElementById("clock-now").textContent = when(Math.floor(state.clock.now + elapsed));
  const offset = state.clock.offsetSeconds;
  document.getElementById("clock-offset").textContent = offset ? `(wall clock ${offset > 0 ? "+" : ""}${offset}s)` : "(wall clock)";
}

async function loadClock() {
  const clock = await api("/_emulator/clock");
  state.clock = { ...clock, fetchedAt: Date.now() };
  drawClock();
}

async function moveClock(change) {
  const result = await act("Clock moved", () => api("/_emulator/clock", { method: "POST", body: change }));
  state.clock = { ...result, fetchedAt: Date.now() };
  drawClock();
  if (result.purged || result.rotated || result.purgedVaults) {
    toast(`Due work: ${result.purged} purged, ${result.rotated} rotated, ${result.purgedVaults} vaults purged`);
  }
  route();
}

function wireClock() {
  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => moveClock({ advance: button.dataset.advance }));
  }
  document.getElementById("clock-advance").addEventListener("click", () => {
    const duration = document.getElementById("clock-duration").value.trim();
    if (duration) moveClock({ advance: duration });
  });
  document.getElementById("clock-reset").addEventListener("click", () => moveClock({ reset: true }));
  setInterval(drawClock, 1000);
}

// ------------------------------------------------------------------ vaults
const isHsm = (v) => v.kind === "managedHsm";
const usesRoles = (v) => isHsm(v) || v.enableRbacAuthorization;
const authorizationModel = (v) => (isHsm(v) ? "local RBAC" : v.enableRbacAuthorization ? "RBAC" : "access policies");

async function viewVaults(main) {
  const { value } = await api("/_emulator/vaults");
  state.vaults = value;
  main.append(
    h("h1", {}, "Vaults and Managed HSMs"),
    h("div", { class: "grid" }, value.map((v) =>
      h("div", { class: "card", "data-vault": v.name, onclick: () => (location.hash = `#vault/${q(v.name)}`) },
        h("h3", {}, v.name, " ", badge(isHsm(v) ? "Managed HSM" : "vault", "info"),
          isHsm(v) && !v.managedHsm.activated ? [" ", badge("not activated", "bad")] : null,
          v.deleted ? [" ", badge("deleted", "bad")] : null),
        props([
          ["authorization", authorizationModel(v)],
          ["recovery level", v.recoveryLevel],
          ["soft-delete retention", `${v.softDeleteRetentionInDays} days`],
          ["purge protection", v.enablePurgeProtection ? "on" : "off"],
          ["rules", usesRoles(v) ? `${v.roleAssignments.length} role assignments` : `${v.accessPolicies.length} access policies`],
          ["resource group", v.resourceGroup],
        ])))),
  );
}

function authorizationPanel(vault) {
  if (usesRoles(vault)) {
    return table(["principal", "role", "scope"], vault.roleAssignments.map((a) => h("tr", {},
      h("td", {}, h("a", { href: `#identity/${q(identityName(a.principalId))}` }, identityName(a.principalId))),
      h("td", {}, a.roleName || a.roleDefinitionId),
      h("td", { class: "mono" }, a.scope.kind === "key" ? `/keys/${a.scope.key}` : a.scope.kind))), "No role assignments.");
  }
  return table(["identity", "key permissions"], vault.accessPolicies.map((p) => h("tr", { "data-object-id": p.objectId },
    h("td", {}, h("a", { href: `#identity/${q(identityName(p.objectId))}` }, identityName(p.objectId))),
    h("td", {}, h("div", { class: "ops" }, p.permissions.keys.map((k) => h("span", {}, k)))))), "No access policies.");
}

async function viewVault(main, name) {
  const { value } = await api("/_emulator/vaults");
  const vault = value.find((v) => v.name === name);
  if (!vault) throw new Error(`No vault named ${name}`);
  main.append(
    h("div", { class: "crumbs" }, h("a", { href: "#vaults" }, "Vaults"), " / ", name),
    h("h1", {}, name, " ", badge(isHsm(vault) ? "Managed HSM" : "vault", "info"), " ", badge(authorizationModel(vault), "info")),
    h("div", { class: "panel" }, props([
      ...(isHsm(vault) ? [
        ["activated", vault.managedHsm.activated ? "yes" : "no: key operations are refused until a security domain is downloaded or uploaded"],
        ["initial administrators", vault.managedHsm.initialAdminObjectIds.map(identityName).join(", ") || "none"],
        ["custom roles", vault.managedHsm.customRoles.join(", ") || "none"],
      ] : []),
      ["resource id", h("span", { class: "mono" }, vault.resourceId)],
      ["recovery level", vault.recoveryLevel],
      ["soft-delete retention", `${vault.softDeleteRetentionInDays} days`],
      ["purge protection", vault.enablePurgeProtection ? "on" : "off"],
      ["location / sku", `${vault.location} / ${vault.sku}`],
    ])),
    h("h2", {}, usesRoles(vault) ? "Role assignments" : "Access policies"),
    h("div", { class: "panel", id: "authorization" }, authorizationPanel(vault)),
  );
  const keys = h("div", { id: "keys" });
  const deleted = h("div", { id: "deleted-keys" });
  main.append(h("h2", {}, "Keys"), keys, h("h2", {}, "Deleted keys"), deleted);
  await Promise.all([keyPage(keys, name, null, []), deletedPage(deleted, vault, null)]);
}

async function keyPage(container, vault, after, history) {
  const filter = h("input", { placeholder: "names after…", value: after || "" });
  const page = await api(`/_emulator/vaults/${q(vault)}/keys?top=${KEY_PAGE}` + (after ? `&after=${q(after)}` : ""));
  const rows = page.value.map((k) => h("tr", { class: "clickable", "data-key": k.name, onclick: () => (location.hash = `#key/${q(vault)}/${q(k.name)}`) },
    h("td", {}, h("a", { href: `#key/${q(vault)}/${q(k.name)}` }, k.name)),
    h("td", {}, k.kty, k.keySize ? ` ${k.keySize}` : "", k.crv ? ` ${k.crv}` : ""),
    h("td", { class: "mono" }, short(k.version)),
    h("td", {}, k.enabled ? badge("enabled", "ok") : badge("disabled", "bad")),
    h("td", {}, when(k.created)),
    h("td", {}, when(k.exp))));
  container.replaceChildren(
    h("div", { class: "toolbar" }, filter,
      h("button", { onclick: () => keyPage(container, vault, filter.value.trim() || null, []) }, "Go")),
    table(["name", "type", "current version", "state", "created", "expires"], rows, "No keys."),
    h("div", { class: "pager" },
      h("button", { disabled: !history.length, onclick: () => keyPage(container, vault, history[history.length - 1], history.slice(0, -1)) }, "‹ Previous"),
      h("span", { class: "muted" }, `${page.value.length} keys on this page`),
      h("button", { disabled: !page.nextAfter, onclick: () => keyPage(container, vault, page.nextAfter, [...history, after]) }, "Next ›")),
  );
}

async function deletedPage(container, vault, after) {
  const page = await api(`/_emulator/vaults/${q(vault.name)}/deletedkeys?top=${KEY_PAGE}` + (after ? `&after=${q(after)}` : ""));
  const rows = page.value.map((d) => h("tr", { "data-deleted-key": d.name },
    h("td", {}, d.name),
    h("td", {}, when(d.deletedDate)),
    h("td", {}, when(d.scheduledPurgeDate)),
    h("td", {}, h("button", {
      class: "danger",
      disabled: vault.enablePurgeProtection,
      title: vault.enablePurgeProtection ? "Purge protection is on: the key is purged only when its date comes" : "Purge for good",
      onclick: async () => {
        if (!confirm(`Purge ${d.name} for good?`)) return;
        await act(`Purged ${d.name}`, () => api(`/_emulator/vaults/${q(vault.name)}/deletedkeys/${q(d.name)}`, { method: "DELETE" }));
        deletedPage(container, vault, after);
      },
    }, "Purge"))));
  container.replaceChildren(table(["name", "deleted", "scheduled purge"], rows, "No deleted keys."),
    page.nextAfter ? h("div", { class: "pager" }, h("button", { onclick: () => deletedPage(container, vault, page.nextAfter) }, "Next ›")) : null);
}

// ------------------------------------------------------------------ one key
// The audit log's usage of the key; the versions still draw when it cannot be had.
async function loadUsage(vault, key) {
  try {
    return await api(`/_emulator/keys/${q(vault)}/${q(key)}/usage`);
  } catch (error) {
    return { versions: [], unavailable: error.message };
  }
}

function usageOf(usage, version) {
  return usage.versions.find((v) => v.version === version) || null;
}

function callerLabel(caller) {
  if (!caller) return "—";
  return caller.name || caller.objectId || "?";
}

// The audit log's usage of one version: last use, uses by caller, last refusal.
function usageCells(use) {
  if (!use) return [h("td", { class: "muted" }, "never used"), h("td", {}, "—"), h("td", {}, "—")];
  const last = use.lastUsed;
  const denied = use.lastDenied;
  return [
    h("td", {}, last ? [when(last.time), h("div", { class: "muted" }, `${last.operation} by ${callerLabel(last.caller)}`)] : h("span", { class: "muted" }, "never")),
    h("td", {}, use.callers.length ? use.callers.map((c) => h("div", {}, `${callerLabel(c.caller)}: ${c.useCount}`)) : "—"),
    h("td", {}, denied ? [badge(String(denied.status), "bad"), " ", when(denied.time),
      h("div", { class: "reason" }, `${callerLabel(denied.caller)} ${denied.operation}: ${denied.reason}`)] : "—"),
  ];
}

async function viewKey(main, vault, key) {
  const [detail, usage] = await Promise.all([api(`/_emulator/vaults/${q(vault)}/keys/${q(key)}`), loadUsage(vault, key)]);
  const versions = [...detail.versions].reverse();
  const rows = versions.map((v) => h("tr", { "data-version": v.version },
    h("td", { class: "mono" }, v.version, v.version === detail.currentVersion ? [" ", badge("current", "info")] : null),
    h("td", {}, v.enabled ? badge("enabled", "ok") : badge("disabled", "bad"), " ",
      h("button", {
        class: v.enabled ? "danger" : "",
        "data-action": v.enabled ? "disable" : "enable",
        onclick: async () => {
          await act(`${v.enabled ? "Disabled" : "Enabled"} ${short(v.version)}`, () =>
            api(`/_emulator/vaults/${q(vault)}/keys/${q(key)}/versions/${q(v.version)}`, { method: "PATCH", body: { enabled: !v.enabled } }));
          route();
        },
      }, v.enabled ? "Disable" : "Enable")),
    h("td", {}, v.kty, v.keySize ? ` ${v.keySize}` : "", v.crv ? ` ${v.crv}` : ""),
    h("td", {}, h("div", { class: "ops" }, v.keyOps.map((op) => h("span", {}, op)))),
    h("td", {}, when(v.created)),
    h("td", {}, v.nbf ? when(v.nbf) : "—", " → ", v.exp ? when(v.exp) : "—"),
    ...usageCells(usageOf(usage, v.version))));
  const policy = detail.rotationPolicy || {};
  const actions = (policy.lifetimeActions || []).map((a) => {
    const trigger = a.trigger || {};
    return `${(a.action && a.action.type) || "?"} ${trigger.timeAfterCreate ? `${trigger.timeAfterCreate} after create` : `${trigger.timeBeforeExpiry} before expiry`}`;
  });
  main.append(
    h("div", { class: "crumbs" }, h("a", { href: "#vaults" }, "Vaults"), " / ", h("a", { href: `#vault/${q(vault)}` }, vault), " / ", key),
    h("h1", {}, key),
    h("div", { class: "panel" }, props([
      ["versions", `${detail.versions.length}${detail.moreVersions ? "+ (the oldest shown)" : ""}`],
      ["rotation policy", actions.length ? actions.join("; ") : "none"],
      ["new versions expire after", (policy.attributes && policy.attributes.expiryTime) || "—"],
      ["usage", usage.unavailable ? `the audit log cannot say: ${usage.unavailable}` : "from the audit log (below, per version)"],
    ])),
    h("h2", {}, "Versions (newest first)"),
    h("div", { class: "scroll" }, table(["version", "state", "type", "key ops", "created", "valid", "last used", "uses by caller", "last denied"], rows)),
  );
}

// ------------------------------------------------------------------ identities
async function viewIdentities(main) {
  main.append(h("h1", {}, "Identities"),
    table(["name", "type", "client id", "object id"], state.identities.map((i) => h("tr", { class: "clickable", onclick: () => (location.hash = `#identity/${q(i.name)}`) },
      h("td", {}, h("a", { href: `#identity/${q(i.name)}` }, i.name)),
      h("td", {}, i.type),
      h("td", { class: "mono" }, i.clientId),
      h("td", { class: "mono" }, i.objectId)))));
}

async function viewIdentity(main, name) {
  const access = await api(`/_emulator/identities/${q(name)}/permissions`);
  const columns = access.vaults.flatMap((v) => v.scopes.map((s) => ({ vault: v.vault, model: v.model, scope: s })));
  // Vaults and Managed HSMs do not have the same operations: the rows are all of them.
  const operations = [...new Set(access.vaults.flatMap((v) => v.scopes.flatMap((s) => s.operations.map((o) => o.operation))))];
  const rows = operations.map((operation) => h("tr", { "data-operation": operation },
    h("th", {}, operation),
    columns.map((c) => {
      const cell = c.scope.operations.find((o) => o.operation === operation);
      if (!cell) return h("td", { class: "no", title: c.scope.scope ? "this operation names no single key" : "only a Managed HSM has this operation" }, "");
      return h("td", { class: cell.allowed ? "yes" : "no", title: cell.reason, "data-vault": c.vault, "data-scope": c.scope.scope }, cell.allowed ? "✓" : "·");
    })));
  main.append(
    h("div", { class: "crumbs" }, h("a", { href: "#identities" }, "Identities"), " / ", name),
    h("h1", {}, `Effective permissions of ${name}`),
    h("p", { class: "muted" }, "Every cell is decided by the emulator's authorization table, exactly as a request would be. Hover a cell for the rule."),
    h("div", { class: "scroll" }, h("table", { class: "matrix" },
      h("thead", {}, h("tr", {}, h("th", {}, "operation"), columns.map((c) =>
        h("th", { class: "scope" }, h("a", { href: `#vault/${q(c.vault)}` }, c.vault), c.scope.scope ? h("div", { class: "mono" }, c.scope.scope) : h("div", { class: "muted" }, { rbac: "RBAC", localRbac: "local RBAC" }[c.model] || "policies"))))),
      h("tbody", {}, rows))),
  );
}

// ------------------------------------------------------------------ audit
const AUDIT_FILTERS = ["vault", "key", "version", "caller", "operation", "decision"];

function ruleLabel(rule) {
  if (!rule) return "";
  if (rule.kind === "accessPolicy" && rule.accessPolicy) return `access policy of ${identityName(rule.accessPolicy.objectId)} (${rule.accessPolicy.permissions.join(", ") || "no key permissions"})`;
  if (rule.kind === "roleAssignment" && rule.roleAssignment) return `role assignment ${rule.roleAssignment.role} at ${rule.roleAssignment.scope}`;
  return rule.kind === "none" ? "no rule names the caller" : rule.kind;
}

function auditRow(r, fresh) {
  const denied = r.decision !== "allowed";
  const caller = r.caller || {};
  const failed = !denied && r.status >= 400;
  return h("tr", { class: (denied ? "denied" : "") + (fresh ? " fresh" : ""), "data-operation": r.operation, "data-decision": r.decision, "data-status": r.status },
    h("td", { class: "mono" }, when(r.time)),
    h("td", {}, r.vault || "—", r.plane !== "vault" ? h("div", { class: "muted" }, r.plane) : null),
    h("td", {}, r.operation),
    h("td", {}, r.key || "", r.version ? h("div", { class: "mono muted" }, short(r.version)) : null),
    h("td", {}, callerLabel(caller), h("div", { class: "muted" }, caller.tokenKind)),
    h("td", {}, denied ? badge(`denied ${r.status}`, "bad") : failed ? badge(`allowed, ${r.status}`, "warn") : badge(`allowed ${r.status}`, "ok"),
      h("div", { class: denied ? "reason" : "muted" }, r.reason,
        denied ? h("div", {}, `rule: ${ruleLabel(r.rule)}`,
          caller.name ? h("a", { href: `#identity/${q(caller.name)}`, title: "the caller's effective permissions" }, "permissions") : null,
          r.vault ? h("a", { href: `#vault/${q(r.vault)}`, title: "the vault's rules" }, "vault rules") : null) : null)));
}

function auditQuery(filters) {
  const params = new URLSearchParams();
  for (const name of AUDIT_FILTERS) if (filters[name]) params.set(name, filters[name]);
  return params;
}

async function viewAudit(main) {
  const inputs = Object.fromEntries(AUDIT_FILTERS.map((name) => [name, name === "decision"
    ? h("select", { "aria-label": name }, h("option", { value: "" }, "any decision"), h("option", { value: "allowed" }, "allowed"), h("option", { value: "denied" }, "denied"))
    : h("input", { placeholder: name, size: 12, "aria-label": name })]));
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  for (const name of AUDIT_FILTERS) if (params.get(name)) inputs[name].value = params.get(name);
  const dot = h("span", { class: "live-dot" });
  const count = h("span", { class: "muted" });
  const body = h("tbody", { id: "audit-rows" });
  const more = h("button", {}, "Load older");
  main.append(h("h1", {}, "Audit log"),
    h("div", { class: "toolbar" }, Object.values(inputs),
      h("button", { class: "primary", onclick: () => { location.hash = "#audit?" + auditQuery(values()).toString(); } }, "Filter"),
      h("span", { class: "grow" }), dot, h("span", { id: "live-state" }, "live"), count),
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["time", "vault", "operation", "key", "caller", "decision"].map((x) => h("th", {}, x)))), body)),
    h("div", { class: "pager" }, more));
  function values() {
    return Object.fromEntries(AUDIT_FILTERS.map((name) => [name, inputs[name].value.trim()]));
  }
  const filters = values();
  let cursor = null;
  async function older() {
    const query = auditQuery(filters);
    query.set("maxResults", AUDIT_PAGE);
    if (cursor) query.set("cursor", cursor);
    let page;
    try {
      page = await api("/_emulator/audit?" + query.toString());
    } catch (error) {
      if (error.status === 404) { body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "This emulator has no audit log."))); more.disabled = true; return; }
      throw error;
    }
    const records = page.value;
    const fragment = document.createDocumentFragment();
    for (const r of records) fragment.append(auditRow(r, false));
    body.append(fragment);
    cursor = page.nextLink ? new URL(page.nextLink).searchParams.get("cursor") : null;
    more.disabled = !cursor;
    count.textContent = ` ${body.rows.length} shown`;
  }
  more.addEventListener("click", older);
  await older();
  const stream = new EventSource(BASE + "/_emulator/audit/stream?" + auditQuery(filters).toString());
  state.auditSource = stream;
  stream.onopen = () => dot.classList.add("on");
  stream.onerror = () => dot.classList.remove("on");
  const onRecord = (event) => {
    const record = JSON.parse(event.data);
    if (!matches(record, filters)) return;
    body.prepend(auditRow(record, true));
    while (body.rows.length > LIVE_ROWS) body.lastElementChild.remove();
    count.textContent = ` ${body.rows.length} shown`;
  };
  stream.addEventListener("audit", onRecord);
}

// The stream is asked with the same filters; this only guards the rows already drawn.
function matches(record, filters) {
  const caller = record.caller || {};
  const checks = {
    vault: [record.vault], key: [record.key], version: [record.version], operation: [record.operation],
    caller: [caller.name, caller.objectId, caller.appId], decision: [record.decision],
  };
  return AUDIT_FILTERS.every((name) => !filters[name] || checks[name].some((v) => v && String(v).toLowerCase() === filters[name].toLowerCase()));
}

// ------------------------------------------------------------------ faults
async function viewFaults(main) {
  const { value } = await api("/_emulator/faults");
  if (!state.vaults.length) state.vaults = (await api("/_emulator/vaults")).value;
  const vault = h("select", { "aria-label": "vault" }, state.vaults.filter((v) => !v.deleted).map((v) => h("option", { value: v.name }, v.name)));
  const operation = h("input", { placeholder: "operation (any)", list: "operations", size: 16 });
  const status = h("select", { "aria-label": "status" }, ["503", "429", "500"].map((s) => h("option", { value: s }, s)));
  const count = h("input", { type: "number", min: 1, max: 10000, value: 1, size: 5, "aria-label": "count" });
  main.append(h("h1", {}, "Fault injection"),
    h("p", { class: "muted" }, "The next requests to a vault (optionally of one operation) answer the status you choose instead of running."),
    h("div", { class: "toolbar" }, vault, operation,
      h("datalist", { id: "operations" }, ["WrapKey", "UnwrapKey", "GetKey", "Encrypt", "Decrypt", "Sign", "Verify", "CreateKey"].map((o) => h("option", { value: o }))),
      status, count,
      h("button", { class: "primary", onclick: async () => {
        const body = { vault: vault.value, status: Number(status.value), count: Number(count.value) };
        if (operation.value.trim()) body.operation = operation.value.trim();
        await act("Fault armed", () => api("/_emulator/faults", { method: "POST", body }));
        route();
      } }, "Inject"),
      h("button", { class: "danger", onclick: async () => { await act("Faults cleared", () => api("/_emulator/faults", { method: "DELETE" })); route(); } }, "Clear all")),
    table(["vault", "operation", "remaining", "status"], value.map((f) => h("tr", {},
      h("td", {}, f.vault), h("td", {}, f.operation || "any"), h("td", {}, f.remaining), h("td", {}, (f.response && f.response.status) || f.status))), "No pending faults."));
}

// ------------------------------------------------------------------ routing
async function route() {
  if (state.auditSource) { state.auditSource.close(); state.auditSource = null; }
  const [path] = location.hash.slice(1).split("?");
  const [view, ...args] = (path || "vaults").split("/").map(decodeURIComponent);
  const tab = { vault: "vaults", key: "vaults", identity: "identities" }[view] || view;
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.tab === tab);
  const main = h("div", { "data-view": view });
  document.getElementById("main").replaceChildren(main);
  const views = { vaults: viewVaults, vault: viewVault, key: viewKey, identities: viewIdentities, identity: viewIdentity, audit: viewAudit, faults: viewFaults };
  try {
    await (views[view] || viewVaults)(main, ...args);
  } catch (error) {
    main.append(h("div", { class: "panel reason" }, error.message));
  }
}

async function start() {
  wireClock();
  const [identities] = await Promise.all([api("/_emulator/identities"), loadClock()]);
  state.identities = identities.value;
  setInterval(loadClock, 30000);
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "true";
}

start().catch((error) => toast(error.message, true));
