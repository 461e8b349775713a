//! The generic resource listing of Resource Manager (`GET /subscriptions/{s}[/resourceGroups/{g}]/resources`),
//! which `az keyvault list` and `az keyvault show --name X` (no `-g`) use to find vaults: which
//! emulated things are resources, the `$filter` forms it answers (`resourceType eq`, `name eq`,
//! joined by `and`; both compared case-insensitively, as ARM compares types and names), and
//! paging by `$top` with a continuation token.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::odata_filter::{self, Clause};
use crate::auth::identity::{Identity, IdentityKind};
use crate::vaults::Vault;

pub const VAULT_TYPE: &str = "Microsoft.KeyVault/vaults";
pub const MANAGED_HSM_TYPE: &str = "Microsoft.KeyVault/managedHSMs";
pub const USER_ASSIGNED_IDENTITY_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

/// The most one page holds, and what `$top` may ask for (ARM's own limit).
pub const MAX_PAGE: usize = 1000;

/// A resource as the generic listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRecord {
    pub id: String,
    pub name: String,
    pub resource_type: &'static str,
    pub location: String,
    pub tags: BTreeMap<String, String>,
}

impl ResourceRecord {
    #[must_use]
    pub fn of_vault(vault: &Vault) -> Self {
        Self {
            id: vault.resource_id(),
            name: vault.name.as_str().to_owned(),
            resource_type: if vault.is_managed_hsm() { MANAGED_HSM_TYPE } else { VAULT_TYPE },
            location: vault.arm.location.clone(),
            tags: vault.arm.tags.clone(),
        }
    }

    /// User-assigned identities are resources of their own; system-assigned ones belong to
    /// another resource and service principals are directory objects, so neither is listed.
    #[must_use]
    pub fn of_identity(identity: &Identity, location: &str, tags: &BTreeMap<String, String>) -> Option<Self> {
        (identity.kind == IdentityKind::UserAssigned).then(|| Self {
            id: identity.resource_id.clone(),
            name: identity.name.clone(),
            resource_type: USER_ASSIGNED_IDENTITY_TYPE,
            location: location.to_owned(),
            tags: tags.clone(),
        })
    }

    /// `/subscriptions/{s}/resourceGroups/{g}/...`: is this resource in `subscription` (and `group`)?
    #[must_use]
    pub fn is_in(&self, subscription: Uuid, group: Option<&str>) -> bool {
        let mut segments = self.id.split('/').skip(1);
        let in_subscription = segments.next().is_some_and(|s| s.eq_ignore_ascii_case("subscriptions"))
            && segments.next().and_then(|s| Uuid::parse_str(s).ok()) == Some(subscription);
        let in_group = match group {
            None => true,
            Some(group) => {
                segments.next().is_some_and(|s| s.eq_ignore_ascii_case("resourceGroups"))
                    && segments.next().is_some_and(|g| g.eq_ignore_ascii_case(group))
            }
        };
        in_subscription && in_group
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceQueryError {
    #[error("{}", crate::messages::management::invalid_filter(filter, reason))]
    InvalidFilter { filter: String, reason: String },
    #[error("{}", crate::messages::management::invalid_top(.0))]
    InvalidTop(String),
    #[error("{}", crate::messages::management::invalid_skip_token(.0))]
    InvalidSkipToken(String),
}

/// What a listing asks for: a filter, a page size and where the page starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceQuery {
    resource_type: Option<String>,
    name: Option<String>,
    top: Option<usize>,
    skip: usize,
}

impl ResourceQuery {
    /// From the raw `$filter`, `$top` and `$skiptoken` values.
    pub fn parse(
        filter: Option<&str>,
        top: Option<&str>,
        skip_token: Option<&str>,
    ) -> Result<Self, ResourceQueryError> {
        let mut query = Self::default();
        if let Some(filter) = filter.filter(|f| !f.trim().is_empty()) {
            let invalid = |reason: String| ResourceQueryError::InvalidFilter { filter: filter.to_owned(), reason };
            for clause in odata_filter::parse(filter).map_err(|e| invalid(e.0))? {
                let (slot, value) = match clause {
                    Clause::Equals { field, value } if field.eq_ignore_ascii_case("resourceType") => {
                        (&mut query.resource_type, value)
                    }
                    Clause::Equals { field, value } if field.eq_ignore_ascii_case("name") => (&mut query.name, value),
                    other => {
                        return Err(invalid(crate::messages::management::filter_clause_unsupported(&format!(
                            "{other:?}"
                        ))));
                    }
                };
                if slot.is_some() {
                    return Err(invalid(crate::messages::management::PROPERTY_COMPARED_TWICE.to_owned()));
                }
                *slot = Some(value);
            }
        }
        if let Some(top) = top {
            let parsed = top.trim().parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n));
            query.top = Some(parsed.ok_or_else(|| ResourceQueryError::InvalidTop(top.to_owned()))?);
        }
        if let Some(token) = skip_token {
            query.skip = token.parse().map_err(|_| ResourceQueryError::InvalidSkipToken(token.to_owned()))?;
        }
        Ok(query)
    }

    #[must_use]
    pub fn matches(&self, resource: &ResourceRecord) -> bool {
        self.resource_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case(resource.resource_type))
            && self.name.as_deref().is_none_or(|n| n.eq_ignore_ascii_case(&resource.name))
    }

    /// The matching resources of this page, in id order, and the skip token of the next page
    /// when there is more.
    #[must_use]
    pub fn page(&self, resources: impl IntoIterator<Item = ResourceRecord>) -> (Vec<ResourceRecord>, Option<usize>) {
        let mut matching: Vec<ResourceRecord> = resources.into_iter().filter(|r| self.matches(r)).collect();
        matching.sort_by_key(|r| r.id.to_ascii_lowercase());
        let size = self.top.unwrap_or(MAX_PAGE);
        let page: Vec<ResourceRecord> = matching.iter().skip(self.skip).take(size).cloned().collect();
        let next = self.skip.saturating_add(size);
        (page, (next < matching.len()).then_some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(group: &str, resource_type: &'static str, name: &str) -> ResourceRecord {
        ResourceRecord {
            id: format!(
                "/subscriptions/{}/resourceGroups/{group}/providers/{resource_type}/{name}",
                Uuid::from_u128(1)
            ),
            name: name.to_owned(),
            resource_type,
            location: "westeurope".into(),
            tags: BTreeMap::new(),
        }
    }

    fn all() -> Vec<ResourceRecord> {
        vec![
            record("rg1", VAULT_TYPE, "cmk"),
            record("rg2", VAULT_TYPE, "other"),
            record("rg1", USER_ASSIGNED_IDENTITY_TYPE, "cmk"),
        ]
    }

    fn names(query: &ResourceQuery) -> Vec<String> {
        query.page(all()).0.into_iter().map(|r| format!("{}:{}", r.resource_type, r.name)).collect()
    }

    #[test]
    fn type_and_name_filters_as_az_sends_them() {
        let vaults = ResourceQuery::parse(Some("resourceType eq 'Microsoft.KeyVault/vaults'"), None, None).unwrap();
        assert_eq!(names(&vaults), ["Microsoft.KeyVault/vaults:cmk", "Microsoft.KeyVault/vaults:other"]);
        let one =
            ResourceQuery::parse(Some("resourceType eq 'microsoft.keyvault/VAULTS' and name eq 'CMK'"), None, None)
                .unwrap();
        assert_eq!(names(&one), ["Microsoft.KeyVault/vaults:cmk"]);
        let by_name = ResourceQuery::parse(Some("name eq 'cmk'"), None, None).unwrap();
        assert_eq!(names(&by_name).len(), 2);
        assert_eq!(names(&ResourceQuery::parse(None, None, None).unwrap()).len(), 3);
    }

    #[test]
    fn other_filters_and_bad_paging_are_refused() {
        for bad in ["location eq 'westeurope'", "substringof('cmk', name)", "name eq 'a' and name eq 'b'", "name eq"] {
            assert!(
                matches!(ResourceQuery::parse(Some(bad), None, None), Err(ResourceQueryError::InvalidFilter { .. })),
                "{bad}"
            );
        }
        for bad in ["0", "-1", "1001", "ten"] {
            assert_eq!(ResourceQuery::parse(None, Some(bad), None), Err(ResourceQueryError::InvalidTop(bad.into())));
        }
        assert!(ResourceQuery::parse(None, None, Some("x")).is_err());
    }

    #[test]
    fn top_pages_with_a_continuation() {
        let first = ResourceQuery::parse(None, Some("2"), None).unwrap();
        let (page, next) = first.page(all());
        assert_eq!((page.len(), next), (2, Some(2)));
        let rest = ResourceQuery::parse(None, Some("2"), Some("2")).unwrap();
        let (page, next) = rest.page(all());
        assert_eq!((page.len(), next), (1, None));
        let mut seen: Vec<String> = first.page(all()).0.into_iter().chain(page).map(|r| r.id).collect();
        seen.dedup();
        assert_eq!(seen.len(), 3, "every resource on exactly one page");
    }

    #[test]
    fn scope_is_read_from_the_id() {
        let cmk = record("rg1", VAULT_TYPE, "cmk");
        assert!(cmk.is_in(Uuid::from_u128(1), None));
        assert!(cmk.is_in(Uuid::from_u128(1), Some("RG1")));
        assert!(!cmk.is_in(Uuid::from_u128(1), Some("rg2")));
        assert!(!cmk.is_in(Uuid::from_u128(2), None));
    }
}
