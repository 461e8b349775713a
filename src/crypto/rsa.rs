//! RSA: key generation, public components, and the three Key Vault encryption paddings.
//!
//! Private keys travel as PKCS#8 DER (what the store seals); public keys as `n`/`e` big-endian
//! bytes without leading zeros (what a JWK carries). Encrypt and wrapKey are the same primitive.
//! Over 400 lines because of its tests (from line 360): round trips and known-answer checks for
//! every padding and key size belong beside the functions they pin down.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OaepAlgorithm,
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::KeyPair as _;

use super::{CryptoError, CryptoResult, Hash};

/// RSA key sizes Key Vault creates.
pub const SUPPORTED_SIZES: [u32; 3] = [2048, 3072, 4096];

/// The encryption paddings behind `RSA1_5`, `RSA-OAEP` and `RSA-OAEP-256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Pkcs1v15,
    OaepSha1,
    OaepSha256,
    /// Only for wrapping released keys (`RSA_AES_KEY_WRAP_384`); no JWA encryption name uses it.
    OaepSha384,
}

impl Padding {
    fn oaep(self) -> Option<&'static OaepAlgorithm> {
        match self {
            Self::Pkcs1v15 => None,
            Self::OaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            Self::OaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
            Self::OaepSha384 => Some(&OAEP_SHA384_MGF1SHA384),
        }
    }

    /// Bytes of overhead the padding needs inside one modulus-sized block.
    #[must_use]
    pub fn overhead(self) -> usize {
        match self {
            Self::Pkcs1v15 => 11,
            Self::OaepSha1 => 42,
            Self::OaepSha256 => 66,
            Self::OaepSha384 => 98,
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
            return Err(CryptoError::InvalidInput(crate::messages::crypto::rsa_generation_size(other)));
        }
    };
    let pair = KeyPair::generate(size).map_err(|_| CryptoError::Material("RSA generation failed".into()))?;
    let der = pair.as_der().map_err(|_| CryptoError::Material("RSA PKCS#8 encoding failed".into()))?;
    material_from_pkcs8(der.as_ref())
}

/// The members of a private RSA JWK (big-endian unsigned integers).
#[derive(Clone, Copy, Debug)]
pub struct RsaPrivateComponents<'a> {
    pub n: &'a [u8],
    pub e: &'a [u8],
    pub d: &'a [u8],
    pub p: &'a [u8],
    pub q: &'a [u8],
    pub dp: &'a [u8],
    pub dq: &'a [u8],
    pub qi: &'a [u8],
}

/// Builds a key from JWK members. Inconsistent material (n ≠ p·q, a wrong exponent or CRT
/// value) or a size Key Vault does not take is invalid input.
pub fn import(c: &RsaPrivateComponents<'_>) -> CryptoResult<RsaKeyMaterial> {
    let bits = super::trim_leading_zeros(c.n).len() * 8;
    if !SUPPORTED_SIZES.iter().any(|size| *size as usize == bits) {
        return Err(CryptoError::InvalidInput(crate::messages::keys::rsa_import_size(bits)));
    }
    let components = aws_lc_rs::rsa::KeyPairComponents {
        public_key: PublicKeyComponents { n: c.n, e: c.e },
        d: c.d,
        p: c.p,
        q: c.q,
        dP: c.dp,
        dQ: c.dq,
        qInv: c.qi,
    };
    let pair = KeyPair::from_components(&components)
        .map_err(|e| CryptoError::InvalidInput(crate::messages::crypto::rsa_material_inconsistent(e)))?;
    let der = pair.as_der().map_err(|_| CryptoError::Material("RSA PKCS#8 encoding failed".into()))?;
    material_from_pkcs8(der.as_ref())
}

/// The CRT members of a key known only by `n`, `e` and `d`: the primes are recovered from
/// `n` and `d·e − 1` (NIST SP 800-56B, appendix C), then `dp`, `dq` and `qi` follow.
///
/// num-bigint is not constant-time; this runs once, at import, on material the caller already
/// holds, and every later private-key operation goes through aws-lc-rs as usual.
pub fn complete_from_d(n: &[u8], e: &[u8], d: &[u8]) -> CryptoResult<RsaKeyMaterial> {
    use num_bigint::BigUint;
    let inconsistent = || CryptoError::InvalidInput(crate::messages::crypto::RSA_NED_INCONSISTENT.into());
    let bits = super::trim_leading_zeros(n).len() * 8;
    if !SUPPORTED_SIZES.iter().any(|size| *size as usize == bits) {
        return Err(CryptoError::InvalidInput(crate::messages::keys::rsa_import_size(bits)));
    }
    let (n_int, e_int, d_int) = (BigUint::from_bytes_be(n), BigUint::from_bytes_be(e), BigUint::from_bytes_be(d));
    let one = BigUint::from(1u8);
    // Both exponents of a real key are below n; bounding them bounds the work below, which a
    // request could otherwise make arbitrarily large with a long `d`.
    if e_int <= one || e_int >= n_int || d_int <= one || d_int >= n_int {
        return Err(inconsistent());
    }
    let k = &d_int * &e_int - &one;
    if k.bit(0) {
        return Err(inconsistent());
    }
    // For a real key e·d ≡ 1 (mod λ(n)), so g^(e·d−1) ≡ 1 (mod n) for any g coprime to n: one
    // exponentiation refuses members that do not belong together, before the factoring loop
    // below spends up to a hundred of them.
    let witness = BigUint::from_bytes_be(&super::random_bytes(n.len())?) % &n_int;
    if witness > one && witness.modpow(&k, &n_int) != one {
        return Err(inconsistent());
    }
    let odd_part_shift = k.trailing_zeros().ok_or_else(inconsistent)?;
    let t = &k >> odd_part_shift;
    let n_minus_one = &n_int - &one;
    let gcd = |mut a: BigUint, mut b: BigUint| {
        while b != BigUint::from(0u8) {
            let r = &a % &b;
            a = b;
            b = r;
        }
        a
    };
    // Each random base finds a factor with probability at least 1/2; 100 tries never fail for
    // a real key, and bound the work for a bogus one.
    for _ in 0..100 {
        let g = BigUint::from_bytes_be(&super::random_bytes(n.len())?) % &n_int;
        if g <= one {
            continue;
        }
        let mut x = g.modpow(&t, &n_int);
        for _ in 0..odd_part_shift {
            if x == one || x == n_minus_one {
                break;
            }
            let y = x.modpow(&BigUint::from(2u8), &n_int);
            if y == one {
                let p = gcd(&x - &one, n_int.clone());
                let q = &n_int / &p;
                if p <= one || &p * &q != n_int {
                    break;
                }
                let (p, q) = if p > q { (p, q) } else { (q, p) };
                let dp = &d_int % (&p - &one);
                let dq = &d_int % (&q - &one);
                let qi = q.modinv(&p).ok_or_else(inconsistent)?;
                let bytes = |v: &BigUint| v.to_bytes_be();
                return import(&RsaPrivateComponents {
                    n,
                    e,
                    d,
                    p: &bytes(&p),
                    q: &bytes(&q),
                    dp: &bytes(&dp),
                    dq: &bytes(&dq),
                    qi: &bytes(&qi),
                });
            }
            x = y;
        }
    }
    Err(inconsistent())
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

/// The public key parsed for encryption (parse once, encrypt many: the parsed key also keeps
/// the Montgomery constants its first operation computes).
pub fn parse_public(n: &[u8], e: &[u8]) -> CryptoResult<PublicEncryptingKey> {
    public_key(n, e)
}

/// Encrypts one block with the public key. Plaintext longer than the padding allows is refused.
pub fn encrypt(n: &[u8], e: &[u8], padding: Padding, plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
    encrypt_with(&public_key(n, e)?, padding, plaintext)
}

/// [`encrypt`] with a parsed key.
pub fn encrypt_with(key: &PublicEncryptingKey, padding: Padding, plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
    // A clone shares the parsed key (a reference count).
    let key = key.clone();
    let modulus_len = key.key_size_bytes();
    let limit = modulus_len.saturating_sub(padding.overhead());
    if plaintext.len() > limit {
        return Err(CryptoError::InvalidInput(crate::messages::crypto::rsa_plaintext_too_long(plaintext.len(), limit)));
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

/// The private key, parsed for decryption (parse once, decrypt many: parsing costs more than
/// a 2048-bit private operation).
pub fn parse_decrypting(pkcs8_der: &[u8]) -> CryptoResult<PrivateDecryptingKey> {
    PrivateDecryptingKey::from_pkcs8(pkcs8_der).map_err(|e| CryptoError::Material(format!("RSA PKCS#8: {e}")))
}

/// Decrypts one block with the private key.
pub fn decrypt(pkcs8_der: &[u8], padding: Padding, ciphertext: &[u8]) -> CryptoResult<Vec<u8>> {
    decrypt_with(&parse_decrypting(pkcs8_der)?, padding, ciphertext)
}

/// [`decrypt`] with a parsed key.
pub fn decrypt_with(key: &PrivateDecryptingKey, padding: Padding, ciphertext: &[u8]) -> CryptoResult<Vec<u8>> {
    // A clone shares the parsed key (a reference count), blinding state included.
    let key = key.clone();
    let modulus_len = key.key_size_bytes();
    if ciphertext.len() != modulus_len {
        return Err(CryptoError::InvalidInput(crate::messages::crypto::rsa_ciphertext_length(
            ciphertext.len(),
            modulus_len,
        )));
    }
    let undecryptable = || CryptoError::InvalidInput(crate::messages::crypto::RSA_UNDECRYPTABLE.into());
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

/// RSA signature paddings: PKCS#1 v1.5 (`RS*`) and PSS with salt length = hash length (`PS*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignaturePadding {
    Pkcs1,
    Pss,
}

fn signing_encoding(padding: SignaturePadding, hash: Hash) -> &'static dyn aws_lc_rs::signature::RsaEncoding {
    use aws_lc_rs::signature as s;
    match (padding, hash) {
        (SignaturePadding::Pkcs1, Hash::Sha256) => &s::RSA_PKCS1_SHA256,
        (SignaturePadding::Pkcs1, Hash::Sha384) => &s::RSA_PKCS1_SHA384,
        (SignaturePadding::Pkcs1, Hash::Sha512) => &s::RSA_PKCS1_SHA512,
        (SignaturePadding::Pss, Hash::Sha256) => &s::RSA_PSS_SHA256,
        (SignaturePadding::Pss, Hash::Sha384) => &s::RSA_PSS_SHA384,
        (SignaturePadding::Pss, Hash::Sha512) => &s::RSA_PSS_SHA512,
    }
}

fn verification_parameters(padding: SignaturePadding, hash: Hash) -> &'static aws_lc_rs::signature::RsaParameters {
    use aws_lc_rs::signature as s;
    match (padding, hash) {
        (SignaturePadding::Pkcs1, Hash::Sha256) => &s::RSA_PKCS1_2048_8192_SHA256,
        (SignaturePadding::Pkcs1, Hash::Sha384) => &s::RSA_PKCS1_2048_8192_SHA384,
        (SignaturePadding::Pkcs1, Hash::Sha512) => &s::RSA_PKCS1_2048_8192_SHA512,
        (SignaturePadding::Pss, Hash::Sha256) => &s::RSA_PSS_2048_8192_SHA256,
        (SignaturePadding::Pss, Hash::Sha384) => &s::RSA_PSS_2048_8192_SHA384,
        (SignaturePadding::Pss, Hash::Sha512) => &s::RSA_PSS_2048_8192_SHA512,
    }
}

/// The private key, parsed for signing.
pub fn parse_signing(pkcs8_der: &[u8]) -> CryptoResult<KeyPair> {
    KeyPair::from_pkcs8(pkcs8_der).map_err(|e| CryptoError::Material(format!("RSA PKCS#8: {e}")))
}

/// Signs a digest the caller computed.
pub fn sign_digest(pkcs8_der: &[u8], padding: SignaturePadding, hash: Hash, digest: &[u8]) -> CryptoResult<Vec<u8>> {
    sign_digest_with(&parse_signing(pkcs8_der)?, padding, hash, digest)
}

/// [`sign_digest`] with a parsed key.
pub fn sign_digest_with(pair: &KeyPair, padding: SignaturePadding, hash: Hash, digest: &[u8]) -> CryptoResult<Vec<u8>> {
    let digest = hash.import(digest)?;
    let mut signature = vec![0u8; pair.public_modulus_len()];
    pair.sign_digest(signing_encoding(padding, hash), &digest, &mut signature)
        .map_err(|_| CryptoError::Material("RSA signing failed".into()))?;
    Ok(signature)
}

/// Does `signature` sign `digest` under the public key? A bad signature is `Ok(false)`.
pub fn verify_digest(
    n: &[u8],
    e: &[u8],
    padding: SignaturePadding,
    hash: Hash,
    digest: &[u8],
    signature: &[u8],
) -> CryptoResult<bool> {
    use aws_lc_rs::signature::VerificationAlgorithm;
    let digest = hash.import(digest)?;
    let spki =
        PublicKeyComponents { n, e }.as_der().map_err(|_| CryptoError::Material("invalid RSA public key".into()))?;
    Ok(verification_parameters(padding, hash).verify_digest_sig(spki.as_ref(), &digest, signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crt_members_are_recovered_from_d() {
        let key = generate(2048).unwrap();
        let pair = KeyPair::from_pkcs8(&key.pkcs8_der).unwrap();
        let d = crate::crypto::der::rsa_private_exponent(&key.pkcs8_der).unwrap();
        let completed = complete_from_d(&key.n, &key.e, &d).unwrap();
        let again = KeyPair::from_pkcs8(&completed.pkcs8_der).unwrap();
        assert_eq!(
            again.public_key().modulus().big_endian_without_leading_zero(),
            pair.public_key().modulus().big_endian_without_leading_zero()
        );
        let ciphertext = encrypt(&key.n, &key.e, Padding::OaepSha256, b"dek").unwrap();
        assert_eq!(decrypt(&completed.pkcs8_der, Padding::OaepSha256, &ciphertext).unwrap(), b"dek");
        let mut wrong_d = d.clone();
        *wrong_d.last_mut().unwrap() ^= 2;
        assert!(matches!(complete_from_d(&key.n, &key.e, &wrong_d), Err(CryptoError::InvalidInput(_))));

        // Found by `cargo fuzz` (jwk_import): a `d` far longer than n made the factoring loop's
        // exponentiations, and so one import request, take many seconds. Exponents that are not
        // below n cannot belong to the key and are refused before any exponentiation.
        for huge in [vec![0xffu8; 64 * 1024], vec![0x7f; 4096]] {
            assert!(matches!(complete_from_d(&key.n, &key.e, &huge), Err(CryptoError::InvalidInput(_))));
            assert!(matches!(complete_from_d(&key.n, &huge, &d), Err(CryptoError::InvalidInput(_))));
        }
    }
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
    fn every_signature_scheme_round_trips_and_rejects_tampering() {
        let k = key();
        for padding in [SignaturePadding::Pkcs1, SignaturePadding::Pss] {
            for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
                let digest = vec![0xab; hash.digest_len()];
                let mut signature = sign_digest(&k.pkcs8_der, padding, hash, &digest).unwrap();
                assert_eq!(signature.len(), 256);
                assert!(verify_digest(&k.n, &k.e, padding, hash, &digest, &signature).unwrap(), "{padding:?} {hash:?}");
                signature[10] ^= 1;
                assert!(!verify_digest(&k.n, &k.e, padding, hash, &digest, &signature).unwrap());
            }
        }
        assert!(matches!(
            sign_digest(&k.pkcs8_der, SignaturePadding::Pkcs1, Hash::Sha256, &[0; 31]),
            Err(CryptoError::InvalidInput(_))
        ));
    }

    #[test]
    fn pkcs1_signatures_are_deterministic_and_verify_against_the_message_api() {
        use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        let k = key();
        let message = b"customer-managed key";
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
        let signature = sign_digest(&k.pkcs8_der, SignaturePadding::Pkcs1, Hash::Sha256, digest.as_ref()).unwrap();
        assert_eq!(
            signature,
            sign_digest(&k.pkcs8_der, SignaturePadding::Pkcs1, Hash::Sha256, digest.as_ref()).unwrap()
        );
        let spki = PublicKeyComponents { n: k.n.as_slice(), e: k.e.as_slice() }.as_der().unwrap();
        assert!(UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki.as_ref()).verify(message, &signature).is_ok());
    }

    #[test]
    fn unsupported_size_is_refused() {
        assert!(matches!(generate(1000), Err(CryptoError::InvalidInput(_))));
    }
}
