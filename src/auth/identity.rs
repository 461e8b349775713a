//! Identities: the managed identities the App Service and IMDS endpoints issue tokens for, and
//! the service principals the Entra-like token endpoint serves. IDs derive deterministically
//! (UUIDv5) from the tenant and the identity's name unless given, so the same configuration
//! yields the same object ids on every machine.
//!
//! Over 400 lines: the identity model, the directory and its run-time registry (`Identities`,
//! whose management writes share one lock and transaction) belong together; a quarter is tests.

use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::store::identities::StoredIdentity;
use crate::store::{self, Pool};

/// The name of the managed identity that exists with no configuration.
pub const DEFAULT_IDENTITY: &str = "default";
/// The service principal that exists with no configuration, with every key permission.
pub const DEFAULT_ADMIN: &str = "admin";
/// The default admin's client secret: documented, printed at start, never secret.
pub const DEFAULT_ADMIN_SECRET: &str = "keyvault-emulator-admin-secret";
/// The audience a federated credential expects unless it names another.
pub const DEFAULT_FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The resource group the emulator puts its resources in.
pub const DEFAULT_RESOURCE_GROUP: &str = "keyvault-emulator";

/// The subscription id the emulator's resources live in: one per tenant, stable.
#[must_use]
pub fn default_subscription(tenant: Uuid) -> Uuid {
    derived_id(tenant, "subscription", "subscription")
}

fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://github.com/keyvault-emulator/identities")
}

/// A deterministic id for `purpose` ("client", "object") of the named identity in `tenant`.
#[must_use]
pub fn derived_id(tenant: Uuid, name: &str, purpose: &str) -> Uuid {
    Uuid::new_v5(&namespace(), format!("{tenant}/{name}/{purpose}").as_bytes())
}

/// A workload-identity trust: assertions from `issuer` about `subject` for `audience`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// Belongs to one resource; a token request selects it by its `X-IDENTITY-HEADER` value.
    SystemAssigned { identity_header: Option<String> },
    /// Selected by client id, object id or resource id.
    UserAssigned,
    /// Signs in at the token endpoint with a secret or a federated assertion.
    ServicePrincipal { secrets: Vec<String>, federated: Vec<FederatedCredential> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub kind: IdentityKind,
    pub tenant_id: Uuid,
    pub client_id: Uuid,
    pub object_id: Uuid,
    /// The ARM id: the identity's own for user-assigned, the owning resource's for
    /// system-assigned (`xms_mirid` in tokens); empty for service principals.
    pub resource_id: String,
}

impl Identity {
    /// A user-assigned identity whose ids derive from its name.
    #[must_use]
    pub fn user_assigned(tenant_id: Uuid, name: &str) -> Self {
        Self::user_assigned_in(tenant_id, name, DEFAULT_RESOURCE_GROUP)
    }

    /// A user-assigned identity in resource group `group`.
    #[must_use]
    pub fn user_assigned_in(tenant_id: Uuid, name: &str, group: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: IdentityKind::UserAssigned,
            tenant_id,
            client_id: derived_id(tenant_id, name, "client"),
            object_id: derived_id(tenant_id, name, "object"),
            resource_id: format!(
                "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                default_subscription(tenant_id)
            ),
        }
    }

    /// A user-assigned identity made through the management API. In the emulator's own
    /// resource group its ids derive from the name, as a config-file identity's do; elsewhere
    /// from group and name, so one name in two groups is two identities, as in Azure.
    #[must_use]
    pub fn user_assigned_by_arm(tenant_id: Uuid, name: &str, group: &str) -> Self {
        let mut identity = Self::user_assigned_in(tenant_id, name, group);
        if !group.eq_ignore_ascii_case(DEFAULT_RESOURCE_GROUP) {
            let seed = format!("{}/{name}", group.to_ascii_lowercase());
            identity.client_id = derived_id(tenant_id, &seed, "client");
            identity.object_id = derived_id(tenant_id, &seed, "object");
        }
        identity
    }

    /// The identity a stored row describes.
    #[must_use]
    pub fn from_stored(stored: &StoredIdentity) -> Self {
        let mut identity = Self::user_assigned_in(stored.tenant_id, &stored.name, &stored.resource_group);
        if let Some((client_id, object_id)) = stored.ids {
            identity.client_id = client_id;
            identity.object_id = object_id;
        }
        identity
    }

    /// Whether this is the user-assigned identity `name` in resource group `group`.
    #[must_use]
    pub fn is_user_assigned(&self, group: &str, name: &str) -> bool {
        self.kind == IdentityKind::UserAssigned
            && self.name.eq_ignore_ascii_case(name)
            && self
                .resource_id
                .to_ascii_lowercase()
                .contains(&format!("/resourcegroups/{}/", group.to_ascii_lowercase()))
    }

    /// A system-assigned identity of the resource `resource` (`Microsoft.Storage/storageAccounts/st1`,
    /// or a bare name).
    #[must_use]
    pub fn system_assigned(tenant_id: Uuid, name: &str, resource: &str, identity_header: Option<String>) -> Self {
        let provider_path = if resource.contains('/') {
            resource.to_owned()
        } else {
            format!("Microsoft.Resources/resources/{resource}")
        };
        Self {
            name: name.to_owned(),
            kind: IdentityKind::SystemAssigned { identity_header },
            tenant_id,
            client_id: derived_id(tenant_id, name, "client"),
            object_id: derived_id(tenant_id, name, "object"),
            resource_id: format!(
                "/subscriptions/{}/resourceGroups/{DEFAULT_RESOURCE_GROUP}/providers/{}",
                default_subscription(tenant_id),
                provider_path.trim_start_matches('/')
            ),
        }
    }

    /// A service principal (app registration) whose ids derive from its name.
    #[must_use]
    pub fn service_principal(
        tenant_id: Uuid,
        name: &str,
        secrets: Vec<String>,
        federated: Vec<FederatedCredential>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            kind: IdentityKind::ServicePrincipal { secrets, federated },
            tenant_id,
            client_id: derived_id(tenant_id, name, "client"),
            object_id: derived_id(tenant_id, name, "object"),
            resource_id: String::new(),
        }
    }

    #[must_use]
    pub fn is_managed(&self) -> bool {
        !matches!(self.kind, IdentityKind::ServicePrincipal { .. })
    }
}

/// How a managed-identity token request names the identity it wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentitySelector {
    /// No selector: the caller's own identity (by its identity header), else the default one.
    Default,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

/// Every identity the emulator knows; the default managed identity is always first.
#[derive(Clone, Debug)]
pub struct IdentityDirectory {
    identities: Vec<Identity>,
}

impl IdentityDirectory {
    /// The identities that exist with no configuration: the default managed identity and the
    /// default admin service principal.
    #[must_use]
    pub fn with_defaults(tenant_id: Uuid) -> Self {
        Self {
            identities: vec![
                Identity::user_assigned(tenant_id, DEFAULT_IDENTITY),
                Identity::service_principal(tenant_id, DEFAULT_ADMIN, vec![DEFAULT_ADMIN_SECRET.to_owned()], vec![]),
            ],
        }
    }

    /// Adds `identity`; a name or id already taken is refused.
    pub fn add(&mut self, identity: Identity) -> Result<(), String> {
        if let Some(clash) = self.identities.iter().find(|i| {
            i.name.eq_ignore_ascii_case(&identity.name)
                || i.client_id == identity.client_id
                || i.object_id == identity.object_id
        }) {
            return Err(format!(
                "identity '{}' clashes with identity '{}' (same name or id)",
                identity.name, clash.name
            ));
        }
        self.identities.push(identity);
        Ok(())
    }

    /// Adds a user-assigned identity made through the management API: its name need only be
    /// unique in its resource group (its resource id), its ids everywhere.
    pub fn add_user_assigned(&mut self, identity: Identity) -> Result<(), String> {
        if let Some(clash) = self.identities.iter().find(|i| {
            i.resource_id.eq_ignore_ascii_case(&identity.resource_id)
                || i.client_id == identity.client_id
                || i.object_id == identity.object_id
        }) {
            return Err(format!("identity '{}' clashes with identity '{}'", identity.resource_id, clash.name));
        }
        self.identities.push(identity);
        Ok(())
    }

    /// Removes the identity with ARM id `resource_id`; `false` when there was none.
    pub fn remove(&mut self, resource_id: &str) -> bool {
        let before = self.identities.len();
        self.identities.retain(|i| !i.resource_id.eq_ignore_ascii_case(resource_id) || i.name == DEFAULT_IDENTITY);
        self.identities.len() != before
    }

    #[must_use]
    pub fn default_identity(&self) -> &Identity {
        &self.identities[0]
    }

    #[must_use]
    pub fn all(&self) -> &[Identity] {
        &self.identities
    }

    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<&Identity> {
        self.identities.iter().find(|i| i.name.eq_ignore_ascii_case(name))
    }

    /// The service principal with this client id in `tenant`.
    #[must_use]
    pub fn service_principal(&self, tenant: Uuid, client_id: &str) -> Option<&Identity> {
        let client_id = Uuid::parse_str(client_id).ok()?;
        self.identities.iter().find(|i| !i.is_managed() && i.tenant_id == tenant && i.client_id == client_id)
    }

    /// The managed identity a token request selects, or `None`: an unknown selector never falls
    /// back to someone else's identity. Without a selector, the identity header decides: the
    /// system-assigned identity it belongs to, else the default managed identity.
    #[must_use]
    pub fn select(&self, selector: &IdentitySelector, identity_header: Option<&str>) -> Option<&Identity> {
        let matches_uuid = |text: &str, id: Uuid| Uuid::parse_str(text).is_ok_and(|u| u == id);
        let managed = || self.identities.iter().filter(|i| i.is_managed());
        match selector {
            IdentitySelector::Default => {
                let own = identity_header.and_then(|header| {
                    managed().find(
                        |i| matches!(&i.kind, IdentityKind::SystemAssigned { identity_header: Some(h) } if h == header),
                    )
                });
                Some(own.unwrap_or_else(|| self.default_identity()))
            }
            IdentitySelector::ClientId(id) => managed().find(|i| matches_uuid(id, i.client_id)),
            IdentitySelector::ObjectId(id) => managed().find(|i| matches_uuid(id, i.object_id)),
            IdentitySelector::ResourceId(id) => managed().find(|i| i.resource_id.eq_ignore_ascii_case(id)),
        }
    }
}

/// The identities every request sees. The management API adds and removes user-assigned
/// identities at run time; each change makes a new directory (copy on write), so a request
/// always works with one consistent set, and persists what it adds.
#[derive(Clone)]
pub struct Identities {
    current: Arc<RwLock<Arc<IdentityDirectory>>>,
    /// Location and tags of identities the management API made, by lower-cased resource id.
    arm: Arc<RwLock<std::collections::HashMap<String, StoredIdentity>>>,
    /// Lower-cased resource ids of the built-in and config-file identities: the management API
    /// may update their location and tags but not delete them.
    declared: Arc<std::collections::HashSet<String>>,
    /// Held across each write's check, transaction and directory update, so the in-memory
    /// directory changes in commit order and a check never races another writer.
    writes: Arc<tokio::sync::Mutex<()>>,
    pool: Pool,
}

impl Identities {
    /// The directory, plus the user-assigned identities the management API stored before; a
    /// stored one whose name a declared identity now has is left out.
    pub async fn load(pool: Pool, mut directory: IdentityDirectory) -> Result<Self, sqlx::Error> {
        let declared = directory
            .all()
            .iter()
            .filter(|i| !i.resource_id.is_empty())
            .map(|i| i.resource_id.to_ascii_lowercase())
            .collect();
        let mut conn = pool.acquire().await?;
        let mut arm = std::collections::HashMap::new();
        for stored in store::identities::list(&mut conn).await? {
            let identity = Identity::from_stored(&stored);
            let key = identity.resource_id.to_ascii_lowercase();
            match directory.add_user_assigned(identity) {
                Ok(()) => {
                    arm.insert(key, stored);
                }
                // The declared identity with this resource id keeps the metadata a PUT stored.
                Err(_) if declared_contains(&directory, &key) => {
                    arm.insert(key, stored);
                }
                Err(clash) => tracing::warn!(%clash, "a stored user-assigned identity is shadowed by a declared one"),
            }
        }
        drop(conn);
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(directory))),
            arm: Arc::new(RwLock::new(arm)),
            declared: Arc::new(declared),
            writes: Arc::default(),
            pool,
        })
    }

    /// What the management API stored about an identity (location, tags).
    #[must_use]
    pub fn arm_metadata(&self, identity: &Identity) -> Option<StoredIdentity> {
        self.arm
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&identity.resource_id.to_ascii_lowercase())
            .cloned()
    }

    /// The user-assigned identity `name` in resource group `group`.
    #[must_use]
    pub fn user_assigned(&self, group: &str, name: &str) -> Option<Identity> {
        self.current().all().iter().find(|i| i.is_user_assigned(group, name)).cloned()
    }

    #[must_use]
    pub fn current(&self) -> Arc<IdentityDirectory> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<Identity> {
        self.current().by_name(name).cloned()
    }

    /// A declared identity by name, or else the user-assigned identity whose ids derive from
    /// `tenant` and the name (what a vault grants when it names an undeclared identity).
    #[must_use]
    pub fn named_or_user_assigned(&self, tenant: Uuid, name: &str) -> Identity {
        self.by_name(name).unwrap_or_else(|| Identity::user_assigned(tenant, name))
    }

    #[must_use]
    pub fn all(&self) -> Vec<Identity> {
        self.current().all().to_vec()
    }

    #[must_use]
    pub fn default_identity(&self) -> Identity {
        self.current().default_identity().clone()
    }

    #[must_use]
    pub fn select(&self, selector: &IdentitySelector, identity_header: Option<&str>) -> Option<Identity> {
        self.current().select(selector, identity_header).cloned()
    }

    #[must_use]
    pub fn service_principal(&self, tenant: Uuid, client_id: &str) -> Option<Identity> {
        self.current().service_principal(tenant, client_id).cloned()
    }

    /// Creates (or updates the location and tags of) user-assigned identity `name` in
    /// `group`, in one transaction checked under the write lock. Returns the identity and
    /// whether it was created.
    pub async fn put_user_assigned(&self, mut stored: StoredIdentity) -> Result<(Identity, bool), IdentityWriteError> {
        let _serialised = self.writes.lock().await;
        let existing = self.user_assigned(&stored.resource_group, &stored.name);
        let identity = match &existing {
            Some(existing) => existing.clone(),
            None => Identity::user_assigned_by_arm(stored.tenant_id, &stored.name, &stored.resource_group),
        };
        stored.ids = Some((identity.client_id, identity.object_id));
        let mut next = (*self.current()).clone();
        if existing.is_none() {
            next.add_user_assigned(identity.clone()).map_err(|_| IdentityWriteError::NameTaken(stored.name.clone()))?;
        }
        let mut tx = store::begin_write(&self.pool).await?;
        if existing.is_some()
            && let Some(row) = store::identities::get(&mut tx, &stored.resource_group, &stored.name).await?
        {
            // A row made before ids were stored keeps its derivation.
            stored.ids = row.ids.or(stored.ids);
        }
        store::identities::upsert(&mut tx, &stored, crate::clock::wall_now()).await?;
        tx.commit().await?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        self.arm
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(identity.resource_id.to_ascii_lowercase(), stored);
        Ok((identity, existing.is_none()))
    }

    /// Deletes user-assigned identity `name` in `group` made through the management API;
    /// `false` if there was none.
    pub async fn delete_user_assigned(&self, group: &str, name: &str) -> Result<bool, IdentityWriteError> {
        let _serialised = self.writes.lock().await;
        let Some(identity) = self.user_assigned(group, name) else { return Ok(false) };
        let key = identity.resource_id.to_ascii_lowercase();
        if self.declared.contains(&key) {
            return Err(IdentityWriteError::Declared(name.to_owned()));
        }
        let mut tx = store::begin_write(&self.pool).await?;
        let removed = store::identities::delete(&mut tx, group, name).await?;
        tx.commit().await?;
        let mut guard = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = (**guard).clone();
        next.remove(&identity.resource_id);
        *guard = Arc::new(next);
        drop(guard);
        self.arm.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&key);
        Ok(removed)
    }

    /// Whether `identity` is a built-in or config-file identity.
    #[must_use]
    pub fn is_declared(&self, identity: &Identity) -> bool {
        self.declared.contains(&identity.resource_id.to_ascii_lowercase())
    }
}

fn declared_contains(directory: &IdentityDirectory, resource_id: &str) -> bool {
    directory.all().iter().any(|i| i.resource_id.eq_ignore_ascii_case(resource_id))
}

/// Why a management write to the identities was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityWriteError {
    #[error("the name '{0}' belongs to another identity")]
    NameTaken(String),
    #[error("identity '{0}' is declared by the emulator (built in, or in its config file)")]
    Declared(String),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let tenant = Uuid::new_v4();
        let a = Identity::user_assigned(tenant, "svc");
        assert_eq!(a, Identity::user_assigned(tenant, "svc"));
        assert_ne!(a.client_id, a.object_id);
        assert_ne!(a.object_id, Identity::user_assigned(tenant, "other").object_id);
        assert_ne!(a.object_id, Identity::user_assigned(Uuid::new_v4(), "svc").object_id);
    }

    #[test]
    fn selectors_find_only_existing_managed_identities() {
        let dir = IdentityDirectory::with_defaults(Uuid::new_v4());
        let me = dir.default_identity().clone();
        assert_eq!(dir.select(&IdentitySelector::ClientId(me.client_id.to_string()), None), Some(&me));
        assert_eq!(dir.select(&IdentitySelector::ObjectId(me.object_id.to_string().to_uppercase()), None), Some(&me));
        assert_eq!(dir.select(&IdentitySelector::ResourceId(me.resource_id.clone()), None), Some(&me));
        assert_eq!(dir.select(&IdentitySelector::ClientId(Uuid::new_v4().to_string()), None), None);
        assert_eq!(dir.select(&IdentitySelector::ClientId("not-a-guid".into()), None), None);
        let admin = dir.by_name(DEFAULT_ADMIN).unwrap();
        assert_eq!(dir.select(&IdentitySelector::ClientId(admin.client_id.to_string()), None), None, "not managed");
    }

    #[test]
    fn the_identity_header_selects_a_system_assigned_identity() {
        let tenant = Uuid::new_v4();
        let mut dir = IdentityDirectory::with_defaults(tenant);
        let storage = Identity::system_assigned(
            tenant,
            "storage",
            "Microsoft.Storage/storageAccounts/st1",
            Some("st-secret".into()),
        );
        assert!(storage.resource_id.ends_with("/providers/Microsoft.Storage/storageAccounts/st1"));
        dir.add(storage.clone()).unwrap();
        assert_eq!(dir.select(&IdentitySelector::Default, Some("st-secret")), Some(&storage));
        assert_eq!(dir.select(&IdentitySelector::Default, Some("anything")).unwrap().name, DEFAULT_IDENTITY);
        assert!(dir.add(Identity::user_assigned(tenant, "Storage")).is_err(), "names are unique");
        let admin = dir.service_principal(tenant, &dir.by_name("admin").unwrap().client_id.to_string()).unwrap();
        assert_eq!(admin.name, DEFAULT_ADMIN);
    }
}
