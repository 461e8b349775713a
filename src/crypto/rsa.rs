//! RSA: key generation, public components, and the three Key Vault encryption paddings.
//!
//! Private keys travel as PKCS#8 DER (what the store seals); public keys as `n`/`e` big-endian
//! bytes without leading zeros (what a JWK carries). Encrypt and wrapKey are the same primitive.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::KeyPair as _;

use super::{CryptoError, CryptoResult};

/// RSA key sizes Key Vault creates.
pub const SUPPORTED_SIZES: [u32; 3] = [2048, 3072, 4096];

/// The encryption paddings behind `RSA1_5`, `RSA-OAEP` and `RSA-OAEP-256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Pkcs1v15,
    OaepSha1,
    OaepSha256,
}

impl Padding {
    fn oaep(self) -> Option<&'static OaepAlgorithm> {
        match self {
            Self::Pkcs1v15 => None,
            Self::OaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            Self::OaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
        }
    }

    /// Bytes of overhead the padding needs inside one modulus-sized block.
    #[must_use]
    pub fn overhead(self) -> usize {
        match self {
            Self::Pkcs1v15 => 11,
            Self::OaepSha1 => 42,
            Self::OaepSha256 => 66,
        }
    }
}

/// A generated or imported RSA key: sealed-ready private DER plus its public components.
#[derive(Clone, Debug)]
pub struct RsaKeyMaterial {
    pub pkcs8_der: Vec<u8>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// Generates a key of `bits` (2048, 3072 or 4096) with e = 65537.
pub fn generate(bits: u32) -> CryptoResult<RsaKeyMaterial> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        other => {
            return Err(CryptoError::InvalidInput(format!("unsupported RSA key size {other}")));
        }
    };
    let pair = KeyPair::generate(size).map_err(|_| CryptoError::Material("RSA generation failed".into()))?;
    let der = pair.as_der().map_err(|_| CryptoError::Material("RSA PKCS#8 encoding failed".into()))?;
    material_from_pkcs8(der.as_ref())
}

/// Parses PKCS#8 DER and returns it with its public components.
pub fn material_from_pkcs8(pkcs8_der: &[u8]) -> CryptoResult<RsaKeyMaterial> {
    let pair = KeyPair::from_pkcs8(pkcs8_der).map_err(|e| CryptoError::Material(format!("RSA PKCS#8: {e}")))?;
    let public = pair.public_key();
    Ok(RsaKeyMaterial {
        pkcs8_der: pkcs8_der.to_vec(),
        n: public.modulus().big_endian_without_leading_zero().to_vec(),
        e: public.exponent().big_endian_without_leading_zero().to_vec(),
    })
}

fn public_key(n: &[u8], e: &[u8]) -> CryptoResult<PublicEncryptingKey> {
    PublicKeyComponents { n, e }.try_into().map_err(|_| CryptoError::Material("invalid RSA public key".into()))
}

/// Encrypts one block with the public key. Plaintext longer than the padding allows is refused.
pub fn encrypt(n: &[u8], e: &[u8], padding: Padding, plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
    let key = public_key(n, e)?;
    let modulus_len = key.key_size_bytes();
    let limit = modulus_len.saturating_sub(padding.overhead());
    if plaintext.len() > limit {
        return Err(CryptoError::InvalidInput(format!(
            "The plaintext is {} bytes long; this key and algorithm accept at most {limit} bytes.",
            plaintext.len()
        )));
    }
    let mut out = vec![0u8; modulus_len];
    let failed = || CryptoError::Material("RSA encryption failed".into());
    let written = match padding.oaep() {
        Some(alg) => {
            let key = OaepPublicEncryptingKey::new(key).map_err(|_| failed())?;
            key.encrypt(alg, plaintext, &mut out, None).map_err(|_| failed())?.len()
        }
        None => {
            let key = Pkcs1PublicEncryptingKey::new(key).map_err(|_| failed())?;
            key.encrypt(plaintext, &mut out).map_err(|_| failed())?.len()
        }
    };
    out.truncate(written);
    Ok(out)
}

/// Decrypts one block with the private key.
pub fn decrypt(pkcs8_der: &[u8], padding: Padding, ciphertext: &[u8]) -> CryptoResult<Vec<u8>> {
    let key =
        PrivateDecryptingKey::from_pkcs8(pkcs8_der).map_err(|e| CryptoError::Material(format!("RSA PKCS#8: {e}")))?;
    let modulus_len = key.key_size_bytes();
    if ciphertext.len() != modulus_len {
        return Err(CryptoError::InvalidInput(format!(
            "The ciphertext is {} bytes long; this key expects exactly {modulus_len} bytes.",
            ciphertext.len()
        )));
    }
    let undecryptable =
        || CryptoError::InvalidInput("The ciphertext could not be decrypted with this key and algorithm.".into());
    let mut out = vec![0u8; modulus_len];
    let written = match padding.oaep() {
        Some(alg) => {
            let key = OaepPrivateDecryptingKey::new(key).map_err(|_| undecryptable())?;
            key.decrypt(alg, ciphertext, &mut out, None).map_err(|_| undecryptable())?.len()
        }
        None => {
            let key = Pkcs1PrivateDecryptingKey::new(key).map_err(|_| undecryptable())?;
            key.decrypt(ciphertext, &mut out).map_err(|_| undecryptable())?.len()
        }
    };
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn key() -> &'static RsaKeyMaterial {
        static KEY: OnceLock<RsaKeyMaterial> = OnceLock::new();
        KEY.get_or_init(|| generate(2048).unwrap())
    }

    #[test]
    fn generated_key_has_standard_public_exponent_and_full_modulus() {
        let k = key();
        assert_eq!(k.e, vec![1, 0, 1]);
        assert_eq!(k.n.len(), 256);
        assert_ne!(k.n[0], 0);
    }

    #[test]
    fn every_padding_round_trips() {
        let k = key();
        for padding in [Padding::Pkcs1v15, Padding::OaepSha1, Padding::OaepSha256] {
            let secret = b"0123456789abcdef0123456789abcdef";
            let ct = encrypt(&k.n, &k.e, padding, secret).unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(decrypt(&k.pkcs8_der, padding, &ct).unwrap(), secret, "{padding:?}");
        }
    }

    #[test]
    fn wrong_padding_or_corrupt_ciphertext_is_invalid_input() {
        let k = key();
        let ct = encrypt(&k.n, &k.e, Padding::OaepSha256, b"secret").unwrap();
        assert!(matches!(decrypt(&k.pkcs8_der, Padding::OaepSha1, &ct), Err(CryptoError::InvalidInput(_))));
        assert!(matches!(decrypt(&k.pkcs8_der, Padding::OaepSha256, &ct[1..]), Err(CryptoError::InvalidInput(_))));
    }

    #[test]
    fn plaintext_limit_follows_padding() {
        let k = key();
        assert!(encrypt(&k.n, &k.e, Padding::OaepSha256, &[7u8; 190]).is_ok());
        assert!(matches!(encrypt(&k.n, &k.e, Padding::OaepSha256, &[7u8; 191]), Err(CryptoError::InvalidInput(_))));
        assert!(encrypt(&k.n, &k.e, Padding::Pkcs1v15, &[7u8; 245]).is_ok());
    }

    #[test]
    fn pkcs8_round_trips_to_the_same_public_key() {
        let k = key();
        let again = material_from_pkcs8(&k.pkcs8_der).unwrap();
        assert_eq!(again.n, k.n);
        assert_eq!(again.e, k.e);
    }

    #[test]
    fn unsupported_size_is_refused() {
        assert!(matches!(generate(1000), Err(CryptoError::InvalidInput(_))));
    }
}
