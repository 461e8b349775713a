//! The emulator's identities as Microsoft Graph sees a directory: every identity (the admin,
//! config-file service principals, user- and system-assigned managed identities) is a service
//! principal whose object id and app id are the `oid` and `appid` of its tokens. Here are the
//! lookups `az` and the management SDKs make: the `$filter` forms of `GET /servicePrincipals`,
//! `getByIds`, and paging. No HTTP: `api::graph` renders these as Graph JSON.

use uuid::Uuid;

use super::odata_filter::{self, Clause};
use crate::auth::identity::{Identity, IdentityKind};

/// Graph's largest page, and the most ids one `getByIds` takes.
pub const MAX_PAGE: usize = 999;
pub const MAX_IDS: usize = 1000;

/// The directory object types `getByIds` may name; only service principals exist here.
const KNOWN_TYPES: &[&str] = &[
    "user",
    "group",
    "servicePrincipal",
    "application",
    "device",
    "orgContact",
    "directoryRole",
    "directoryObjectPartnerReference",
    "directoryObject",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServicePrincipalType {
    /// An app registration's service principal (`admin`, config-file service principals).
    Application,
    ManagedIdentity,
}

impl ServicePrincipalType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "Application",
            Self::ManagedIdentity => "ManagedIdentity",
        }
    }
}

/// One identity as a Graph service principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePrincipal {
    pub id: Uuid,
    pub app_id: Uuid,
    pub display_name: String,
    pub tenant_id: Uuid,
    pub principal_type: ServicePrincipalType,
    /// The names `az --assignee` and `--spn` look up: the app id, as Entra lists it.
    pub service_principal_names: Vec<String>,
    /// Managed identities: `isExplicit=True|False` (user- or system-assigned) and the ARM id.
    pub alternative_names: Vec<String>,
}

impl ServicePrincipal {
    #[must_use]
    pub fn of(identity: &Identity) -> Self {
        let (principal_type, alternative_names) = match &identity.kind {
            IdentityKind::ServicePrincipal { .. } => (ServicePrincipalType::Application, vec![]),
            IdentityKind::UserAssigned => (
                ServicePrincipalType::ManagedIdentity,
                vec!["isExplicit=True".to_owned(), identity.resource_id.clone()],
            ),
            IdentityKind::SystemAssigned { .. } => (
                ServicePrincipalType::ManagedIdentity,
                vec!["isExplicit=False".to_owned(), identity.resource_id.clone()],
            ),
        };
        Self {
            id: identity.object_id,
            app_id: identity.client_id,
            display_name: identity.name.clone(),
            tenant_id: identity.tenant_id,
            principal_type,
            service_principal_names: vec![identity.client_id.to_string()],
            alternative_names,
        }
    }
}

/// The service principals of `tenant`'s directory, in a stable order (by display name).
#[must_use]
pub fn service_principals(identities: &[Identity], tenant: Uuid) -> Vec<ServicePrincipal> {
    let mut all: Vec<ServicePrincipal> =
        identities.iter().filter(|i| i.tenant_id == tenant).map(ServicePrincipal::of).collect();
    all.sort_by_key(|a| a.display_name.to_ascii_lowercase());
    all
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The filter could not be read at all.
    #[error("{}", crate::messages::graph::invalid_filter_clause(.0))]
    InvalidFilter(String),
    /// A well-formed clause on a property or with an operator not served.
    #[error("{}", crate::messages::graph::unsupported_filter(.0))]
    UnsupportedFilter(String),
    #[error("{}", crate::messages::graph::invalid_top(.0))]
    InvalidTop(String),
    #[error("{}", crate::messages::graph::invalid_skip_token(.0))]
    InvalidSkipToken(String),
    #[error("{}", crate::messages::graph::invalid_object_id(.0))]
    InvalidObjectId(String),
    #[error("{}", crate::messages::graph::TOO_MANY_IDS)]
    TooManyIds,
    #[error("{}", crate::messages::graph::unknown_type(.0))]
    UnknownType(String),
}

/// A `GET /servicePrincipals` listing: its filter and page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServicePrincipalQuery {
    clauses: Vec<Clause>,
    top: Option<usize>,
    skip: usize,
}

impl ServicePrincipalQuery {
    /// From the raw `$filter`, `$top` and `$skiptoken` values. Served: `appId`, `id`,
    /// `displayName` and `servicePrincipalType` with `eq`, `startswith(displayName,'…')`, and
    /// `servicePrincipalNames/any(c:c eq '…')`, joined by `and`.
    pub fn parse(filter: Option<&str>, top: Option<&str>, skip_token: Option<&str>) -> Result<Self, DirectoryError> {
        let mut query = Self::default();
        if let Some(filter) = filter.filter(|f| !f.trim().is_empty()) {
            query.clauses = odata_filter::parse(filter).map_err(|e| DirectoryError::InvalidFilter(e.0))?;
            for clause in &query.clauses {
                let served = match clause {
                    Clause::Equals { field, .. } => ["appId", "id", "displayName", "servicePrincipalType"]
                        .iter()
                        .any(|f| f.eq_ignore_ascii_case(field)),
                    Clause::StartsWith { field, .. } => field.eq_ignore_ascii_case("displayName"),
                    Clause::AnyEquals { collection, .. } => collection.eq_ignore_ascii_case("servicePrincipalNames"),
                };
                if !served {
                    let property = match clause {
                        Clause::Equals { field, .. } | Clause::StartsWith { field, .. } => field,
                        Clause::AnyEquals { collection, .. } => collection,
                    };
                    return Err(DirectoryError::UnsupportedFilter(property.clone()));
                }
            }
        }
        if let Some(top) = top {
            let parsed = top.trim().parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n));
            query.top = Some(parsed.ok_or_else(|| DirectoryError::InvalidTop(top.to_owned()))?);
        }
        if let Some(token) = skip_token {
            query.skip = token.parse().map_err(|_| DirectoryError::InvalidSkipToken(token.to_owned()))?;
        }
        Ok(query)
    }

    /// The page size, when the caller chose one (it must be carried into the next page's link).
    #[must_use]
    pub fn top(&self) -> Option<usize> {
        self.top
    }

    #[must_use]
    pub fn matches(&self, principal: &ServicePrincipal) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Equals { field, value } => {
                let actual = match field.to_ascii_lowercase().as_str() {
                    "appid" => principal.app_id.to_string(),
                    "id" => principal.id.to_string(),
                    "displayname" => principal.display_name.clone(),
                    _ => principal.principal_type.as_str().to_owned(),
                };
                actual.eq_ignore_ascii_case(value)
            }
            Clause::StartsWith { value, .. } => {
                principal.display_name.to_ascii_lowercase().starts_with(&value.to_ascii_lowercase())
            }
            Clause::AnyEquals { value, .. } => {
                principal.service_principal_names.iter().any(|name| name.eq_ignore_ascii_case(value))
            }
        })
    }

    /// This page of the matching principals and the skip token of the next, if any.
    #[must_use]
    pub fn page(&self, principals: Vec<ServicePrincipal>) -> (Vec<ServicePrincipal>, Option<usize>) {
        let matching: Vec<ServicePrincipal> = principals.into_iter().filter(|p| self.matches(p)).collect();
        let size = self.top.unwrap_or(100);
        let next = self.skip.saturating_add(size);
        let more = next < matching.len();
        (matching.into_iter().skip(self.skip).take(size).collect(), more.then_some(next))
    }
}

/// `POST /directoryObjects/getByIds`: the objects among `ids` whose type is among `types` (all
/// types when none is named), in the order asked, each once; unknown ids are left out.
pub fn by_ids(
    principals: &[ServicePrincipal],
    ids: &[String],
    types: &[String],
) -> Result<Vec<ServicePrincipal>, DirectoryError> {
    if ids.len() > MAX_IDS {
        return Err(DirectoryError::TooManyIds);
    }
    if let Some(unknown) = types.iter().find(|t| !KNOWN_TYPES.iter().any(|k| k.eq_ignore_ascii_case(t))) {
        return Err(DirectoryError::UnknownType(unknown.clone()));
    }
    let wanted = types.is_empty()
        || types
            .iter()
            .any(|t| t.eq_ignore_ascii_case("servicePrincipal") || t.eq_ignore_ascii_case("directoryObject"));
    let mut found: Vec<ServicePrincipal> = Vec::new();
    for id in ids {
        let id = Uuid::parse_str(id).map_err(|_| DirectoryError::InvalidObjectId(id.clone()))?;
        if let Some(principal) = principals.iter().find(|p| p.id == id)
            && wanted
            && !found.iter().any(|f| f.id == id)
        {
            found.push(principal.clone());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::identity::IdentityDirectory;

    fn tenant() -> Uuid {
        Uuid::from_u128(0x7e)
    }

    fn directory() -> Vec<Identity> {
        let mut dir = IdentityDirectory::with_defaults(tenant());
        dir.add(Identity::system_assigned(tenant(), "storage", "Microsoft.Storage/storageAccounts/st", None)).unwrap();
        dir.add(Identity::service_principal(Uuid::from_u128(0xf0), "elsewhere", vec![], vec![])).unwrap();
        dir.all().to_vec()
    }

    fn listed(filter: &str) -> Vec<String> {
        let query = ServicePrincipalQuery::parse(Some(filter), None, None).unwrap();
        query.page(service_principals(&directory(), tenant())).0.into_iter().map(|p| p.display_name).collect()
    }

    #[test]
    fn every_identity_of_the_tenant_is_a_service_principal_with_its_token_ids() {
        let identities = directory();
        let principals = service_principals(&identities, tenant());
        assert_eq!(
            principals.iter().map(|p| p.display_name.as_str()).collect::<Vec<_>>(),
            ["admin", "default", "storage"]
        );
        for principal in &principals {
            let identity = identities.iter().find(|i| i.name == principal.display_name).unwrap();
            assert_eq!((principal.id, principal.app_id), (identity.object_id, identity.client_id));
        }
        assert_eq!(principals[0].principal_type, ServicePrincipalType::Application);
        assert_eq!(principals[1].alternative_names[0], "isExplicit=True");
        assert_eq!(principals[2].alternative_names[0], "isExplicit=False");
    }

    #[test]
    fn the_filters_az_sends() {
        let admin = directory().into_iter().find(|i| i.name == "admin").unwrap();
        assert_eq!(listed(&format!("servicePrincipalNames/any(c:c eq '{}')", admin.client_id)), ["admin"]);
        assert_eq!(listed(&format!("appId eq '{}'", admin.client_id.to_string().to_uppercase())), ["admin"]);
        assert_eq!(listed("displayName eq 'Storage'"), ["storage"]);
        assert_eq!(listed("startswith(displayName,'de')"), ["default"]);
        assert_eq!(listed("servicePrincipalType eq 'ManagedIdentity' and startswith(displayName,'s')"), ["storage"]);
        assert!(listed("displayName eq 'elsewhere'").is_empty(), "another tenant's principal is not in this directory");
        assert!(listed("servicePrincipalNames/any(c:c eq 'nobody')").is_empty());
    }

    #[test]
    fn other_filters_and_bad_paging_are_graph_errors() {
        let parse = |f: &str| ServicePrincipalQuery::parse(Some(f), None, None);
        assert_eq!(parse("accountEnabled eq 'true'"), Err(DirectoryError::UnsupportedFilter("accountEnabled".into())));
        assert_eq!(parse("tags/any(t:t eq 'x')"), Err(DirectoryError::UnsupportedFilter("tags".into())));
        assert!(matches!(parse("displayName eq"), Err(DirectoryError::InvalidFilter(_))));
        assert!(matches!(ServicePrincipalQuery::parse(None, Some("0"), None), Err(DirectoryError::InvalidTop(_))));
        assert!(matches!(
            ServicePrincipalQuery::parse(None, None, Some("x")),
            Err(DirectoryError::InvalidSkipToken(_))
        ));
    }

    #[test]
    fn pages_follow_top() {
        let principals = service_principals(&directory(), tenant());
        let first = ServicePrincipalQuery::parse(None, Some("2"), None).unwrap();
        assert_eq!(first.page(principals.clone()).1, Some(2));
        let last = ServicePrincipalQuery::parse(None, Some("2"), Some("2")).unwrap();
        let (page, next) = last.page(principals);
        assert_eq!((page.len(), next), (1, None));
    }

    #[test]
    fn get_by_ids_keeps_the_order_asked_and_leaves_out_unknown_ids() {
        let principals = service_principals(&directory(), tenant());
        let ids = vec![principals[2].id.to_string(), Uuid::from_u128(9).to_string(), principals[0].id.to_string()];
        let az_types: Vec<String> =
            ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"].map(String::from).into();
        let found = by_ids(&principals, &ids, &az_types).unwrap();
        assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), [principals[2].id, principals[0].id]);
        assert!(by_ids(&principals, &ids, &["user".into()]).unwrap().is_empty());
        assert_eq!(by_ids(&principals, &ids, &[]).unwrap().len(), 2);
        assert_eq!(by_ids(&principals, &["x".into()], &[]), Err(DirectoryError::InvalidObjectId("x".into())));
        assert_eq!(by_ids(&principals, &ids, &["robot".into()]), Err(DirectoryError::UnknownType("robot".into())));
        assert_eq!(by_ids(&principals, &vec![ids[0].clone(); 1001], &[]), Err(DirectoryError::TooManyIds));
    }
}
