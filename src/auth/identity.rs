//! Managed identities: the principals the App Service and IMDS endpoints issue tokens for.
//! IDs derive deterministically (UUIDv5) from the tenant and the identity's name, so the same
//! configuration yields the same object ids on every machine.

use uuid::Uuid;

/// The name of the identity that exists with no configuration.
pub const DEFAULT_IDENTITY: &str = "default";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedIdentity {
    pub name: String,
    pub tenant_id: Uuid,
    pub client_id: Uuid,
    pub object_id: Uuid,
    pub resource_id: String,
}

fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://github.com/keyvault-emulator/identities")
}

/// A deterministic id for `purpose` ("client", "object") of the named identity in `tenant`.
#[must_use]
pub fn derived_id(tenant: Uuid, name: &str, purpose: &str) -> Uuid {
    Uuid::new_v5(&namespace(), format!("{tenant}/{name}/{purpose}").as_bytes())
}

impl ManagedIdentity {
    /// A user-assigned identity whose ids derive from its name.
    #[must_use]
    pub fn user_assigned(tenant_id: Uuid, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            tenant_id,
            client_id: derived_id(tenant_id, name, "client"),
            object_id: derived_id(tenant_id, name, "object"),
            resource_id: format!(
                "/subscriptions/{}/resourceGroups/keyvault-emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                derived_id(tenant_id, "subscription", "subscription")
            ),
        }
    }
}

/// How a token request names the identity it wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentitySelector {
    /// No selector: the caller's own (default) identity.
    Default,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

/// The identities the emulator knows, the default one first.
#[derive(Clone, Debug)]
pub struct IdentityDirectory {
    identities: Vec<ManagedIdentity>,
}

impl IdentityDirectory {
    #[must_use]
    pub fn with_default(tenant_id: Uuid) -> Self {
        Self { identities: vec![ManagedIdentity::user_assigned(tenant_id, DEFAULT_IDENTITY)] }
    }

    #[must_use]
    pub fn default_identity(&self) -> &ManagedIdentity {
        &self.identities[0]
    }

    /// The identity a selector names, or `None`: an unknown selector never falls back to
    /// someone else's identity.
    #[must_use]
    pub fn select(&self, selector: &IdentitySelector) -> Option<&ManagedIdentity> {
        let matches_uuid = |text: &str, id: Uuid| Uuid::parse_str(text).is_ok_and(|u| u == id);
        match selector {
            IdentitySelector::Default => Some(self.default_identity()),
            IdentitySelector::ClientId(id) => self.identities.iter().find(|i| matches_uuid(id, i.client_id)),
            IdentitySelector::ObjectId(id) => self.identities.iter().find(|i| matches_uuid(id, i.object_id)),
            IdentitySelector::ResourceId(id) => self.identities.iter().find(|i| i.resource_id.eq_ignore_ascii_case(id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let tenant = Uuid::new_v4();
        let a = ManagedIdentity::user_assigned(tenant, "svc");
        assert_eq!(a, ManagedIdentity::user_assigned(tenant, "svc"));
        assert_ne!(a.client_id, a.object_id);
        assert_ne!(a.object_id, ManagedIdentity::user_assigned(tenant, "other").object_id);
        assert_ne!(a.object_id, ManagedIdentity::user_assigned(Uuid::new_v4(), "svc").object_id);
    }

    #[test]
    fn selectors_find_only_existing_identities() {
        let dir = IdentityDirectory::with_default(Uuid::new_v4());
        let me = dir.default_identity().clone();
        assert_eq!(dir.select(&IdentitySelector::ClientId(me.client_id.to_string())), Some(&me));
        assert_eq!(dir.select(&IdentitySelector::ObjectId(me.object_id.to_string().to_uppercase())), Some(&me));
        assert_eq!(dir.select(&IdentitySelector::ResourceId(me.resource_id.clone())), Some(&me));
        assert_eq!(dir.select(&IdentitySelector::ClientId(Uuid::new_v4().to_string())), None);
        assert_eq!(dir.select(&IdentitySelector::ClientId("not-a-guid".into())), None);
    }
}
