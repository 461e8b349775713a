//! The Host header's whole story: which names the emulator answers to, which vault or Managed
//! HSM a name addresses, the authority ids are built from, and the 401 challenge.
//!
//! Which Host names the emulator answers to (DESIGN.md, Security model). A DNS-rebinding page
//! reaches a loopback port under a name its attacker controls, so every request is refused
//! unless its authority is well formed and names something the emulator serves: an IP address
//! (rebinding needs a DNS name), `localhost` and any `*.localhost` name (RFC 6761: they never
//! leave the machine), the vault domain and its managed-HSM sibling with their subdomains, and
//! the names the emulator was configured with (`--tls-san`, such as a compose service name).

use std::net::IpAddr;

use axum::http::{HeaderMap, Uri, header};

use crate::messages;
use crate::vaults::{DEFAULT_VAULT, Flavour, hsm_domain};

/// Why a request's authority was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HostProblem {
    /// No `:authority` and no Host header (RFC 9112 §3.2: a 400).
    Missing,
    /// A Host that is not `host[:port]`: a path, userinfo, an invalid port, stray characters.
    Malformed(String),
    /// A well-formed name the emulator does not serve.
    NotServed(String),
}

/// The names the emulator serves.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    /// Name suffixes served with all their subdomains (the vault domain, the managed-HSM domain).
    domains: Vec<String>,
    /// Exact names (configured certificate names).
    names: Vec<String>,
}

impl HostPolicy {
    /// `domain` is the vault domain (`vault.localhost`); its managed-HSM sibling
    /// (`managedhsm.localhost`) is served too. `names` are extra configured names.
    #[must_use]
    pub fn new(domain: &str, names: &[String]) -> Self {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let domains = vec![hsm_domain(&domain), domain];
        let names = names.iter().map(|n| n.trim_end_matches('.').to_ascii_lowercase()).collect();
        Self { domains, names }
    }

    /// Checks the authority a request addressed (the request line's, else the Host header).
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), HostProblem> {
        let mut seen = false;
        if let Some(authority) = uri.authority() {
            seen = true;
            self.check_authority(authority.as_str())?;
        }
        let mut hosts = headers.get_all(header::HOST).iter();
        if let Some(host) = hosts.next() {
            seen = true;
            if hosts.next().is_some() {
                return Err(HostProblem::Malformed(messages::front_door::HOST_REPEATED.into()));
            }
            let host = host.to_str().map_err(|_| HostProblem::Malformed(messages::front_door::HOST_NOT_TEXT.into()))?;
            self.check_authority(host)?;
        }
        if seen { Ok(()) } else { Err(HostProblem::Missing) }
    }

    fn check_authority(&self, authority: &str) -> Result<(), HostProblem> {
        let host = parse_authority(authority)?;
        if self.serves(&host) { Ok(()) } else { Err(HostProblem::NotServed(host)) }
    }

    fn serves(&self, host: &str) -> bool {
        let under =
            |suffix: &str| host == suffix || host.strip_suffix(suffix).is_some_and(|prefix| prefix.ends_with('.'));
        host.parse::<IpAddr>().is_ok()
            || under("localhost")
            || self.domains.iter().any(|domain| under(domain))
            || self.names.iter().any(|name| name == host)
    }
}

/// The authority the client addressed: HTTP/2 `:authority`, else the Host header.
pub fn request_authority(req: &axum::extract::Request) -> String {
    authority_of(req.uri(), req.headers())
}

/// [`request_authority`] from a request's parts.
pub fn authority_of(uri: &Uri, headers: &HeaderMap) -> String {
    uri.authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
        .to_ascii_lowercase()
}

/// Splits `host[:port]` (IPv6 literals in brackets) into host and port.
#[must_use]
pub fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

/// The single label before `domain` in `host`: `Some(Some(label))` for `{label}.{domain}`,
/// `Some(None)` for the bare domain or deeper names under it (they name nothing), `None` when
/// `host` is not under `domain`.
fn label_under<'a>(host: &'a str, domain: &str) -> Option<Option<&'a str>> {
    if host == domain {
        return Some(None);
    }
    let prefix = host.strip_suffix(domain)?.strip_suffix('.')?;
    Some((!prefix.is_empty() && !prefix.contains('.')).then_some(prefix))
}

/// The store a host names: `{name}.managedhsm.{parent of the vault domain}` names Managed HSM
/// `name` and nothing else; `{name}.{vault domain}` names vault `name`; the bare vault domain
/// and any other host (`localhost`, an IP, a compose service name) the default vault. `None`:
/// a name under either domain that names nothing (the bare HSM domain, more than one label).
#[must_use]
pub fn store_for_host<'a>(host: &'a str, vault_domain: &str) -> Option<(Flavour, &'a str)> {
    // A fully qualified name may end with a dot; it names the same host.
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Some(label) = label_under(host, &hsm_domain(vault_domain)) {
        return label.map(|name| (Flavour::ManagedHsm, name));
    }
    match label_under(host, vault_domain) {
        Some(Some(name)) => Some((Flavour::Vault, name)),
        Some(None) if host == vault_domain => Some((Flavour::Vault, DEFAULT_VAULT)),
        Some(None) => None,
        None => Some((Flavour::Vault, DEFAULT_VAULT)),
    }
}

/// `WWW-Authenticate` for a request to `authority` of a `flavour` store (contract §3,
/// sdk-clients §1). The resource stands for Key Vault's `https://vault.azure.net` or Managed
/// HSM's `https://managedhsm.azure.net`: it is the vault domain, or its HSM sibling, with the
/// client's port, so the store's host always ends with `.` + the resource host, as the SDKs'
/// challenge verification requires. Values carry no `,` or `=`, since Python splits on them.
#[must_use]
pub fn challenge(authority: &str, flavour: Flavour, vault_domain: &str, tenant: &uuid::Uuid) -> String {
    let port = split_authority(authority).1.map(|p| format!(":{p}")).unwrap_or_default();
    let resource_host = match flavour {
        Flavour::Vault => vault_domain.to_owned(),
        Flavour::ManagedHsm => hsm_domain(vault_domain),
    };
    format!(r#"Bearer authorization="https://localhost{port}/{tenant}", resource="https://{resource_host}{port}""#)
}

/// The lower-cased host of a `host[:port]` authority (an IPv6 literal without its brackets),
/// or what is wrong with it.
fn parse_authority(authority: &str) -> Result<String, HostProblem> {
    let malformed = |why: &str| HostProblem::Malformed(messages::front_door::authority_problem(authority, why));
    if authority.is_empty() {
        return Err(malformed(messages::front_door::AUTHORITY_EMPTY));
    }
    if authority.contains('@') {
        return Err(malformed(messages::front_door::AUTHORITY_USERINFO));
    }
    if authority.contains(['/', '?', '#', '\\']) {
        return Err(malformed(messages::front_door::AUTHORITY_PATH));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (literal, after) =
            rest.split_once(']').ok_or_else(|| malformed(messages::front_door::AUTHORITY_UNCLOSED_IPV6))?;
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(malformed(messages::front_door::AUTHORITY_BAD_IPV6));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| malformed(messages::front_door::AUTHORITY_AFTER_IPV6))?),
        };
        (literal, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port
        && !(port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(malformed(messages::front_door::AUTHORITY_BAD_PORT));
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !authority.starts_with('[') && (host.len() > 253 || !host.split('.').all(label_ok)) {
        return Err(malformed(messages::front_door::AUTHORITY_NOT_A_HOST_NAME));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: &str) -> Result<(), HostProblem> {
        let policy = HostPolicy::new("vault.localhost", &["kvemu".to_owned()]);
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        policy.check(&Uri::from_static("/"), &headers)
    }

    #[test]
    fn served_names_pass() {
        for host in [
            "localhost",
            "localhost:8443",
            "LOCALHOST.",
            "127.0.0.1:8080",
            "10.1.2.3",
            "[::1]:8443",
            "[::1]",
            "default.vault.localhost:8443",
            "cmk.vault.localhost.",
            "vault.localhost",
            "hsm1.managedhsm.localhost:8443",
            "anything.localhost",
            "kvemu:8080",
            "KVEMU",
        ] {
            assert_eq!(check(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn foreign_names_are_not_served() {
        for host in ["rebind.evil.example:8080", "evil.example", "localhost.evil.example", "kvemu.evil", "notlocalhost"]
        {
            assert!(matches!(check(host), Err(HostProblem::NotServed(_))), "{host}");
        }
    }

    #[test]
    fn malformed_authorities_are_refused() {
        for host in [
            "default.vault.localhost:8443/x",
            "user@localhost",
            "localhost:",
            "localhost:0",
            "localhost:65536",
            "localhost:84a3",
            "localhost:8443:1",
            "[::1",
            "[::1]x",
            "[zz]",
            "local host",
            "a..b",
            "",
        ] {
            if let Ok(value) = host.parse::<axum::http::HeaderValue>() {
                let policy = HostPolicy::new("vault.localhost", &[]);
                let mut headers = HeaderMap::new();
                headers.insert(header::HOST, value);
                let result = policy.check(&Uri::from_static("/"), &headers);
                assert!(matches!(result, Err(HostProblem::Malformed(_))), "{host}: {result:?}");
            }
        }
    }

    #[test]
    fn no_host_at_all_is_missing_and_an_authority_in_the_request_line_counts() {
        let policy = HostPolicy::new("vault.localhost", &[]);
        assert_eq!(policy.check(&Uri::from_static("/"), &HeaderMap::new()), Err(HostProblem::Missing));
        assert_eq!(policy.check(&Uri::from_static("https://localhost:8443/keys"), &HeaderMap::new()), Ok(()));
        assert!(matches!(
            policy.check(&Uri::from_static("http://evil.example/"), &HeaderMap::new()),
            Err(HostProblem::NotServed(_))
        ));
    }

    #[test]
    fn hosts_map_to_vaults_or_hsms_never_both() {
        let d = "vault.localhost";
        let vault = |name| Some((Flavour::Vault, name));
        assert_eq!(store_for_host("default.vault.localhost", d), vault("default"));
        assert_eq!(store_for_host("cmk.vault.localhost", d), vault("cmk"));
        assert_eq!(store_for_host("cmk.vault.localhost.", d), vault("cmk"));
        for other in ["localhost", "127.0.0.1", "vault.localhost", "keyvault"] {
            assert_eq!(store_for_host(other, d), vault(DEFAULT_VAULT), "{other}");
        }
        assert_eq!(store_for_host("a.b.vault.localhost", d), None);
        assert_eq!(store_for_host("hsm1.managedhsm.localhost", d), Some((Flavour::ManagedHsm, "hsm1")));
        assert_eq!(store_for_host("hsm1.managedhsm.localhost.", d), Some((Flavour::ManagedHsm, "hsm1")));
        assert_eq!(store_for_host("managedhsm.localhost", d), None, "the bare HSM domain names no HSM");
        assert_eq!(store_for_host("a.b.managedhsm.localhost", d), None);
        assert_eq!(store_for_host("h.managedhsm.corp.test", "kv.corp.test"), Some((Flavour::ManagedHsm, "h")));
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("a.vault.localhost:8443"), ("a.vault.localhost", Some("8443")));
        assert_eq!(split_authority("localhost"), ("localhost", None));
        assert_eq!(split_authority("[::1]:8443"), ("::1", Some("8443")));
        assert_eq!(split_authority("[::1]"), ("::1", None));
    }

    #[test]
    fn challenges_name_the_flavours_resource_with_the_port_and_no_commas_or_equals() {
        let tenant = uuid::Uuid::nil();
        let c = challenge("default.vault.localhost:8443", Flavour::Vault, "vault.localhost", &tenant);
        assert_eq!(
            c,
            r#"Bearer authorization="https://localhost:8443/00000000-0000-0000-0000-000000000000", resource="https://vault.localhost:8443""#
        );
        for value in c.split('"').skip(1).step_by(2) {
            assert!(!value.contains(',') && !value.contains('='), "{value}");
        }
        assert!(
            challenge("x.vault.localhost", Flavour::Vault, "vault.localhost", &tenant)
                .ends_with(r#"resource="https://vault.localhost""#)
        );
        assert!(
            challenge("h.managedhsm.localhost:9", Flavour::ManagedHsm, "vault.localhost", &tenant)
                .ends_with(r#"resource="https://managedhsm.localhost:9""#)
        );
    }

    #[test]
    fn a_configured_domain_serves_its_hsm_sibling() {
        let policy = HostPolicy::new("vault.corp.test", &[]);
        assert!(policy.serves("a.vault.corp.test"));
        assert!(policy.serves("a.managedhsm.corp.test"));
        assert!(!policy.serves("corp.test"));
        assert!(HostPolicy::new("kv.corp.test", &[]).serves("a.managedhsm.corp.test"));
    }
}
