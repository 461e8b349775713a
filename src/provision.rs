//! Applies what the command line and the config file declare, through the same registries and
//! keys service the APIs use: identities, vaults with their authorization, and seed keys.
//! Idempotent: applying the same declarations to the same data directory changes nothing.

use uuid::Uuid;

use crate::auth::identity::{DEFAULT_ADMIN, IdentityDirectory};
use crate::auth::policy::{AccessPolicy, Permissions};
use crate::auth::rbac::{AssignmentScope, RoleAssignment, RoleDefinition};
use crate::config_file::{ConfigFile, SeedKey, SeedMaterial, VaultDeclaration};
use crate::keys::KeyService;
use crate::keys::model::{KeyName, KeyOperation};
use crate::keys::service::{AttributeChanges, CreateKeyRequest, ImportKeyRequest, PrivateJwk};
use crate::vaults::{Authorization, Vault, VaultRegistry, VaultSettings};

/// The policies every vault gets unless its declaration opts out: the default managed identity
/// and the default admin service principal hold every key permission.
#[must_use]
pub fn default_policies(identities: &IdentityDirectory, tenant: Uuid) -> Vec<AccessPolicy> {
    let mut policies = vec![AccessPolicy::all_keys(tenant, identities.default_identity().object_id)];
    if let Some(admin) = identities.by_name(DEFAULT_ADMIN) {
        policies.push(AccessPolicy::all_keys(tenant, admin.object_id));
    }
    policies
}

/// Declares Managed HSM `settings` for `--hsm` or the config file: activated (no security
/// domain needed), with `users` as its initial Administrators and as Crypto Users at scope `/`,
/// so tests that do not care about local RBAC can use its keys at once. Idempotent.
pub async fn declare_hsm(
    registry: &VaultRegistry,
    settings: &VaultSettings,
    tenant: Uuid,
    users: &[Uuid],
) -> Result<Vault, crate::vaults::VaultError> {
    registry.ensure_hsm(settings, tenant, users, true).await?;
    grant_crypto_user(registry, settings, users).await
}

/// Gives `users` Managed HSM Crypto User at `/` of HSM `settings.name` (idempotent).
async fn grant_crypto_user(
    registry: &VaultRegistry,
    settings: &VaultSettings,
    users: &[Uuid],
) -> Result<Vault, crate::vaults::VaultError> {
    let written = registry
        .modify_hsm(settings.name.as_str(), |hsm| {
            for &user in users {
                let scope = AssignmentScope::Vault;
                let role = crate::auth::local_rbac::CRYPTO_USER;
                let id = assignment_id(settings.name.as_str(), user, role, &scope);
                if !hsm.role_assignments.iter().any(|a| a.id == id) {
                    hsm.role_assignments.push(RoleAssignment {
                        id,
                        principal_id: user,
                        role_definition_id: role,
                        scope,
                    });
                }
            }
            Ok::<_, crate::vaults::VaultError>(())
        })
        .await?;
    Ok((*written.after).clone())
}

fn assignment_id(vault: &str, principal: Uuid, role: Uuid, scope: &AssignmentScope) -> Uuid {
    crate::auth::identity::derived_id(principal, &format!("{vault}/{role}/{scope:?}"), "role-assignment")
}

fn authorization(declaration: &VaultDeclaration, tenant: Uuid, identities: &IdentityDirectory) -> Authorization {
    let mut access_policies: Vec<AccessPolicy> = declaration
        .access_policies
        .iter()
        .map(|p| AccessPolicy {
            tenant_id: p.tenant_id.unwrap_or(tenant),
            object_id: p.object_id,
            application_id: p.application_id,
            permissions: Permissions { keys: p.keys.clone() },
        })
        .collect();
    let mut role_assignments: Vec<RoleAssignment> = declaration
        .role_assignments
        .iter()
        .map(|a| RoleAssignment {
            id: assignment_id(declaration.name.as_str(), a.principal_id, a.role_definition_id, &a.scope),
            principal_id: a.principal_id,
            role_definition_id: a.role_definition_id,
            scope: a.scope.clone(),
        })
        .collect();
    if declaration.default_access {
        let defaults = default_policies(identities, tenant);
        if let Some(admin_role) = RoleDefinition::find("Key Vault Administrator") {
            for policy in &defaults {
                role_assignments.push(RoleAssignment {
                    id: assignment_id(
                        declaration.name.as_str(),
                        policy.object_id,
                        admin_role.id,
                        &AssignmentScope::Vault,
                    ),
                    principal_id: policy.object_id,
                    role_definition_id: admin_role.id,
                    scope: AssignmentScope::Vault,
                });
            }
        }
        access_policies.extend(defaults);
    }
    Authorization { enable_rbac_authorization: declaration.rbac, access_policies, role_assignments }
}

/// Applies a config file's vaults and their seed keys.
pub async fn apply_vaults(
    config: &ConfigFile,
    default_tenant: Uuid,
    identities: &IdentityDirectory,
    vaults: &VaultRegistry,
    keys: &KeyService,
) -> Result<(), String> {
    for declaration in &config.vaults {
        let tenant = declaration.tenant_id.unwrap_or(default_tenant);
        let mut settings = VaultSettings::new(declaration.name.clone());
        settings.soft_delete_retention_days = declaration.retention_days.unwrap_or(settings.soft_delete_retention_days);
        settings.purge_protection = declaration.purge_protection;
        let vault = vaults
            .declare(&settings, tenant, authorization(declaration, tenant, identities))
            .await
            .map_err(|e| e.to_string())?;
        for seed in &declaration.keys {
            seed_key(keys, &vault, seed)
                .await
                .map_err(|e| format!("vault '{}', key '{}': {e}", vault.name, seed.name))?;
        }
    }
    Ok(())
}

/// Applies a config file's managed HSMs: `default_access` makes the default identity and admin
/// Administrators and Crypto Users (as `--hsm` does); `initial_admins` are Administrators.
pub async fn apply_hsms(
    config: &ConfigFile,
    tenant: Uuid,
    identities: &IdentityDirectory,
    vaults: &VaultRegistry,
) -> Result<(), String> {
    for declaration in &config.managed_hsms {
        let mut settings = VaultSettings::new(declaration.name.clone());
        settings.soft_delete_retention_days = declaration.retention_days.unwrap_or(settings.soft_delete_retention_days);
        settings.purge_protection = declaration.purge_protection;
        let failed = |e: crate::vaults::VaultError| format!("managed HSM '{}': {e}", declaration.name);
        vaults
            .ensure_hsm(&settings, tenant, &declaration.initial_admins, declaration.activated)
            .await
            .map_err(failed)?;
        if declaration.default_access {
            let users: Vec<Uuid> = default_policies(identities, tenant).iter().map(|p| p.object_id).collect();
            vaults.ensure_hsm(&settings, tenant, &users, false).await.map_err(failed)?;
            grant_crypto_user(vaults, &settings, &users).await.map_err(failed)?;
        }
    }
    Ok(())
}

/// Creates or imports a seed key unless a key of that name exists (or is soft-deleted).
async fn seed_key(keys: &KeyService, vault: &Vault, seed: &SeedKey) -> Result<(), String> {
    let name = KeyName::parse(&seed.name).map_err(|e| e.to_string())?;
    match keys.get_key(vault, &name, None).await {
        Ok(_) => return Ok(()),
        Err(crate::keys::Error::KeyNotFound { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    let key_ops = seed
        .key_ops
        .as_ref()
        .map(|ops| ops.iter().map(|op| KeyOperation::parse(op)).collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(|e| e.to_string())?;
    let created = match &seed.material {
        SeedMaterial::Generate { key_type, size, curve } => {
            let curve = curve
                .as_deref()
                .map(|c| crate::crypto::ec::Curve::from_jwk_name(c).ok_or_else(|| format!("unknown curve '{c}'")))
                .transpose()?;
            let request = CreateKeyRequest {
                key_type: *key_type,
                key_size: *size,
                public_exponent: None,
                curve,
                ml_dsa: None,
                key_ops,
                attributes: AttributeChanges::default(),
                tags: None,
                release_policy: None,
            };
            keys.create_key(vault, &name, request).await
        }
        SeedMaterial::Import { path, contents } => {
            let (material, hsm) = parse_key_file(contents).map_err(|e| format!("{}: {e}", path.display()))?;
            let request = ImportKeyRequest {
                material,
                hsm,
                key_ops,
                attributes: AttributeChanges::default(),
                tags: None,
                release_policy: None,
            };
            keys.import_key(vault, &name, request).await
        }
    };
    created
        .map(|key| tracing::info!(vault = %vault.name, key = %key.name, "created a seed key"))
        .map_err(|e| e.to_string())
}

/// A key file: a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), or a private JWK as JSON.
fn parse_key_file(contents: &str) -> Result<(PrivateJwk, bool), String> {
    if let Some(body) = contents.split("-----BEGIN PRIVATE KEY-----").nth(1) {
        let body = body.split("-----END PRIVATE KEY-----").next().unwrap_or_default();
        let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, base64)
            .map_err(|e| format!("the PEM body is not base64: {e}"))?;
        return Ok((PrivateJwk::Pkcs8 { der }, false));
    }
    let jwk: crate::api::data_plane::wire::JsonWebKeyImport =
        serde_json::from_str(contents).map_err(|e| format!("neither a PKCS#8 PEM nor a JWK: {e}"))?;
    let parameters = crate::api::data_plane::wire::KeyImportParameters {
        key: jwk,
        hsm: None,
        attributes: None,
        tags: None,
        release_policy: None,
    };
    let request = ImportKeyRequest::try_from(parameters).map_err(|e| e.to_string())?;
    Ok((request.material, request.hsm))
}
