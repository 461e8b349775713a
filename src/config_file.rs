//! The config file (`--config FILE`, TOML): tenants, identities, vaults with their access
//! policies or role assignments, and seed keys. Parsing checks everything it can, so an invalid
//! file stops the start with an error that names the line and the field; applying it is
//! idempotent, so restarting on the same `--data-dir` with the same file changes nothing.
//! Over 400 lines: the whole file format (its documented example, the typed sections and their
//! validation) reads in one place, with its tests from line 442.
//!
//! ```toml
//! [[tenant]]                       # optional; the first one is the default tenant
//! name = "contoso"                 # ids derive from names unless `id` is given
//!
//! [[identity]]
//! name = "storage"
//! type = "system-assigned"         # system-assigned | user-assigned | service-principal
//! resource = "Microsoft.Storage/storageAccounts/cmkstore"
//! identity_header = "storage-secret"
//!
//! [[vault]]
//! name = "cmk"
//! retention_days = 7
//! purge_protection = true
//! [[vault.access_policy]]
//! identity = "storage"
//! keys = ["get", "wrapKey", "unwrapKey"]
//! [[vault.key]]
//! name = "storage-cmk"
//! kty = "RSA"
//! size = 3072
//!
//! [[managed_hsm]]                  # served at https://hsm1.managedhsm.localhost:8443
//! name = "hsm1"
//! purge_protection = true
//! activated = true                 # default: true (false: refused until a security domain download)
//! initial_admins = ["storage"]     # identity names or object ids: Administrators at "/"
//! default_access = true            # default: the default identity and admin administer and use it
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use uuid::Uuid;

use crate::auth::identity::{DEFAULT_FEDERATED_AUDIENCE, FederatedCredential, Identity, derived_id};
use crate::auth::rbac::{AssignmentScope, RoleDefinition};
use crate::keys::model::KeyType;
use crate::vaults::VaultName;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Principals who may use the management API besides the default admin: identity names or
    /// object ids.
    #[serde(default)]
    owners: Vec<Spanned<String>>,
    #[serde(default)]
    tenant: Vec<RawTenant>,
    #[serde(default)]
    identity: Vec<RawIdentity>,
    #[serde(default)]
    vault: Vec<RawVault>,
    #[serde(default)]
    managed_hsm: Vec<RawManagedHsm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManagedHsm {
    name: Spanned<String>,
    retention_days: Option<Spanned<u32>>,
    #[serde(default)]
    purge_protection: bool,
    activated: Option<bool>,
    #[serde(default)]
    initial_admins: Vec<Spanned<String>>,
    default_access: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    name: String,
    id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum IdentityType {
    SystemAssigned,
    UserAssigned,
    ServicePrincipal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    name: String,
    #[serde(rename = "type")]
    kind: IdentityType,
    tenant: Option<Spanned<String>>,
    client_id: Option<Uuid>,
    object_id: Option<Uuid>,
    resource: Option<String>,
    identity_header: Option<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    federated_credential: Vec<RawFederated>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFederated {
    issuer: String,
    subject: String,
    audience: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVault {
    name: Spanned<String>,
    tenant: Option<Spanned<String>>,
    retention_days: Option<Spanned<u32>>,
    #[serde(default)]
    purge_protection: bool,
    #[serde(default)]
    rbac: bool,
    /// Whether the default identity and the default admin get full access (default: yes).
    default_access: Option<bool>,
    #[serde(default)]
    access_policy: Vec<RawAccessPolicy>,
    #[serde(default)]
    role_assignment: Vec<RawRoleAssignment>,
    #[serde(default)]
    key: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessPolicy {
    identity: Option<Spanned<String>>,
    object_id: Option<Uuid>,
    application_id: Option<Uuid>,
    keys: Spanned<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoleAssignment {
    identity: Option<Spanned<String>>,
    principal_id: Option<Uuid>,
    role: Spanned<String>,
    scope: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    name: Spanned<String>,
    kty: Option<Spanned<String>>,
    size: Option<u32>,
    curve: Option<String>,
    key_ops: Option<Vec<String>>,
    /// A JWK (`.json`) or PKCS#8 PEM file to import, relative to the config file.
    file: Option<Spanned<String>>,
}

/// A checked config file, with every name resolved.
#[derive(Clone, Debug, Default)]
pub struct ConfigFile {
    /// The default tenant, when the file declares tenants.
    pub default_tenant: Option<Uuid>,
    pub identities: Vec<Identity>,
    pub vaults: Vec<VaultDeclaration>,
    pub managed_hsms: Vec<HsmDeclaration>,
    /// Object ids of the management API's owners besides the default admin.
    pub owners: Vec<Uuid>,
}

#[derive(Clone, Debug)]
pub struct VaultDeclaration {
    pub name: VaultName,
    pub tenant_id: Option<Uuid>,
    pub retention_days: Option<u32>,
    pub purge_protection: bool,
    pub rbac: bool,
    pub default_access: bool,
    pub access_policies: Vec<DeclaredPolicy>,
    pub role_assignments: Vec<DeclaredAssignment>,
    pub keys: Vec<SeedKey>,
}

/// A `[[managed_hsm]]` section.
#[derive(Clone, Debug)]
pub struct HsmDeclaration {
    pub name: VaultName,
    pub retention_days: Option<u32>,
    pub purge_protection: bool,
    pub activated: bool,
    pub initial_admins: Vec<Uuid>,
    pub default_access: bool,
}

#[derive(Clone, Debug)]
pub struct DeclaredPolicy {
    pub object_id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub keys: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct DeclaredAssignment {
    pub principal_id: Uuid,
    pub role_definition_id: Uuid,
    pub scope: AssignmentScope,
}

#[derive(Clone, Debug)]
pub enum SeedMaterial {
    Generate {
        key_type: KeyType,
        size: Option<u32>,
        curve: Option<String>,
    },
    /// The file's contents: a JWK (JSON) or a PKCS#8 PEM.
    Import {
        path: PathBuf,
        contents: String,
    },
}

#[derive(Clone, Debug)]
pub struct SeedKey {
    pub name: String,
    pub material: SeedMaterial,
    pub key_ops: Option<Vec<String>>,
}

/// The key permissions an access policy may name (contract §4a), compared case-insensitively.
const KEY_PERMISSIONS: &[&str] = &[
    "all",
    "backup",
    "create",
    "decrypt",
    "delete",
    "encrypt",
    "get",
    "getrotationpolicy",
    "import",
    "list",
    "purge",
    "recover",
    "release",
    "restore",
    "rotate",
    "setrotationpolicy",
    "sign",
    "unwrapKey",
    "update",
    "verify",
    "wrapKey",
];

struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error<T>(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl std::fmt::Display,
    ) -> Result<T, String> {
        let line = self.text[..span.start.min(self.text.len())].matches('\n').count() + 1;
        Err(format!("{}: line {line}, field `{field}`: {message}", self.path.display()))
    }
}

impl ConfigFile {
    /// Reads and checks `path`.
    pub fn load(path: &Path, fallback_tenant: Uuid) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, path, fallback_tenant)
    }

    pub fn parse(text: &str, path: &Path, fallback_tenant: Uuid) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        let source = Source { path, text };
        let tenants: Vec<(String, Uuid)> = raw
            .tenant
            .iter()
            .map(|t| (t.name.clone(), t.id.unwrap_or_else(|| derived_id(Uuid::nil(), &t.name, "tenant"))))
            .collect();
        let default_tenant = tenants.first().map(|(_, id)| *id);
        let tenant_of = |reference: &Option<Spanned<String>>| -> Result<Option<Uuid>, String> {
            let Some(reference) = reference else { return Ok(None) };
            let text = reference.get_ref();
            if let Some((_, id)) = tenants.iter().find(|(name, id)| name == text || id.to_string() == *text) {
                return Ok(Some(*id));
            }
            match Uuid::parse_str(text) {
                Ok(id) => Ok(Some(id)),
                Err(_) => source.error(reference.span(), "tenant", format!("no tenant named '{text}'")),
            }
        };
        let home = default_tenant.unwrap_or(fallback_tenant);

        let mut identities = Vec::new();
        for raw_identity in &raw.identity {
            let tenant = tenant_of(&raw_identity.tenant)?.unwrap_or(home);
            let name = &raw_identity.name;
            let mut identity = match raw_identity.kind {
                IdentityType::SystemAssigned => {
                    let resource = raw_identity.resource.clone().unwrap_or_else(|| name.clone());
                    Identity::system_assigned(tenant, name, &resource, raw_identity.identity_header.clone())
                }
                IdentityType::UserAssigned => Identity::user_assigned(tenant, name),
                IdentityType::ServicePrincipal => {
                    let federated = raw_identity
                        .federated_credential
                        .iter()
                        .map(|f| FederatedCredential {
                            issuer: f.issuer.clone(),
                            subject: f.subject.clone(),
                            audience: f.audience.clone().unwrap_or_else(|| DEFAULT_FEDERATED_AUDIENCE.to_owned()),
                        })
                        .collect();
                    Identity::service_principal(tenant, name, raw_identity.secrets.clone(), federated)
                }
            };
            let managed_only = matches!(raw_identity.kind, IdentityType::ServicePrincipal);
            if managed_only && (raw_identity.resource.is_some() || raw_identity.identity_header.is_some()) {
                return Err(format!(
                    "{}: identity '{name}': `resource` and `identity_header` are for system-assigned identities",
                    path.display()
                ));
            }
            if !managed_only && (!raw_identity.secrets.is_empty() || !raw_identity.federated_credential.is_empty()) {
                return Err(format!(
                    "{}: identity '{name}': `secrets` and `federated_credential` are for service principals",
                    path.display()
                ));
            }
            identity.client_id = raw_identity.client_id.unwrap_or(identity.client_id);
            identity.object_id = raw_identity.object_id.unwrap_or(identity.object_id);
            identities.push(identity);
        }
        let object_id_of = |reference: &Option<Spanned<String>>,
                            given: Option<Uuid>,
                            field: &str|
         -> Result<(Uuid, Option<Uuid>), String> {
            match (reference, given) {
                (Some(name), None) => match identities.iter().find(|i| i.name.eq_ignore_ascii_case(name.get_ref())) {
                    Some(identity) => Ok((identity.object_id, Some(identity.tenant_id))),
                    None if is_builtin_identity(name.get_ref()) => {
                        Ok((builtin_object_id(home, name.get_ref()), Some(home)))
                    }
                    None => source.error(name.span(), field, format!("no identity named '{}'", name.get_ref())),
                },
                (None, Some(id)) => Ok((id, None)),
                _ => Err(format!("{}: each {field} needs exactly one of `identity` or an id", path.display())),
            }
        };

        let mut vaults = Vec::new();
        for raw_vault in &raw.vault {
            let name = VaultName::parse(raw_vault.name.get_ref()).map_or_else(
                || {
                    source.error(
                        raw_vault.name.span(),
                        "name",
                        "3-24 letters, digits and hyphens, starting with a letter",
                    )
                },
                Ok,
            )?;
            if let Some(days) = &raw_vault.retention_days
                && let Err(rule) = crate::vaults::check_retention(*days.get_ref())
            {
                return source.error(days.span(), "retention_days", rule);
            }
            let mut access_policies = Vec::new();
            for policy in &raw_vault.access_policy {
                let (object_id, tenant_id) = object_id_of(&policy.identity, policy.object_id, "access_policy")?;
                if let Some(bad) =
                    policy.keys.get_ref().iter().find(|p| !KEY_PERMISSIONS.iter().any(|k| k.eq_ignore_ascii_case(p)))
                {
                    return source.error(
                        policy.keys.span(),
                        "keys",
                        format!("'{bad}' is not a key permission; valid: {}", KEY_PERMISSIONS.join(", ")),
                    );
                }
                access_policies.push(DeclaredPolicy {
                    object_id,
                    tenant_id,
                    application_id: policy.application_id,
                    keys: policy.keys.get_ref().clone(),
                });
            }
            let mut role_assignments = Vec::new();
            for assignment in &raw_vault.role_assignment {
                let (principal_id, _) = object_id_of(&assignment.identity, assignment.principal_id, "role_assignment")?;
                let role = RoleDefinition::find(assignment.role.get_ref()).map_or_else(
                    || source.error(assignment.role.span(), "role", "not a built-in Key Vault role name or id"),
                    Ok,
                )?;
                let scope = match &assignment.scope {
                    Some(scope) => AssignmentScope::parse_relative(scope.get_ref())
                        .or_else(|e| source.error(scope.span(), "scope", e))?,
                    None => AssignmentScope::Vault,
                };
                role_assignments.push(DeclaredAssignment { principal_id, role_definition_id: role.id, scope });
            }
            let mut keys = Vec::new();
            for key in &raw_vault.key {
                let material = match (&key.file, &key.kty) {
                    (Some(file), _) => {
                        let base = path.parent().unwrap_or_else(|| Path::new("."));
                        let file_path = base.join(file.get_ref());
                        let contents = std::fs::read_to_string(&file_path)
                            .or_else(|e| source.error(file.span(), "file", format!("{}: {e}", file_path.display())))?;
                        SeedMaterial::Import { path: file_path, contents }
                    }
                    (None, Some(kty)) => {
                        let key_type = KeyType::parse(kty.get_ref()).or_else(|e| source.error(kty.span(), "kty", e))?;
                        SeedMaterial::Generate { key_type, size: key.size, curve: key.curve.clone() }
                    }
                    (None, None) => {
                        return source.error(
                            key.name.span(),
                            "key",
                            "a seed key needs `kty` (generate) or `file` (import)",
                        );
                    }
                };
                keys.push(SeedKey { name: key.name.get_ref().clone(), material, key_ops: key.key_ops.clone() });
            }
            vaults.push(VaultDeclaration {
                name,
                tenant_id: tenant_of(&raw_vault.tenant)?,
                retention_days: raw_vault.retention_days.as_ref().map(|d| *d.get_ref()),
                purge_protection: raw_vault.purge_protection,
                rbac: raw_vault.rbac,
                default_access: raw_vault.default_access.unwrap_or(true),
                access_policies,
                role_assignments,
                keys,
            });
        }
        let mut managed_hsms = Vec::new();
        for raw_hsm in &raw.managed_hsm {
            let Some(name) = VaultName::parse(raw_hsm.name.get_ref()) else {
                return source.error(
                    raw_hsm.name.span(),
                    "name",
                    "3-24 letters, digits and hyphens, starting with a letter",
                );
            };
            if let Some(days) = &raw_hsm.retention_days
                && let Err(rule) = crate::vaults::check_retention(*days.get_ref())
            {
                return source.error(days.span(), "retention_days", rule.to_string());
            }
            let mut initial_admins = Vec::new();
            for admin in &raw_hsm.initial_admins {
                let (object_id, _) = match Uuid::parse_str(admin.get_ref()) {
                    Ok(id) => (id, None),
                    Err(_) => object_id_of(&Some(admin.clone()), None, "initial_admins")?,
                };
                initial_admins.push(object_id);
            }
            managed_hsms.push(HsmDeclaration {
                name,
                retention_days: raw_hsm.retention_days.as_ref().map(|d| *d.get_ref()),
                purge_protection: raw_hsm.purge_protection,
                activated: raw_hsm.activated.unwrap_or(true),
                initial_admins,
                default_access: raw_hsm.default_access.unwrap_or(true),
            });
        }
        let mut owners = Vec::new();
        for owner in &raw.owners {
            let (object_id, _) = match Uuid::parse_str(owner.get_ref()) {
                Ok(id) => (id, None),
                Err(_) => object_id_of(&Some(owner.clone()), None, "owners")?,
            };
            owners.push(object_id);
        }
        Ok(Self { default_tenant, identities, vaults, managed_hsms, owners })
    }
}

fn is_builtin_identity(name: &str) -> bool {
    [crate::auth::identity::DEFAULT_IDENTITY, crate::auth::identity::DEFAULT_ADMIN]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

fn builtin_object_id(tenant: Uuid, name: &str) -> Uuid {
    derived_id(tenant, &name.to_ascii_lowercase(), "object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(text, Path::new("kv.toml"), Uuid::nil())
    }

    const CMK: &str = r#"
owners = ["ci"]

[[identity]]
name = "storage"
type = "system-assigned"
resource = "Microsoft.Storage/storageAccounts/cmkstore"
identity_header = "storage-secret"

[[identity]]
name = "ci"
type = "service-principal"
secrets = ["s3cret"]
[[identity.federated_credential]]
issuer = "https://token.actions.githubusercontent.com"
subject = "repo:org/repo:ref:refs/heads/main"

[[vault]]
name = "cmk"
retention_days = 7
purge_protection = true
[[vault.access_policy]]
identity = "storage"
keys = ["Get", "WrapKey", "UnwrapKey"]
[[vault.key]]
name = "storage-cmk"
kty = "RSA"
size = 3072

[[vault]]
name = "rbac-vault"
rbac = true
[[vault.role_assignment]]
identity = "storage"
role = "Key Vault Crypto Service Encryption User"
scope = "/keys/storage-cmk"
"#;

    #[test]
    fn a_cmk_config_resolves_names() {
        let config = parse(CMK).unwrap();
        assert_eq!(config.identities.len(), 2);
        let storage = &config.identities[0];
        assert_eq!(config.owners, [config.identities[1].object_id]);
        assert!(storage.resource_id.ends_with("Microsoft.Storage/storageAccounts/cmkstore"));
        let cmk = &config.vaults[0];
        assert_eq!((cmk.retention_days, cmk.purge_protection, cmk.rbac), (Some(7), true, false));
        assert_eq!(cmk.access_policies[0].object_id, storage.object_id);
        assert!(matches!(
            cmk.keys[0].material,
            SeedMaterial::Generate { key_type: KeyType::Rsa, size: Some(3072), .. }
        ));
        let rbac = &config.vaults[1];
        assert_eq!(rbac.role_assignments[0].scope, AssignmentScope::Key("storage-cmk".into()));
        assert_eq!(rbac.role_assignments[0].principal_id, storage.object_id);
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let unknown_identity = CMK.replace("identity = \"storage\"\nkeys", "identity = \"nobody\"\nkeys");
        let err = parse(&unknown_identity).unwrap_err();
        assert!(err.contains("line 23") && err.contains("`access_policy`") && err.contains("nobody"), "{err}");
        let bad_permission = CMK.replace("\"Get\"", "\"Read\"");
        let err = parse(&bad_permission).unwrap_err();
        assert!(err.contains("line 24") && err.contains("`keys`") && err.contains("'Read'"), "{err}");
        let bad_role = CMK.replace("Key Vault Crypto Service Encryption User", "Owner");
        assert!(parse(&bad_role).unwrap_err().contains("`role`"));
        let typo = CMK.replace("purge_protection = true", "purge_protect = true");
        let err = parse(&typo).unwrap_err();
        assert!(err.contains("line 21") && err.contains("purge_protect"), "{err}");
        let retention = CMK.replace("retention_days = 7", "retention_days = 3");
        assert!(parse(&retention).unwrap_err().contains("`retention_days`"));
        let bad_scope = CMK.replace("/keys/storage-cmk", "/secrets/x");
        assert!(parse(&bad_scope).unwrap_err().contains("`scope`"));
    }

    #[test]
    fn the_docker_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/kvemu.toml");
        let config = ConfigFile::load(&path, Uuid::nil()).unwrap();
        assert_eq!(config.identities.len(), 3);
        assert_eq!(config.vaults.len(), 2);
    }

    #[test]
    fn tenants_by_name_and_builtin_identities() {
        let config = parse(
            r#"
[[tenant]]
name = "contoso"
[[tenant]]
name = "fabrikam"
id = "11111111-2222-3333-4444-555555555555"

[[vault]]
name = "other"
tenant = "fabrikam"
default_access = false
[[vault.access_policy]]
identity = "default"
keys = ["all"]
"#,
        )
        .unwrap();
        let contoso = config.default_tenant.unwrap();
        assert_eq!(contoso, derived_id(Uuid::nil(), "contoso", "tenant"));
        assert_eq!(config.vaults[0].tenant_id.unwrap().to_string(), "11111111-2222-3333-4444-555555555555");
        assert!(!config.vaults[0].default_access);
        assert_eq!(config.vaults[0].access_policies[0].object_id, derived_id(contoso, "default", "object"));
    }

    #[test]
    fn managed_hsms_default_to_activated_with_default_access() {
        let text = "[[managed_hsm]]\nname = \"hsm1\"\n[[managed_hsm]]\nname = \"hsm2\"\nactivated = false\npurge_protection = true\ninitial_admins = [\"default\"]\ndefault_access = false\n";
        let config = parse(text).unwrap();
        let (first, second) = (&config.managed_hsms[0], &config.managed_hsms[1]);
        assert!(first.activated && first.default_access && first.initial_admins.is_empty());
        assert!(!second.activated && !second.default_access && second.purge_protection);
        assert_eq!(second.initial_admins, [derived_id(Uuid::nil(), "default", "object")]);
        assert!(parse("[[managed_hsm]]\nname = \"x\"\n").unwrap_err().contains("`name`"));
    }
}
