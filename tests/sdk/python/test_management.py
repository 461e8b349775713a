"""Provisioning with the official management SDKs (ARM), then using what was provisioned.

The set-up flow of issue 6, carried out with azure-mgmt-resource, azure-mgmt-keyvault,
azure-mgmt-msi and azure-mgmt-authorization exactly as against Azure, except for two settings:
the clients get `base_url=https://localhost:{https port}` and
`credential_scopes=["https://management.azure.com/.default"]`, and the credential is a
ClientSecretCredential for the emulator's default admin service principal at the emulator's
Entra-like authority (`authority=https://localhost:{https port}`, `disable_instance_discovery`).

  1. a resource group, and a vault with soft-delete (7 days) and purge protection, with an
     access policy for the admin, who then creates a key in it (data plane);
  2. a user-assigned identity (principalId, clientId, tenantId), which the App Service endpoint
     hands out by client id (ManagedIdentityCredential(client_id=...));
  3. an access policy get/wrapKey/unwrapKey for it;
  4. under that identity, azure-keyvault-keys wraps and unwraps;
  5. the policy is removed: the next unwrap is a 403;
  6. the vault switches to RBAC and the identity gets "Key Vault Crypto Service Encryption User"
     on the key alone: unwrap works again;
  7. the vault is deleted: its keys are unreachable, purge is refused (purge protection),
     createMode "recover" brings the vault and its keys back.

The steps are tests of this module, in this order, sharing one vault (`flow`); each step asserts
that the previous ones got as far as it needs. Other tests here (validation errors, purge
without purge protection, owners only, role definitions, identity deletion, listings) use their
own resources or only read the flow's.

The subscription id is printed nowhere: it is derived as the emulator derives it (UUIDv5 of the
tenant, see src/auth/identity.rs `default_subscription`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import (
    AccessPolicyEntry,
    Permissions,
    Sku,
    VaultAccessPolicyParameters,
    VaultAccessPolicyProperties,
    VaultCreateOrUpdateParameters,
    VaultPatchParameters,
    VaultPatchProperties,
    VaultProperties,
)
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.v2024_11_30.models import Identity as UserAssignedIdentity
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import ResourceGroup

ADMIN_SECRET = "keyvault-emulator-admin-secret"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
LOCATION = "westeurope"
WRAP = KeyWrapAlgorithm.rsa_oaep_256
# Built-in role definitions, with their ids in Azure.
CRYPTO_SERVICE_ENCRYPTION_USER = ("Key Vault Crypto Service Encryption User", "e147488a-f6f5-4113-8e2d-b22465e65bf6")
CRYPTO_OFFICER = ("Key Vault Crypto Officer", "14b46e9e-c2b7-41b4-b07b-48a6ebf60603")

# Environment variables that would make a credential pick another identity than intended.
_IDENTITY_SELECTING_VARS = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_USERNAME",
)


def emulator_subscription(tenant_id: str) -> str:
    """The emulator's subscription id: UUIDv5 of '{tenant}/subscription/subscription'."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/keyvault-emulator/identities")
    return str(uuid.uuid5(namespace, f"{tenant_id}/subscription/subscription"))


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------------------
# the management clients, as a user's provisioning code builds them
# --------------------------------------------------------------------------------------
@dataclass
class Arm:
    tenant_id: str
    subscription_id: str
    https_port: int
    http_url: str  # the emulator's control port (plain HTTP)
    admin: dict  # the default admin service principal, as /_emulator/identities lists it
    credential: ClientSecretCredential
    resources: ResourceManagementClient
    keyvault: KeyVaultManagementClient
    msi: ManagedServiceIdentityClient
    authorization: AuthorizationManagementClient

    def identity(self, name: str) -> dict:
        """An identity as GET /_emulator/identities lists it."""
        return next(i for i in _control(self.http_url, "/_emulator/identities")["value"] if i["name"] == name)

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def vault_uri(self, name: str) -> str:
        return f"https://{name}.vault.localhost:{self.https_port}/"

    def role_definition(self, scope: str, role: tuple[str, str]):
        """The built-in role definition called role[0], listed at `scope`; checks its real id."""
        name, guid = role
        found = [d for d in self.authorization.role_definitions.list(scope) if d.role_name == name]
        assert len(found) == 1, f"{len(found)} role definitions named {name!r} at {scope}"
        definition = found[0]
        assert definition.name == guid, definition.as_dict()
        assert definition.id.lower().endswith(f"/providers/microsoft.authorization/roledefinitions/{guid}"), definition.id
        return definition

    def assign(self, scope: str, assignment: str, role: tuple[str, str], principal_id: str):
        definition = self.role_definition(scope, role)
        return self.authorization.role_assignments.create(
            scope,
            assignment,
            RoleAssignmentCreateParameters(
                role_definition_id=definition.id, principal_id=principal_id, principal_type="ServicePrincipal"
            ),
        )

    def close(self) -> None:
        for client in (self.resources, self.keyvault, self.msi, self.authorization):
            client.close()
        self.credential.close()


def _control(http_url: str, path: str) -> dict:
    with urllib.request.urlopen(http_url + path, timeout=30) as response:
        assert response.status == 200, f"GET {path}: HTTP {response.status}"
        return json.loads(response.read())


@pytest.fixture(scope="module")
def arm(emulator):
    tenant_id = emulator.exports["AZURE_TENANT_ID"]
    https_port = urllib.parse.urlsplit(emulator.exports["AZURE_KEYVAULT_URL"]).port
    endpoint = urllib.parse.urlsplit(emulator.exports["IDENTITY_ENDPOINT"])
    http_url = f"{endpoint.scheme}://{endpoint.netloc}"
    admin = next(i for i in _control(http_url, "/_emulator/identities")["value"] if i["name"] == "admin")
    subscription_id = emulator_subscription(tenant_id)

    credential = ClientSecretCredential(
        tenant_id,
        admin["clientId"],
        ADMIN_SECRET,
        authority=f"https://localhost:{https_port}",
        disable_instance_discovery=True,
    )
    options = {"base_url": f"https://localhost:{https_port}", "credential_scopes": [MANAGEMENT_SCOPE]}
    arm = Arm(
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        https_port=https_port,
        http_url=http_url,
        admin=admin,
        credential=credential,
        resources=ResourceManagementClient(credential, subscription_id, **options),
        keyvault=KeyVaultManagementClient(credential, subscription_id, **options),
        msi=ManagedServiceIdentityClient(credential, subscription_id, **options),
        authorization=AuthorizationManagementClient(credential, subscription_id, **options),
    )
    yield arm
    arm.close()


@pytest.fixture
def clean_identity_env(monkeypatch):
    """No stray variable (from the developer's shell) chooses the identity for these tests."""
    for var in _IDENTITY_SELECTING_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


# --------------------------------------------------------------------------------------
# the flow's shared state
# --------------------------------------------------------------------------------------
@dataclass
class Flow:
    group: str
    vault: str
    key_name: str = "storage-cmk"
    vault_id: str | None = None
    vault_uri: str | None = None
    key_id: str | None = None
    identity: object | None = None  # the user-assigned identity (azure.mgmt.msi model)
    data_key: bytes = field(default_factory=lambda: os.urandom(32))
    wrapped: bytes | None = None
    assignments: dict = field(default_factory=dict)  # assignment name -> (scope, role, principal)
    done: set = field(default_factory=set)

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"an earlier step of the flow did not complete: {', '.join(missing)}", pytrace=False)

    @property
    def key_scope(self) -> str:
        return f"{self.vault_id}/keys/{self.key_name}"


@pytest.fixture(scope="module")
def flow() -> Flow:
    return Flow(group=_unique("cmk-rg"), vault=_unique("cmk-vault"))


def _identity_credential(client_id: str) -> ManagedIdentityCredential:
    # IDENTITY_ENDPOINT / IDENTITY_HEADER (App Service) come from the banner; the client id
    # selects the user-assigned identity, as on an App Service with several identities.
    return ManagedIdentityCredential(client_id=client_id)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _assert_vault_forbidden(excinfo, *, oid: str, rbac: bool, what: str) -> None:
    err = excinfo.value
    body = err.response.text() if err.response is not None else ""
    assert err.status_code == 403, f"{what}: HTTP {err.status_code}: {body}"
    assert err.error is not None and err.error.code == "Forbidden", f"{what}: {body}"
    inner = json.loads(body)["error"].get("innererror", {}).get("code")
    assert inner == ("ForbiddenByRbac" if rbac else "AccessDenied"), f"{what}: {body}"
    assert f"oid={oid}" in err.message, f"{what}: the caller is not {oid}: {err.message}"


def _admin_key_client(arm: Arm, flow: Flow) -> KeyClient:
    return KeyClient(flow.vault_uri, arm.credential)


# --------------------------------------------------------------------------------------
# 1. resource group and vault; the admin creates a key
# --------------------------------------------------------------------------------------
def test_subscription_preflight(arm, emulator):
    # The banner names the subscription the test derived.
    banner = [line for line in emulator.stdout_lines if "Management API:" in line]
    assert banner and f"subscription {arm.subscription_id}" in banner[0], banner

    # GET /subscriptions and /subscriptions/{s} answer (tools call them before anything else),
    # through the management client's own pipeline (ARM authentication and all).
    def get(path: str) -> dict:
        response = arm.resources._client.send_request(HttpRequest("GET", f"{arm.base_url}{path}?api-version=2022-12-01"))
        assert response.status_code == 200, f"GET {path}: HTTP {response.status_code}: {response.text()}"
        return response.json()

    listed = get("/subscriptions")["value"]
    assert arm.subscription_id in [s["subscriptionId"] for s in listed], listed
    subscription = get(f"/subscriptions/{arm.subscription_id}")
    assert subscription["subscriptionId"] == arm.subscription_id
    assert subscription["tenantId"] == arm.tenant_id
    assert subscription["state"] == "Enabled"


def test_create_resource_group_and_vault(arm, flow):
    group = arm.resources.resource_groups.create_or_update(flow.group, ResourceGroup(location=LOCATION))
    assert group.name == flow.group
    assert group.id == f"/subscriptions/{arm.subscription_id}/resourceGroups/{flow.group}"
    assert arm.resources.resource_groups.check_existence(flow.group) is True
    assert arm.resources.resource_groups.get(flow.group).name == flow.group

    poller = arm.keyvault.vaults.begin_create_or_update(
        flow.group,
        flow.vault,
        VaultCreateOrUpdateParameters(
            location=LOCATION,
            tags={"purpose": "storage-cmk"},
            properties=VaultProperties(
                tenant_id=arm.tenant_id,
                sku=Sku(family="A", name="standard"),
                enable_soft_delete=True,
                soft_delete_retention_in_days=7,
                enable_purge_protection=True,
                # Since management api-version 2026-02-01 (this SDK sends a later one) a vault
                # without the flag uses RBAC, as in Azure: access policies need it said.
                enable_rbac_authorization=False,
                access_policies=[
                    AccessPolicyEntry(
                        tenant_id=arm.tenant_id,
                        object_id=arm.admin["objectId"],
                        permissions=Permissions(keys_property=["all"]),
                    )
                ],
            ),
        ),
    )
    vault = poller.result()
    assert poller.done()
    expected_id = (
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{flow.group}"
        f"/providers/Microsoft.KeyVault/vaults/{flow.vault}"
    )
    assert vault.id == expected_id
    assert (vault.name, vault.type, vault.location) == (flow.vault, "Microsoft.KeyVault/vaults", LOCATION)
    assert vault.tags == {"purpose": "storage-cmk"}
    props = vault.properties
    assert props.vault_uri == arm.vault_uri(flow.vault)
    assert props.tenant_id == arm.tenant_id
    assert props.sku.name == "standard" and props.sku.family == "A"
    assert props.enable_soft_delete is True
    assert props.soft_delete_retention_in_days == 7
    assert props.enable_purge_protection is True
    assert props.enable_rbac_authorization is False
    assert props.provisioning_state == "Succeeded"
    [policy] = props.access_policies
    assert policy.object_id == arm.admin["objectId"]
    assert policy.permissions.keys_property == ["all"]

    read = arm.keyvault.vaults.get(flow.group, flow.vault)
    assert read.id == expected_id and read.properties.vault_uri == props.vault_uri
    assert [v.name for v in arm.keyvault.vaults.list_by_resource_group(flow.group)] == [flow.vault]
    everywhere = [v.name for v in arm.keyvault.vaults.list_by_subscription()]
    assert flow.vault in everywhere and "default" in everywhere
    flow.vault_id, flow.vault_uri = vault.id, props.vault_uri

    # The data plane enforces what ARM set: the admin's access policy lets it create the key.
    client = _admin_key_client(arm, flow)
    try:
        key = client.create_rsa_key(flow.key_name, size=3072)
        assert key.id.startswith(f"{flow.vault_uri}keys/{flow.key_name}/"), key.id
        flow.key_id = key.id
    finally:
        client.close()
    flow.done.add("vault")


# --------------------------------------------------------------------------------------
# 2. the user-assigned identity
# --------------------------------------------------------------------------------------
def test_create_user_assigned_identity(arm, flow, clean_identity_env):
    flow.needs("vault")
    name = "storage-cmk-identity"
    created = arm.msi.user_assigned_identities.create_or_update(
        flow.group, name, UserAssignedIdentity(location=LOCATION, tags={"purpose": "storage-cmk"})
    )
    assert created.id == (
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{flow.group}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
    assert (created.name, created.type) == (name, "Microsoft.ManagedIdentity/userAssignedIdentities")
    assert created.location == LOCATION
    assert created.tenant_id == arm.tenant_id
    uuid.UUID(created.principal_id)
    uuid.UUID(created.client_id)
    assert created.principal_id != created.client_id

    read = arm.msi.user_assigned_identities.get(flow.group, name)
    assert (read.id, read.principal_id, read.client_id) == (created.id, created.principal_id, created.client_id)
    assert read.tenant_id == arm.tenant_id
    assert created.id in [i.id for i in arm.msi.user_assigned_identities.list_by_resource_group(flow.group)]
    # PUT replaces the whole resource, tags included, so the tags go along again.
    again = arm.msi.user_assigned_identities.create_or_update(
        flow.group, name, UserAssignedIdentity(location=LOCATION, tags={"purpose": "storage-cmk"})
    )
    assert (again.principal_id, again.client_id) == (created.principal_id, created.client_id), "PUT again keeps the ids"

    # The App Service endpoint hands out this identity by its client id.
    credential = _identity_credential(created.client_id)
    try:
        token = credential.get_token(f"https://vault.localhost:{arm.https_port}/.default").token
    finally:
        credential.close()
    claims = _claims(token)
    assert claims["oid"] == created.principal_id, claims
    assert claims["tid"] == arm.tenant_id, claims
    flow.identity = created
    flow.done.add("identity")


def test_user_assigned_identity_reads_back_its_location_and_tags(arm, flow):
    flow.needs("identity")
    read = arm.msi.user_assigned_identities.get(flow.group, flow.identity.name)
    assert (read.location, read.tags) == (LOCATION, {"purpose": "storage-cmk"}), read.as_dict()
    [listed] = [i for i in arm.msi.user_assigned_identities.list_by_resource_group(flow.group) if i.id == read.id]
    assert (listed.location, listed.tags) == (LOCATION, {"purpose": "storage-cmk"}), listed.as_dict()


def test_user_assigned_identities_listed_by_subscription(arm, flow):
    flow.needs("identity")
    listed = [i for i in arm.msi.user_assigned_identities.list_by_subscription() if i.id == flow.identity.id]
    assert [i.principal_id for i in listed] == [flow.identity.principal_id]


def test_user_assigned_identity_names_are_per_resource_group(arm, flow):
    flow.needs("identity")
    other_group = _unique("other-rg")
    arm.resources.resource_groups.create_or_update(other_group, ResourceGroup(location=LOCATION))
    twin = arm.msi.user_assigned_identities.create_or_update(
        other_group, flow.identity.name, UserAssignedIdentity(location=LOCATION)
    )
    assert twin.id != flow.identity.id and twin.id.endswith(f"/userAssignedIdentities/{flow.identity.name}")
    assert twin.principal_id != flow.identity.principal_id and twin.client_id != flow.identity.client_id
    # The first one is untouched.
    assert arm.msi.user_assigned_identities.get(flow.group, flow.identity.name).principal_id == flow.identity.principal_id


# --------------------------------------------------------------------------------------
# 3.-5. an access policy for the identity; wrap/unwrap; removed, unwrap is refused
# --------------------------------------------------------------------------------------
def _policy(arm: Arm, object_id: str, keys: list[str]) -> VaultAccessPolicyParameters:
    return VaultAccessPolicyParameters(
        properties=VaultAccessPolicyProperties(
            access_policies=[
                AccessPolicyEntry(tenant_id=arm.tenant_id, object_id=object_id, permissions=Permissions(keys_property=keys))
            ]
        )
    )


def test_access_policy_grants_wrap_and_unwrap_and_its_removal_revokes(arm, flow, clean_identity_env):
    flow.needs("vault", "identity")
    principal = flow.identity.principal_id
    credential = _identity_credential(flow.identity.client_id)
    crypto = CryptographyClient(flow.key_id, credential)
    try:
        # Before any grant the identity is refused.
        with pytest.raises(HttpResponseError) as refused:
            crypto.unwrap_key(WRAP, os.urandom(384))
        _assert_vault_forbidden(refused, oid=principal, rbac=False, what="unwrap before the policy")

        added = arm.keyvault.vaults.update_access_policy(
            flow.group, flow.vault, "add", _policy(arm, principal, ["get", "wrapKey", "unwrapKey"])
        )
        assert principal in [p.object_id for p in added.properties.access_policies]
        policies = {p.object_id: p for p in arm.keyvault.vaults.get(flow.group, flow.vault).properties.access_policies}
        assert sorted(policies[principal].permissions.keys_property) == ["get", "unwrapKey", "wrapKey"]
        assert arm.admin["objectId"] in policies, "add leaves the other policies alone"

        # Under the identity, azure-keyvault-keys gets the key, wraps (locally) and unwraps.
        crypto = CryptographyClient(flow.key_id, credential)
        wrapped = crypto.wrap_key(WRAP, flow.data_key)
        assert wrapped.key_id == flow.key_id
        assert crypto.unwrap_key(WRAP, wrapped.encrypted_key).key == flow.data_key
        flow.wrapped = wrapped.encrypted_key
        # ... and holds nothing more.
        key_client = KeyClient(flow.vault_uri, credential)
        try:
            with pytest.raises(HttpResponseError) as refused:
                key_client.create_rsa_key(_unique("not-mine"), size=2048)
            _assert_vault_forbidden(refused, oid=principal, rbac=False, what="create")
        finally:
            key_client.close()

        # Removed: the very next unwrap is refused.
        removed = arm.keyvault.vaults.update_access_policy(
            flow.group, flow.vault, "remove", _policy(arm, principal, ["get", "wrapKey", "unwrapKey"])
        )
        assert principal not in [p.object_id for p in removed.properties.access_policies or []]
        with pytest.raises(HttpResponseError) as refused:
            crypto.unwrap_key(WRAP, flow.wrapped)
        _assert_vault_forbidden(refused, oid=principal, rbac=False, what="unwrap after removal")
        assert principal not in [
            p.object_id for p in arm.keyvault.vaults.get(flow.group, flow.vault).properties.access_policies
        ]
    finally:
        crypto.close()
        credential.close()
    flow.done.add("access-policy")


# --------------------------------------------------------------------------------------
# 6. RBAC, with the role on the key alone
# --------------------------------------------------------------------------------------
def test_rbac_with_a_key_scoped_role(arm, flow, clean_identity_env):
    flow.needs("vault", "identity", "access-policy")
    principal = flow.identity.principal_id
    updated = arm.keyvault.vaults.update(
        flow.group,
        flow.vault,
        VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=True)),
    )
    assert updated.properties.enable_rbac_authorization is True
    assert updated.properties.enable_purge_protection is True, "a PATCH keeps what it does not name"
    assert updated.properties.soft_delete_retention_in_days == 7

    # The admin keeps managing keys through a role at vault scope (policies no longer count).
    admin_assignment = str(uuid.uuid4())
    arm.assign(flow.vault_id, admin_assignment, CRYPTO_OFFICER, arm.admin["objectId"])
    flow.assignments[admin_assignment] = (flow.vault_id, CRYPTO_OFFICER, arm.admin["objectId"])

    credential = _identity_credential(flow.identity.client_id)
    crypto = CryptographyClient(flow.key_id, credential)
    try:
        with pytest.raises(HttpResponseError) as refused:
            crypto.unwrap_key(WRAP, flow.wrapped)
        _assert_vault_forbidden(refused, oid=principal, rbac=True, what="unwrap in RBAC mode with no role")

        name = str(uuid.uuid4())
        created = arm.assign(flow.key_scope, name, CRYPTO_SERVICE_ENCRYPTION_USER, principal)
        flow.assignments[name] = (flow.key_scope, CRYPTO_SERVICE_ENCRYPTION_USER, principal)
        assert created.name == name
        assert created.scope.lower() == flow.key_scope.lower(), created.as_dict()
        assert created.principal_id == principal
        assert created.role_definition_id.lower().endswith(CRYPTO_SERVICE_ENCRYPTION_USER[1])
        assert created.id.lower() == f"{flow.key_scope}/providers/Microsoft.Authorization/roleAssignments/{name}".lower()

        # Unwrap works again, on the next request.
        assert crypto.unwrap_key(WRAP, flow.wrapped).key == flow.data_key
        assert crypto.wrap_key(WRAP, flow.data_key).key_id == flow.key_id
    finally:
        crypto.close()
        credential.close()
    flow.done.add("rbac")


def test_role_assignments_read_list_and_delete(arm, flow, clean_identity_env):
    flow.needs("rbac")
    principal = flow.identity.principal_id
    [name] = [n for n, (scope, _, p) in flow.assignments.items() if p == principal and scope == flow.key_scope]
    read = arm.authorization.role_assignments.get(flow.key_scope, name)
    assert (read.name, read.principal_id) == (name, principal)

    by_principal = f"principalId eq '{principal}'"
    at_key = list(arm.authorization.role_assignments.list_for_scope(flow.key_scope, filter=by_principal))
    assert [a.name for a in at_key] == [name], [a.as_dict() for a in at_key]
    admins = list(
        arm.authorization.role_assignments.list_for_scope(flow.vault_id, filter=f"principalId eq '{arm.admin['objectId']}'")
    )
    assert all(a.principal_id == arm.admin["objectId"] for a in admins) and admins, [a.as_dict() for a in admins]

    # Deleted: refused on the next request; assigned again (same name): works again.
    credential = _identity_credential(flow.identity.client_id)
    crypto = CryptographyClient(flow.key_id, credential)
    try:
        deleted = arm.authorization.role_assignments.delete(flow.key_scope, name)
        assert deleted is None or deleted.name == name
        with pytest.raises(ResourceNotFoundError):
            arm.authorization.role_assignments.get(flow.key_scope, name)
        with pytest.raises(HttpResponseError) as refused:
            crypto.unwrap_key(WRAP, flow.wrapped)
        _assert_vault_forbidden(refused, oid=principal, rbac=True, what="unwrap after the assignment's deletion")
        arm.assign(flow.key_scope, name, CRYPTO_SERVICE_ENCRYPTION_USER, principal)
        assert crypto.unwrap_key(WRAP, flow.wrapped).key == flow.data_key
    finally:
        crypto.close()
        credential.close()


def test_role_assignments_listed_by_principal_below_the_scope(arm, flow):
    """ARM: `$filter=principalId eq '{id}'` returns the principal's assignments at, above *and
    below* the scope, so a listing at the vault shows the identity's key-scoped assignment."""
    flow.needs("rbac")
    principal = flow.identity.principal_id
    [name] = [n for n, (scope, _, p) in flow.assignments.items() if p == principal and scope == flow.key_scope]
    at_vault = list(
        arm.authorization.role_assignments.list_for_scope(flow.vault_id, filter=f"principalId eq '{principal}'")
    )
    assert [a.name for a in at_vault] == [name], [a.as_dict() for a in at_vault]
    assert at_vault[0].scope.lower() == flow.key_scope.lower()


# --------------------------------------------------------------------------------------
# 7. delete, purge refused, recover
# --------------------------------------------------------------------------------------
def test_deleted_vault_is_unreachable_unpurgeable_and_recoverable(arm, flow, clean_identity_env):
    flow.needs("rbac")
    arm.keyvault.vaults.delete(flow.group, flow.vault)
    with pytest.raises(ResourceNotFoundError):
        arm.keyvault.vaults.get(flow.group, flow.vault)
    assert flow.vault not in [v.name for v in arm.keyvault.vaults.list_by_resource_group(flow.group)]

    # Its keys are unreachable.
    client = _admin_key_client(arm, flow)
    try:
        with pytest.raises(HttpResponseError) as unreachable:
            client.get_key(flow.key_name)
        assert unreachable.value.status_code == 404, unreachable.value.message
    finally:
        client.close()

    # Listed among the deleted vaults, with its purge date 7 days after the deletion.
    deleted = {d.name: d for d in arm.keyvault.vaults.list_deleted()}
    assert flow.vault in deleted, sorted(deleted)
    props = deleted[flow.vault].properties
    assert props.vault_id.lower() == flow.vault_id.lower(), deleted[flow.vault].as_dict()
    assert props.location == LOCATION
    assert props.purge_protection_enabled is True
    assert (props.scheduled_purge_date - props.deletion_date).days == 7, deleted[flow.vault].as_dict()
    one = arm.keyvault.vaults.get_deleted(flow.vault, LOCATION)
    assert one.name == flow.vault and one.properties.vault_id.lower() == flow.vault_id.lower()
    assert one.id.lower().endswith(f"/locations/{LOCATION}/deletedvaults/{flow.vault}".lower()), one.id

    # The name stays taken; purge is refused while purge protection holds.
    create = VaultCreateOrUpdateParameters(
        location=LOCATION,
        properties=VaultProperties(tenant_id=arm.tenant_id, sku=Sku(family="A", name="standard")),
    )
    with pytest.raises(HttpResponseError) as taken:
        arm.keyvault.vaults.begin_create_or_update(flow.group, flow.vault, create).result()
    assert (taken.value.status_code, taken.value.error.code) == (409, "ConflictError"), taken.value.message
    with pytest.raises(HttpResponseError) as refused:
        arm.keyvault.vaults.begin_purge_deleted(flow.vault, LOCATION).result()
    assert 400 <= refused.value.status_code < 500, refused.value.message
    assert arm.keyvault.vaults.get_deleted(flow.vault, LOCATION).name == flow.vault, "still there after the refusal"

    # createMode "recover" brings the vault back, with its properties and its keys.
    recovered = arm.keyvault.vaults.begin_create_or_update(
        flow.group,
        flow.vault,
        VaultCreateOrUpdateParameters(
            location=LOCATION,
            properties=VaultProperties(
                tenant_id=arm.tenant_id, sku=Sku(family="A", name="standard"), create_mode="recover"
            ),
        ),
    ).result()
    assert recovered.id == flow.vault_id
    assert recovered.properties.vault_uri == flow.vault_uri
    assert recovered.properties.enable_purge_protection is True
    assert recovered.properties.soft_delete_retention_in_days == 7
    assert recovered.properties.enable_rbac_authorization is True
    assert recovered.tags == {"purpose": "storage-cmk"}
    assert arm.admin["objectId"] in [p.object_id for p in recovered.properties.access_policies or []], (
        "the access policies come back with the vault"
    )
    assert flow.vault not in [d.name for d in arm.keyvault.vaults.list_deleted()]

    # Role assignments do not survive a vault's deletion in Azure: provisioning code puts them
    # back (the same assignment names: idempotent whether or not they survived here).
    for name, (scope, role, principal) in flow.assignments.items():
        arm.assign(scope, name, role, principal)

    client = _admin_key_client(arm, flow)
    credential = _identity_credential(flow.identity.client_id)
    crypto = CryptographyClient(flow.key_id, credential)
    try:
        assert client.get_key(flow.key_name).id == flow.key_id
        assert crypto.unwrap_key(WRAP, flow.wrapped).key == flow.data_key
    finally:
        crypto.close()
        credential.close()
        client.close()


# --------------------------------------------------------------------------------------
# beside the flow
# --------------------------------------------------------------------------------------
def test_vault_validation_errors(arm):
    group = _unique("validation-rg")
    arm.resources.resource_groups.create_or_update(group, ResourceGroup(location=LOCATION))

    def create(name: str, in_group: str = group, **properties):
        return arm.keyvault.vaults.begin_create_or_update(
            in_group,
            name,
            VaultCreateOrUpdateParameters(
                location=LOCATION,
                properties=VaultProperties(tenant_id=arm.tenant_id, sku=Sku(family="A", name="standard"), **properties),
            ),
        ).result()

    protected = create(_unique("protected"), soft_delete_retention_in_days=7, enable_purge_protection=True)
    with pytest.raises(HttpResponseError) as bad:
        create("no_such--name")
    assert (bad.value.status_code, bad.value.error.code) == (400, "VaultNameNotValid"), bad.value.message
    for days in (6, 91):
        with pytest.raises(HttpResponseError) as bad:
            create(_unique("retention"), soft_delete_retention_in_days=days)
        assert (bad.value.status_code, bad.value.error.code) == (400, "BadRequest"), bad.value.message
    with pytest.raises(HttpResponseError) as bad:
        arm.keyvault.vaults.update(
            group, protected.name, VaultPatchParameters(properties=VaultPatchProperties(enable_purge_protection=False))
        )
    assert (bad.value.status_code, bad.value.error.code) == (400, "BadRequest"), bad.value.message
    assert arm.keyvault.vaults.get(group, protected.name).properties.enable_purge_protection is True
    with pytest.raises(HttpResponseError) as taken:
        create(protected.name, in_group=_unique("elsewhere-rg"))
    assert (taken.value.status_code, taken.value.error.code) == (409, "VaultAlreadyExists"), taken.value.message
    with pytest.raises(ResourceNotFoundError):
        arm.keyvault.vaults.get(group, _unique("missing"))


def test_purge_without_purge_protection_frees_the_name(arm):
    group = _unique("purge-rg")
    arm.resources.resource_groups.create_or_update(group, ResourceGroup(location=LOCATION))
    name = _unique("purgeable")
    parameters = VaultCreateOrUpdateParameters(
        location=LOCATION,
        properties=VaultProperties(
            tenant_id=arm.tenant_id, sku=Sku(family="A", name="standard"), soft_delete_retention_in_days=7
        ),
    )
    created = arm.keyvault.vaults.begin_create_or_update(group, name, parameters).result()
    assert not created.properties.enable_purge_protection
    assert created.properties.enable_rbac_authorization is True, "the 2026-02-01 default: RBAC when unsaid"
    arm.keyvault.vaults.delete(group, name)
    deleted = arm.keyvault.vaults.get_deleted(name, LOCATION)
    assert not deleted.properties.purge_protection_enabled, deleted.as_dict()

    poller = arm.keyvault.vaults.begin_purge_deleted(name, LOCATION)
    poller.result()
    assert poller.done()
    with pytest.raises(ResourceNotFoundError):
        arm.keyvault.vaults.get_deleted(name, LOCATION)
    assert name not in [d.name for d in arm.keyvault.vaults.list_deleted()]
    # The name is free again: a new vault (no createMode recover) takes it.
    again = arm.keyvault.vaults.begin_create_or_update(group, name, parameters).result()
    assert again.id == created.id


def test_only_owners_may_manage(arm, clean_identity_env):
    # `app` (tests/sdk/kvemu.toml) is a service principal that is no owner.
    app = arm.identity("app")
    credential = ClientSecretCredential(
        arm.tenant_id, app["clientId"], "app-secret-value", authority=arm.base_url, disable_instance_discovery=True
    )
    client = KeyVaultManagementClient(
        credential, arm.subscription_id, base_url=arm.base_url, credential_scopes=[MANAGEMENT_SCOPE]
    )
    try:
        with pytest.raises(HttpResponseError) as refused:
            list(client.vaults.list_by_subscription())
        assert (refused.value.status_code, refused.value.error.code) == (403, "AuthorizationFailed"), refused.value.message
        assert app["objectId"] in refused.value.message
    finally:
        client.close()
        credential.close()


def test_role_definitions_are_the_built_in_ones(arm, flow):
    flow.needs("vault")
    scope = flow.vault_id
    for role in (CRYPTO_SERVICE_ENCRYPTION_USER, CRYPTO_OFFICER, ("Key Vault Administrator", "00482a5a-887f-4fb3-b363-3b7fe8e74483")):
        definition = arm.role_definition(scope, role)
        assert definition.role_type == "BuiltInRole", definition.as_dict()
    # The filter the tools send (az role assignment create --role NAME, Terraform).
    filtered = list(
        arm.authorization.role_definitions.list(scope, filter=f"roleName eq '{CRYPTO_SERVICE_ENCRYPTION_USER[0]}'")
    )
    assert [d.name for d in filtered] == [CRYPTO_SERVICE_ENCRYPTION_USER[1]], [d.as_dict() for d in filtered]
    [definition] = filtered
    data_actions = [a for p in definition.permissions for a in (p.data_actions or [])]
    assert "Microsoft.KeyVault/vaults/keys/unwrap/action" in data_actions, definition.as_dict()


def test_deleted_user_assigned_identity_gets_no_token(arm, flow, clean_identity_env):
    flow.needs("vault")
    name = _unique("short-lived")
    created = arm.msi.user_assigned_identities.create_or_update(flow.group, name, UserAssignedIdentity(location=LOCATION))
    scope = f"https://vault.localhost:{arm.https_port}/.default"
    credential = _identity_credential(created.client_id)
    try:
        assert _claims(credential.get_token(scope).token)["oid"] == created.principal_id
    finally:
        credential.close()

    arm.msi.user_assigned_identities.delete(flow.group, name)
    with pytest.raises(ResourceNotFoundError):
        arm.msi.user_assigned_identities.get(flow.group, name)
    assert created.id not in [i.id for i in arm.msi.user_assigned_identities.list_by_resource_group(flow.group)]
    credential = _identity_credential(created.client_id)  # a new credential: no cached token
    try:
        with pytest.raises(ClientAuthenticationError):
            credential.get_token(scope)
    finally:
        credential.close()
