//! The client side of the in-process test fixture (feature `fixture`): an HTTPS client that
//! trusts the emulator's CA and sends every vault host to it, the same client as an Azure SDK
//! transport, and an SDK credential that mints tokens in-process for a named identity.

use std::net::SocketAddr;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::Emulator;
use crate::auth::identity::Identity;
use crate::auth::issuer::TokenIssuer;

/// Resolves `localhost`, the emulator's domain and every `{vault}.{domain}` to the emulator's
/// address (vaults created later included), and anything else through the system resolver.
#[derive(Debug)]
struct EmulatorResolver {
    domain: String,
    addr: SocketAddr,
}

impl EmulatorResolver {
    fn is_emulator_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let under =
            |domain: &str| host == domain || host.strip_suffix(domain).is_some_and(|prefix| prefix.ends_with('.'));
        host == "localhost" || under(&self.domain) || under(&crate::vaults::hsm_domain(&self.domain))
    }
}

impl Resolve for EmulatorResolver {
    fn resolve(&self, name: Name) -> Resolving {
        if self.is_emulator_host(name.as_str()) {
            // The connector replaces the port with the URL's, so one address serves both ports.
            let addrs: Addrs = Box::new(std::iter::once(self.addr));
            return Box::pin(std::future::ready(Ok(addrs)));
        }
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Addrs = Box::new(tokio::net::lookup_host((host, 0)).await?.collect::<Vec<_>>().into_iter());
            Ok(addrs)
        })
    }
}

/// A `reqwest` client that trusts only `ca_pem` and sends `localhost`, `domain` and every
/// `{vault}.{domain}` to `addr`'s IP (with the URL's port), for an emulator in this process or in
/// a container (feature `testcontainers`). Redirects are not followed, as the SDKs do not follow
/// them either.
///
/// # Panics
/// If `ca_pem` is not a PEM certificate: the emulator's own CA always is.
pub(crate) fn emulator_client(ca_pem: &str, domain: &str, addr: SocketAddr) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("the emulator's CA certificate");
    let resolver = EmulatorResolver { domain: domain.to_ascii_lowercase(), addr };
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .dns_resolver(Arc::new(resolver))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client with the emulator's CA")
}

/// An Azure SDK credential for one identity of an in-process emulator. Tokens are minted
/// directly by the emulator's issuer, exactly as its token endpoints would mint them.
#[derive(Clone)]
pub struct EmulatorCredential {
    identity: Identity,
    issuer: TokenIssuer,
}

impl std::fmt::Debug for EmulatorCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorCredential").field("identity", &self.identity.name).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl TokenCredential for EmulatorCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let credential_error =
            |message: String| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message);
        let scope = scopes.first().copied().ok_or_else(|| credential_error("no scope requested".into()))?;
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        self.issuer.ready().await;
        let token =
            self.issuer.issue_for_identity(&self.identity, resource).map_err(|e| credential_error(e.to_string()))?;
        let expires_on = time::OffsetDateTime::from_unix_timestamp(token.expires_on)
            .map_err(|e| credential_error(format!("token expiry: {e}")))?;
        Ok(AccessToken::new(token.access_token, expires_on))
    }
}

impl Emulator {
    /// A `reqwest` client that trusts only this emulator's CA and reaches every vault host
    /// (`{vault}.vault.localhost`), `localhost` and the plain-HTTP port without DNS or
    /// `/etc/hosts`. Redirects are not followed, as the SDKs do not follow them either.
    ///
    /// # Panics
    /// If the emulator's own CA certificate cannot be loaded, which would be a bug.
    #[must_use]
    pub fn http_client(&self) -> reqwest::Client {
        emulator_client(self.ca_pem(), &self.inner.domain, self.https_addr())
    }

    /// [`Emulator::http_client`] as an Azure SDK transport, for `ClientOptions::transport`.
    #[must_use]
    pub fn transport(&self) -> azure_core::http::Transport {
        azure_core::http::Transport::new(Arc::new(self.http_client()))
    }

    /// An Azure SDK credential for the identity `name` (see [`Emulator::token_for_identity`]):
    /// `default` is the default managed identity, `admin` the service principal with every
    /// permission, any other name a declared identity or a user-assigned one derived from it.
    #[must_use]
    pub fn credential(&self, name: &str) -> Arc<EmulatorCredential> {
        let state = self.inner.state();
        Arc::new(EmulatorCredential {
            identity: state.identities.named_or_user_assigned(self.tenant_id(), name),
            issuer: state.issuer.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::EmulatorResolver;

    #[test]
    fn vault_hosts_and_localhost_go_to_the_emulator() {
        let resolver = EmulatorResolver { domain: "vault.localhost".into(), addr: "127.0.0.1:1".parse().unwrap() };
        for host in
            ["localhost", "vault.localhost", "cmk.vault.localhost", "CMK.Vault.Localhost.", "h.managedhsm.localhost"]
        {
            assert!(resolver.is_emulator_host(host), "{host}");
        }
        for host in ["example.com", "notvault.localhost", "vault.localhost.example.com"] {
            assert!(!resolver.is_emulator_host(host), "{host}");
        }
    }
}
