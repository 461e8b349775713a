//! TLS for the HTTPS port: a local CA created once per data directory, and a leaf certificate
//! issued from it at every start (sdk-clients §2: a separate CA, RFC 5280-clean extensions, and
//! SANs for `localhost`, the domain, `*.{domain}`, the Managed HSM domain and `*.` it,
//! 127.0.0.1 and ::1; never `*.localhost`, which webpki refuses).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

use crate::files;

pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn io_error(path: &Path, source: std::io::Error) -> TlsError {
    TlsError::Io { path: path.display().to_string(), source }
}

/// The emulator's certificate authority.
pub struct LocalCa {
    pub cert_pem: String,
    key: KeyPair,
}

/// The CA's identity. Rebuilt identically at every start, so a leaf issued with a stored key
/// names the stored certificate as its issuer (same subject, same key identifier).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "keyvault-emulator local CA");
    dn.push(DnType::OrganizationName, "keyvault-emulator");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

impl LocalCa {
    fn create() -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = ca_params();
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Ok(Self { cert_pem: cert.pem(), key })
    }

    /// Loads the CA kept in `dir`, creating and saving it on first use; `None` makes a CA that
    /// lives only in memory.
    pub fn load_or_create(dir: Option<&Path>) -> Result<Self, TlsError> {
        let Some(dir) = dir else {
            return Self::create();
        };
        let cert_path = dir.join(CA_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if cert_path.exists() && key_path.exists() {
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(|e| io_error(&cert_path, e))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(|e| io_error(&key_path, e))?;
            return Ok(Self { cert_pem, key: KeyPair::from_pem(&key_pem)? });
        }
        let ca = Self::create()?;
        // The key first: a CA certificate on disk without its key could never issue a leaf.
        files::write_private(&key_path, ca.key.serialize_pem().as_bytes()).map_err(|e| io_error(&key_path, e))?;
        files::write_private(&cert_path, ca.cert_pem.as_bytes()).map_err(|e| io_error(&cert_path, e))?;
        Ok(ca)
    }

    /// Issues a server certificate for the domain, the loopback names and `extra_names` (DNS
    /// names or IP addresses).
    pub fn issue_leaf(
        &self,
        domain: &str,
        extra_names: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        let (extra_ips, extra_dns): (Vec<_>, Vec<_>) =
            extra_names.iter().partition(|name| name.parse::<IpAddr>().is_ok());
        let hsm_domain = crate::vaults::hsm_domain(domain);
        let mut names = vec![
            "localhost".to_owned(),
            domain.to_owned(),
            format!("*.{domain}"),
            format!("*.{hsm_domain}"),
            hsm_domain,
        ];
        for name in extra_dns {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let mut params = CertificateParams::new(names)?;
        let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
        ips.extend(extra_ips.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()));
        ips.dedup();
        params.subject_alt_names.extend(ips.into_iter().map(SanType::IpAddress));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, domain);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(365);
        let leaf_key = KeyPair::generate()?;
        let issuer = Issuer::new(ca_params(), &self.key);
        let cert = params.signed_by(&leaf_key, &issuer)?;
        let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| TlsError::Config(e.to_string()))?;
        Ok((vec![cert.der().clone()], key))
    }
}

/// Reads a user-supplied certificate chain and private key (PEM).
pub fn load_pem_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Config(format!("{}: {e}", cert.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Config(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError::Config(format!("{}: no certificate found", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Config(format!("{}: {e}", key.display())))?;
    Ok((chain, key))
}

/// A rustls server configuration on aws-lc-rs, speaking HTTP/2 and HTTP/1.1.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_ca_still_issues_leaves_after_reload() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalCa::load_or_create(Some(dir.path())).unwrap();
        let again = LocalCa::load_or_create(Some(dir.path())).unwrap();
        assert_eq!(first.cert_pem, again.cert_pem);
        let (chain, key) = again.issue_leaf("vault.localhost", &["kvemu".to_owned(), "10.1.2.3".to_owned()]).unwrap();
        assert_eq!(chain.len(), 1);
        assert!(server_config(chain, key).is_ok());
    }
}
