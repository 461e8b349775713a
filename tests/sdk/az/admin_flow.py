"""The Azure CLI as a client: the seeds' admin flow against a fresh keyvault-emulator.

Run by tests/sdk/run.sh (suite `az`) with the pinned azure-cli's own Python:

    tests/sdk/az/.venv/bin/python tests/sdk/az/admin_flow.py /path/to/keyvault-emulator

Each step runs `az` as a user types it, in an isolated configuration directory, and asserts its
exit code and its output. The only client-side setting is `core.instance_discovery=false`
(MSAL would ask the public cloud about the emulator's authority); telemetry is off through the
environment so that nothing leaves the machine. The az process trusts the emulator's CA through
REQUESTS_CA_BUNDLE, set for it alone; `*.vault.localhost` resolves through the same
sitecustomize hook the examples use.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import hsm_steps

# Steps that fail on this branch only because the issue-14 management-plane work is elsewhere.
HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.dirname(HERE)
GROUP = "cmk-rg"
LOCATION = "westeurope"


class Emulator:
    """A fresh emulator on free ports and a temporary data directory, stopped on exit."""

    def __init__(self, binary, workdir):
        self.stdout_path = os.path.join(workdir, "emulator.out")
        self.stderr_path = os.path.join(workdir, "emulator.err")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KVEMU_")}
        self.process = subprocess.Popen(
            [binary, "--data-dir", os.path.join(workdir, "data"), "--https-port", "0", "--http-port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=open(self.stdout_path, "w"),
            stderr=open(self.stderr_path, "w"),
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            banner = open(self.stdout_path).read()
            if re.search(r"^ready$", banner, re.M):
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"admin_flow: the emulator did not start:\n{banner}\n{self.stderr()}")
            time.sleep(0.1)
        exports = dict(re.findall(r"^export ([A-Z_]+)=(.*)$", banner, re.M))
        self.tenant = exports["AZURE_TENANT_ID"]
        self.ca = exports["REQUESTS_CA_BUNDLE"]
        self.identity_endpoint = exports["IDENTITY_ENDPOINT"]
        self.identity_header = exports["IDENTITY_HEADER"]
        admin = re.search(r'Service principal "admin".*client id ([0-9a-f-]{36}), secret (\S+)', banner)
        self.admin_client_id, self.admin_secret = admin.group(1), admin.group(2)
        management = re.search(r"Management API: https://localhost:(\d+)\s+\(subscription ([0-9a-f-]{36})", banner)
        self.https_port, self.subscription = management.group(1), management.group(2)
        control = self.identity_endpoint.rsplit("/msi/token", 1)[0]
        identities = json.load(urllib.request.urlopen(f"{control}/_emulator/identities"))
        listed = identities["value"]
        self.admin_object_id = next(i for i in listed if i["name"] == "admin")["objectId"]

    def stderr(self):
        return open(self.stderr_path).read()[-8000:]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Flow:
    def __init__(self, emulator, workdir):
        self.emulator = emulator
        self.workdir = workdir
        self.base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AZURE_", "IDENTITY_", "MSI_", "KVEMU_"))
            and k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "PYTHONPATH")
        }
        self.base_env.update(
            AZURE_CONFIG_DIR=os.path.join(workdir, "azure-config"),
            AZURE_CORE_COLLECT_TELEMETRY="false",
            REQUESTS_CA_BUNDLE=emulator.ca,
            PYTHONPATH=os.path.join(SDK_DIR, "localhost"),
        )
        self.passed, self.failed = [], []

    def az(self, *args, env=None):
        command = [sys.executable, "-m", "azure.cli", *args]
        started = time.monotonic()
        completed = subprocess.run(
            command, env={**self.base_env, **(env or {})}, capture_output=True, text=True, timeout=300
        )
        return completed, time.monotonic() - started

    def step(self, name, args, check=None, expect_failure=None, env=None):
        """Runs `az args`; `check(output)` asserts on the JSON output of a success. With
        `expect_failure`, the step must exit non-zero with that text in its error output."""
        completed, elapsed = self.az(*args, env=env)
        output = None
        try:
            if expect_failure is not None:
                assert completed.returncode != 0, f"exit 0, expected a refusal; stdout: {completed.stdout[:2000]}"
                assert expect_failure in completed.stderr, f"stderr lacks {expect_failure!r}"
            else:
                assert completed.returncode == 0, f"exit {completed.returncode}"
                output = json.loads(completed.stdout) if completed.stdout.strip() else None
                if check:
                    check(output)
            ok, problem = True, None
        except (AssertionError, json.JSONDecodeError, KeyError, IndexError, TypeError) as err:
            ok, problem = False, f"{type(err).__name__}: {err}"
        if ok:
            self.passed.append(name)
            print(f"  ok       {name}  ({elapsed:.1f}s)", flush=True)
        else:
            self.failed.append(name)
            print(f"  FAILED   {name}: {problem}\n    $ az {' '.join(args)}", flush=True)
            print("    " + completed.stderr.strip().replace("\n", "\n    ")[-3000:], flush=True)
        return output

    def run(self):
        e = self.emulator
        port = e.https_port
        arm_url = f"https://localhost:{port}/"
        sub = e.subscription
        state = {}

        self.step("config set core.instance_discovery=false", ["config", "set", "core.instance_discovery=false"])

        def cloud_is_discovered(cloud):
            endpoints, suffixes = cloud["endpoints"], cloud["suffixes"]
            assert endpoints["resourceManager"] == arm_url, endpoints
            assert endpoints["activeDirectory"] == arm_url, endpoints
            assert endpoints["activeDirectoryResourceId"] == "https://management.core.windows.net/", endpoints
            assert endpoints["microsoftGraphResourceId"] == arm_url, endpoints
            assert suffixes["keyvaultDns"] == f".vault.localhost:{port}", suffixes

        self.step("cloud register (endpoint discovery)", ["cloud", "register", "-n", "KvEmu", "--endpoint-resource-manager", arm_url])
        self.step("cloud show", ["cloud", "show", "-n", "KvEmu", "-o", "json"], cloud_is_discovered)
        self.step("cloud set", ["cloud", "set", "-n", "KvEmu"])

        def logged_in(accounts):
            assert [a["id"] for a in accounts] == [sub], accounts
            assert accounts[0]["tenantId"] == e.tenant and accounts[0]["user"]["type"] == "servicePrincipal", accounts

        self.step(
            "login --service-principal",
            ["login", "--service-principal", "-u", e.admin_client_id, "-p", e.admin_secret, "--tenant", e.tenant, "-o", "json"],
            logged_in,
        )
        self.step(
            "group create",
            ["group", "create", "-n", GROUP, "-l", LOCATION, "-o", "json"],
            lambda g: self.expect(g["name"] == GROUP and g["properties"]["provisioningState"] == "Succeeded", g),
        )

        def access_policy_vault(vault):
            props = vault["properties"]
            assert props["enableRbacAuthorization"] is False and props["enablePurgeProtection"] is True, props
            assert props["softDeleteRetentionInDays"] == 7, props
            policies = {p["objectId"]: p for p in props["accessPolicies"]}
            assert e.admin_object_id in policies, f"the creator's own policy is missing: {policies}"
            assert "all" in [k.lower() for k in policies[e.admin_object_id]["permissions"]["keys"]], policies
            state["cmk_id"] = vault["id"]

        self.step(
            "keyvault create (access policies, self permissions)",
            ["keyvault", "create", "-n", "cmk", "-g", GROUP, "-l", LOCATION, "--enable-rbac-authorization", "false",
             "--enable-purge-protection", "true", "--retention-days", "7", "-o", "json"],
            access_policy_vault,
        )

        def rbac_vault(vault):
            props = vault["properties"]
            assert props["enableRbacAuthorization"] is True and props["accessPolicies"] == [], props
            assert props["enablePurgeProtection"] is True and props["softDeleteRetentionInDays"] == 7, props
            assert props["vaultUri"] == f"https://cmkrbac.vault.localhost:{port}/", props
            state["rbac_id"] = vault["id"]

        self.step(
            "keyvault create (RBAC)",
            ["keyvault", "create", "-n", "cmkrbac", "-g", GROUP, "-l", LOCATION, "--enable-rbac-authorization", "true",
             "--enable-purge-protection", "true", "--retention-days", "7", "-o", "json"],
            rbac_vault,
        )

        def identity_made(identity):
            assert identity["name"] == "app-id" and identity["resourceGroup"] == GROUP, identity
            state["app_oid"], state["app_client"] = identity["principalId"], identity["clientId"]

        self.step("identity create", ["identity", "create", "-n", "app-id", "-g", GROUP, "-o", "json"], identity_made)
        app_oid, app_client = state.get("app_oid", "missing"), state.get("app_client", "missing")

        def has_policy(keys):
            def check(vault):
                policies = {p["objectId"]: p for p in vault["properties"]["accessPolicies"]}
                assert app_oid in policies, policies
                granted = sorted(k.lower() for k in policies[app_oid]["permissions"]["keys"])
                assert granted == sorted(k.lower() for k in keys), granted
            return check

        self.step(
            "keyvault set-policy -g (object id)",
            ["keyvault", "set-policy", "-n", "cmk", "-g", GROUP, "--object-id", app_oid,
             "--key-permissions", "get", "wrapKey", "unwrapKey", "-o", "json"],
            has_policy(["get", "wrapKey", "unwrapKey"]),
        )
        self.step(
            "keyvault set-policy without -g (--spn, a Graph lookup)",
            ["keyvault", "set-policy", "-n", "cmk", "--spn", app_client,
             "--key-permissions", "get", "wrapKey", "unwrapKey", "encrypt", "decrypt", "-o", "json"],
            has_policy(["get", "wrapKey", "unwrapKey", "encrypt", "decrypt"]),
        )

        rbac_id = state.get("rbac_id", f"/subscriptions/{sub}/resourceGroups/{GROUP}/providers/Microsoft.KeyVault/vaults/cmkrbac")

        def assignment_for(principal, role_id):
            def check(assignment):
                assert assignment["principalId"] == principal, assignment
                assert assignment["roleDefinitionId"].endswith(role_id), assignment
                assert assignment["scope"].lower() == rbac_id.lower(), assignment
            return check

        crypto_user = "12338af0-0e69-4776-bea7-57ae8d297424"
        crypto_officer = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
        self.step(
            "role assignment create --assignee <appId>",
            ["role", "assignment", "create", "--assignee", app_client, "--role", "Key Vault Crypto User",
             "--scope", rbac_id, "-o", "json"],
            assignment_for(app_oid, crypto_user),
        )
        self.step(
            "role assignment create --assignee-object-id",
            ["role", "assignment", "create", "--assignee-object-id", e.admin_object_id,
             "--assignee-principal-type", "ServicePrincipal", "--role", "Key Vault Crypto Officer",
             "--scope", rbac_id, "-o", "json"],
            assignment_for(e.admin_object_id, crypto_officer),
        )

        def listed_with_names(assignments):
            assert [(a["principalId"], a["roleDefinitionName"]) for a in assignments] == [(app_oid, "Key Vault Crypto User")], assignments
            assert assignments[0]["principalName"] == app_client, "getByIds fills the principal's name"

        self.step(
            "role assignment list --assignee --scope",
            ["role", "assignment", "list", "--assignee", app_client, "--scope", rbac_id, "-o", "json"],
            listed_with_names,
        )
        self.step(
            "role assignment list --assignee (subscription scope)",
            ["role", "assignment", "list", "--assignee", app_client, "--all", "-o", "json"],
            listed_with_names,
        )

        key_prefix = f"https://cmk.vault.localhost:{port}/keys/cmk-key/"

        def key_created(key):
            assert key["key"]["kid"].startswith(key_prefix) and key["key"]["kty"] == "RSA", key
            state["v1"] = key["key"]["kid"]

        self.step("keyvault key create", ["keyvault", "key", "create", "--vault-name", "cmk", "-n", "cmk-key",
                                          "--kty", "RSA", "--size", "2048", "-o", "json"], key_created)
        self.step(
            "keyvault key rotate",
            ["keyvault", "key", "rotate", "--vault-name", "cmk", "-n", "cmk-key", "-o", "json"],
            lambda key: self.expect(key["key"]["kid"].startswith(key_prefix) and key["key"]["kid"] != state.get("v1"), key),
        )
        self.step(
            "keyvault key list-versions",
            ["keyvault", "key", "list-versions", "--vault-name", "cmk", "-n", "cmk-key", "-o", "json"],
            lambda versions: self.expect(len(versions) == 2, versions),
        )
        self.step(
            "keyvault key set-attributes --enabled false",
            ["keyvault", "key", "set-attributes", "--vault-name", "cmk", "-n", "cmk-key", "--enabled", "false", "-o", "json"],
            lambda key: self.expect(key["attributes"]["enabled"] is False, key),
        )
        self.step(
            "keyvault key delete",
            ["keyvault", "key", "delete", "--vault-name", "cmk", "-n", "cmk-key", "-o", "json"],
            lambda deleted: self.expect(deleted["recoveryId"].endswith("/deletedkeys/cmk-key"), deleted),
        )
        self.step(
            "keyvault key purge (refused: purge protection)",
            ["keyvault", "key", "purge", "--vault-name", "cmk", "-n", "cmk-key"],
            expect_failure="purge protection is enabled",
        )
        self.step(
            "keyvault key recover",
            ["keyvault", "key", "recover", "--vault-name", "cmk", "-n", "cmk-key", "-o", "json"],
            lambda key: self.expect(key["key"]["kid"].startswith(key_prefix), key),
        )
        self.step(
            "keyvault key set-attributes --enabled true",
            ["keyvault", "key", "set-attributes", "--vault-name", "cmk", "-n", "cmk-key", "--enabled", "true", "-o", "json"],
            lambda key: self.expect(key["attributes"]["enabled"] is True, key),
        )

        def names(vaults):
            return sorted(v["name"] for v in vaults)

        self.step("keyvault list", ["keyvault", "list", "-o", "json"],
                  lambda vaults: self.expect(names(vaults) == ["cmk", "cmkrbac", "default"], vaults))
        self.step("keyvault list -g", ["keyvault", "list", "-g", GROUP, "-o", "json"],
                  lambda vaults: self.expect(names(vaults) == ["cmk", "cmkrbac"], vaults))
        self.step(
            "keyvault show without -g",
            ["keyvault", "show", "-n", "cmk", "-o", "json"],
            lambda vault: self.expect(vault["name"] == "cmk" and vault["resourceGroup"] == GROUP, vault),
        )
        self.step("keyvault delete without -g", ["keyvault", "delete", "-n", "cmkrbac", "-o", "json"])
        self.step(
            "keyvault list-deleted",
            ["keyvault", "list-deleted", "-o", "json"],
            lambda deleted: self.expect(names(deleted) == ["cmkrbac"] and deleted[0]["properties"]["purgeProtectionEnabled"], deleted),
        )
        self.step(
            "keyvault recover",
            ["keyvault", "recover", "-n", "cmkrbac", "-o", "json"],
            lambda vault: self.expect(vault["name"] == "cmkrbac" and vault["properties"]["enableRbacAuthorization"], vault),
        )
        self.step("keyvault delete -g", ["keyvault", "delete", "-n", "cmkrbac", "-g", GROUP, "-o", "json"])
        self.step(
            "keyvault purge (refused: purge protection)",
            ["keyvault", "purge", "-n", "cmkrbac"],
            expect_failure="purge protection",
        )

        hsm_steps.run(self, GROUP, LOCATION, self.workdir, app_oid)

        # The identity's own key use, signed in as a service is: the App Service variables.
        self.step("logout", ["logout"])
        identity_env = {"IDENTITY_ENDPOINT": e.identity_endpoint, "IDENTITY_HEADER": e.identity_header}

        def signed_in_as_the_identity(accounts):
            # The identity holds no role on the subscription itself: with --allow-no-subscriptions
            # az keeps a tenant-level account when GET /subscriptions lists none.
            assert len(accounts) == 1 and accounts[0]["id"] in (sub, e.tenant), accounts
            assert accounts[0]["tenantId"] == e.tenant, accounts
            assert accounts[0]["user"]["name"] == "userAssignedIdentity", accounts
            assert accounts[0]["user"]["assignedIdentityInfo"] == f"MSIClient-{app_client}", accounts

        self.step(
            "login --identity (App Service variables)",
            ["login", "--identity", "--client-id", app_client, "--allow-no-subscriptions", "-o", "json"],
            signed_in_as_the_identity,
            env=identity_env,
        )
        self.step(
            "account show (the managed identity)",
            ["account", "show", "-o", "json"],
            lambda account: signed_in_as_the_identity([account]),
            env=identity_env,
        )
        plaintext = base64.b64encode(b"a data-encryption key, 32 bytes").decode()

        def encrypted(result):
            assert result["kid"].startswith(key_prefix) and result["result"] != plaintext, result
            state["ciphertext"] = result["result"]

        self.step(
            "identity: key encrypt",
            ["keyvault", "key", "encrypt", "--vault-name", "cmk", "-n", "cmk-key", "-a", "RSA-OAEP-256",
             "--value", plaintext, "--data-type", "base64", "-o", "json"],
            encrypted,
            env=identity_env,
        )
        self.step(
            "identity: key decrypt",
            ["keyvault", "key", "decrypt", "--vault-name", "cmk", "-n", "cmk-key", "-a", "RSA-OAEP-256",
             "--value", state.get("ciphertext", plaintext), "--data-type", "base64", "-o", "json"],
            lambda result: self.expect(result["result"] == plaintext, result),
            env=identity_env,
        )

    @staticmethod
    def expect(condition, output):
        assert condition, json.dumps(output)[:2000]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KVEMU_BIN")
    if not binary:
        raise SystemExit("usage: admin_flow.py /path/to/keyvault-emulator")
    workdir = tempfile.mkdtemp(prefix="kvemu-az.")
    emulator = Emulator(binary, workdir)
    started = time.monotonic()
    try:
        flow = Flow(emulator, workdir)
        print(f"admin_flow: azure-cli against https://localhost:{emulator.https_port}", flush=True)
        flow.run()
    finally:
        emulator.stop()
    total = len(flow.passed) + len(flow.failed)
    print(f"admin_flow: {total} steps in {time.monotonic() - started:.0f}s")
    if flow.failed:
        print("admin_flow: emulator stderr (tail):\n" + emulator.stderr())
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"az: {len(flow.passed)} passed, {len(flow.failed)} failed")
    return 1 if flow.failed else 0


if __name__ == "__main__":
    sys.exit(main())
