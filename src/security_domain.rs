//! The Managed HSM security domain rules: activation by download, the transfer key, and
//! restore by upload. Nothing here knows HTTP; the crypto is `crypto::security_domain`'s.
//!
//! What a domain holds is the emulator's own: one datum, tag [`DOMAIN_KEY_TAG`], the HSM's
//! 32-byte domain key. Restoring a domain into a new HSM gives it the same domain key (and
//! activates it), which is all the emulator does with it: keys are not carried (Azure carries
//! them by a full backup to Storage, which is not emulated). The state is kept with the HSM's
//! own (`vaults::ManagedHsm`), so activation and the domain are one write.

use serde::{Deserialize, Serialize};

use crate::crypto::base64url::Base64Url;
use crate::crypto::security_domain::{self as sd, PrivateWrappingKey, WrappingKey};
use crate::crypto::{CryptoError, rsa};

/// The tag of the datum holding the domain key.
pub const DOMAIN_KEY_TAG: &str = "kvemu-domain-key";
const DOMAIN_KEY_LEN: usize = 32;
/// Azure's bounds: 3 to 10 wrapping certificates, a quorum of 2 to their number.
pub const MIN_CERTIFICATES: usize = 3;
pub const MAX_CERTIFICATES: usize = 10;

/// An HSM's security-domain state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityDomainState {
    /// Set when the HSM was activated by a download or an upload.
    #[serde(default)]
    pub domain_key: Option<Base64Url>,
    /// The key uploads are wrapped to, made by the first `GET /securitydomain/transferkey`.
    #[serde(default)]
    pub transfer_key: Option<TransferKey>,
    /// The last download's and upload's outcome, for the `pending` endpoints.
    #[serde(default)]
    pub download: Option<Outcome>,
    #[serde(default)]
    pub upload: Option<Outcome>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferKey {
    pub pkcs8: Base64Url,
    pub certificate: Base64Url,
    pub n: Base64Url,
    pub e: Base64Url,
}

/// A finished operation: every download and upload completes within its request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub succeeded: bool,
    pub details: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecurityDomainError {
    /// The request's certificates, quorum or blob cannot be used; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The HSM already has a security domain.
    #[error("the HSM is already activated")]
    AlreadyActivated,
    /// An upload before `GET /securitydomain/transferkey`.
    #[error("no transfer key")]
    NoTransferKey,
    #[error("{0}")]
    Crypto(String),
}

impl From<CryptoError> for SecurityDomainError {
    fn from(err: CryptoError) -> Self {
        match err {
            CryptoError::InvalidInput(message) => Self::Invalid(message),
            CryptoError::Material(message) => Self::Crypto(message),
        }
    }
}

/// A wrapping certificate of a download request, as its JWK gives it.
#[derive(Clone, Debug)]
pub struct Certificate {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    /// `x5c[0]`, the certificate's DER.
    pub x5c: Vec<u8>,
}

/// Download: activates a new HSM and returns its security domain, recoverable with `required`
/// of `certificates`' private keys.
pub fn download(
    state: &SecurityDomainState,
    activated: bool,
    certificates: &[Certificate],
    required: u32,
) -> Result<(SecurityDomainState, String), SecurityDomainError> {
    if activated {
        return Err(SecurityDomainError::AlreadyActivated);
    }
    if !(MIN_CERTIFICATES..=MAX_CERTIFICATES).contains(&certificates.len()) {
        return Err(SecurityDomainError::Invalid(crate::messages::managed_hsm::certificate_count(
            MIN_CERTIFICATES,
            MAX_CERTIFICATES,
            certificates.len(),
        )));
    }
    let required = u8::try_from(required).ok().filter(|r| *r >= 2 && usize::from(*r) <= certificates.len());
    let Some(required) = required else {
        return Err(SecurityDomainError::Invalid(crate::messages::managed_hsm::quorum_out_of_range(
            certificates.len(),
        )));
    };
    for cert in certificates {
        if crate::crypto::trim_leading_zeros(&cert.n).len() * 8 < 2048 || cert.x5c.is_empty() {
            return Err(SecurityDomainError::Invalid(crate::messages::managed_hsm::CERTIFICATE_TOO_WEAK.into()));
        }
    }
    let keys: Vec<WrappingKey> = certificates
        .iter()
        .map(|c| WrappingKey { n: c.n.clone(), e: c.e.clone(), certificate_der: c.x5c.clone() })
        .collect();
    let domain_key = crate::crypto::random_bytes(DOMAIN_KEY_LEN)?;
    let file = sd::seal(&[(DOMAIN_KEY_TAG.to_owned(), domain_key.clone())], &keys, required)?;
    let next = SecurityDomainState {
        domain_key: Some(Base64Url(domain_key)),
        download: Some(Outcome {
            succeeded: true,
            details: crate::messages::managed_hsm::DOWNLOADED_AND_ACTIVATED.into(),
        }),
        ..state.clone()
    };
    Ok((next, file))
}

/// The transfer key, made on first use with a self-signed certificate (`x5c`) for clients
/// that read the key from it. `None` in the first place when the state already has one.
pub fn ensure_transfer_key(
    state: &SecurityDomainState,
    hsm_name: &str,
) -> Result<Option<SecurityDomainState>, SecurityDomainError> {
    if state.transfer_key.is_some() {
        return Ok(None);
    }
    let material = rsa::generate(2048)?;
    let certificate = self_signed(&material.pkcs8_der, hsm_name)?;
    let transfer = TransferKey {
        pkcs8: Base64Url(material.pkcs8_der),
        certificate: Base64Url(certificate),
        n: Base64Url(material.n),
        e: Base64Url(material.e),
    };
    Ok(Some(SecurityDomainState { transfer_key: Some(transfer), ..state.clone() }))
}

fn self_signed(pkcs8: &[u8], hsm_name: &str) -> Result<Vec<u8>, SecurityDomainError> {
    let failed = |e: rcgen::Error| SecurityDomainError::Crypto(format!("transfer key certificate: {e}"));
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).map_err(failed)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("{hsm_name} security domain transfer key"));
    Ok(params.self_signed(&pair).map_err(failed)?.der().to_vec())
}

/// Upload: restores the domain of `blob` (wrapped to this HSM's transfer key) and activates
/// the HSM.
pub fn upload(
    state: &SecurityDomainState,
    activated: bool,
    blob: &str,
) -> Result<SecurityDomainState, SecurityDomainError> {
    if activated {
        return Err(SecurityDomainError::AlreadyActivated);
    }
    let transfer = state.transfer_key.as_ref().ok_or(SecurityDomainError::NoTransferKey)?;
    let private =
        PrivateWrappingKey { pkcs8_der: transfer.pkcs8.0.clone(), certificate_der: transfer.certificate.0.clone() };
    let data = sd::open_restore_blob(blob, &private)?;
    let domain_key = data
        .into_iter()
        .find(|(tag, key)| tag == DOMAIN_KEY_TAG && key.len() == DOMAIN_KEY_LEN)
        .map(|(_, key)| key)
        .ok_or_else(|| SecurityDomainError::Invalid(crate::messages::managed_hsm::FOREIGN_RESTORE_BLOB.into()))?;
    Ok(SecurityDomainState {
        domain_key: Some(Base64Url(domain_key)),
        upload: Some(Outcome { succeeded: true, details: crate::messages::managed_hsm::RESTORED_AND_ACTIVATED.into() }),
        ..state.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Officer {
        certificate: Certificate,
        private: PrivateWrappingKey,
    }

    fn officer() -> Officer {
        let material = rsa::generate(2048).unwrap();
        let x5c = crate::crypto::random_bytes(64).unwrap();
        Officer {
            certificate: Certificate { n: material.n, e: material.e, x5c: x5c.clone() },
            private: PrivateWrappingKey { pkcs8_der: material.pkcs8_der, certificate_der: x5c },
        }
    }

    #[test]
    fn a_downloaded_domain_restores_into_a_new_hsm_with_a_quorum_only() {
        let officers: Vec<Officer> = (0..3).map(|_| officer()).collect();
        let certificates: Vec<Certificate> = officers.iter().map(|o| o.certificate.clone()).collect();
        let (first, file) = download(&SecurityDomainState::default(), false, &certificates, 2).unwrap();
        assert!(first.domain_key.is_some());
        assert_eq!(download(&first, true, &certificates, 2), Err(SecurityDomainError::AlreadyActivated));

        let fresh = SecurityDomainState::default();
        assert_eq!(upload(&fresh, false, "{}"), Err(SecurityDomainError::NoTransferKey));
        let second = ensure_transfer_key(&fresh, "hsm2").unwrap().unwrap();
        assert_eq!(ensure_transfer_key(&second, "hsm2").unwrap(), None, "made once");
        let transfer = second.transfer_key.clone().unwrap();
        let exchange = WrappingKey { n: transfer.n.0, e: transfer.e.0, certificate_der: transfer.certificate.0 };

        let one = [officers[1].private.clone()];
        assert!(sd::recover(&file, &one).is_err(), "one key of a 2-quorum recovers nothing");
        let quorum = [officers[0].private.clone(), officers[2].private.clone()];
        let data = sd::recover(&file, &quorum).unwrap();
        let restored = upload(&second, false, &sd::restore_blob(&data, &exchange).unwrap()).unwrap();
        assert_eq!(restored.domain_key, first.domain_key, "the new HSM holds the old domain");

        let forged = sd::restore_blob(&[(DOMAIN_KEY_TAG.into(), vec![0; 16])], &exchange).unwrap();
        assert!(matches!(upload(&second, false, &forged), Err(SecurityDomainError::Invalid(_))));
    }

    #[test]
    fn certificate_count_quorum_and_key_size_are_checked() {
        let certificates: Vec<Certificate> = (0..3).map(|_| officer().certificate).collect();
        let state = SecurityDomainState::default();
        assert!(matches!(download(&state, false, &certificates[..2], 2), Err(SecurityDomainError::Invalid(_))));
        assert!(matches!(download(&state, false, &certificates, 1), Err(SecurityDomainError::Invalid(_))));
        assert!(matches!(download(&state, false, &certificates, 4), Err(SecurityDomainError::Invalid(_))));
        let mut small = certificates.clone();
        small[0].n = vec![0xff; 128];
        assert!(matches!(download(&state, false, &small, 2), Err(SecurityDomainError::Invalid(_))));
    }
}
