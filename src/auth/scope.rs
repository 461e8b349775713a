//! OAuth scopes and the resource they name. Entra's v2 endpoints take `{resource}/.default`
//! where the v1 and managed-identity endpoints take the bare resource; the emulator's token
//! endpoints accept either where the real ones do.

const DEFAULT_SUFFIX: &str = "/.default";

/// The resource a `resource` (or scope) parameter names, with a trailing `/.default`
/// tolerated: what the managed-identity endpoints accept.
#[must_use]
pub fn resource_of(resource_or_scope: &str) -> &str {
    resource_or_scope.strip_suffix(DEFAULT_SUFFIX).unwrap_or(resource_or_scope)
}

/// The resource a client-credentials `scope` names: exactly one `{resource}/.default`, as
/// Entra requires of that grant.
#[must_use]
pub fn client_credentials_resource(scope: &str) -> Option<&str> {
    let mut scopes = scope.split_whitespace();
    let only = scopes.next()?;
    if scopes.next().is_some() {
        return None;
    }
    only.strip_suffix(DEFAULT_SUFFIX).filter(|resource| !resource.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_identity_resources_may_carry_the_default_scope() {
        assert_eq!(resource_of("https://vault.azure.net"), "https://vault.azure.net");
        assert_eq!(resource_of("https://vault.azure.net/.default"), "https://vault.azure.net");
        assert_eq!(resource_of("https://vault.azure.net/keys.read"), "https://vault.azure.net/keys.read");
    }

    #[test]
    fn client_credential_scopes_name_one_resource() {
        assert_eq!(client_credentials_resource("https://vault.azure.net/.default"), Some("https://vault.azure.net"));
        assert_eq!(client_credentials_resource("https://vault.azure.net/keys.read"), None);
        assert_eq!(client_credentials_resource("a/.default b/.default"), None);
        assert_eq!(client_credentials_resource("/.default"), None);
        assert_eq!(client_credentials_resource(""), None);
    }
}
