//! `RSNULL`: a PKCS#1 v1.5 signature over caller-supplied bytes, with no DigestInfo.
//!
//! aws-lc-rs only signs with a named hash, so this one operation calls AWS-LC's own
//! `RSA_sign_raw`/`RSA_verify_raw` (the same library, the same blinded constant-time private-key
//! code) through `aws-lc-sys`. With `mldsa_variants`, the only unsafe code in the crate; each
//! call owns what it allocates through the guards below, and no pointer outlives them.
#![allow(unsafe_code)]

use std::ptr;

use aws_lc_sys as ffi;

use super::{CryptoError, CryptoResult};

/// Bytes of PKCS#1 v1.5 type-1 padding around the signed value.
const PADDING_OVERHEAD: usize = 11;

struct RsaHandle(*mut ffi::RSA);

impl Drop for RsaHandle {
    fn drop(&mut self) {
        // SAFETY: the pointer came from an AWS-LC constructor, is non-null, and is freed once.
        unsafe { ffi::RSA_free(self.0) }
    }
}

impl RsaHandle {
    fn from_pkcs8(pkcs8_der: &[u8]) -> CryptoResult<Self> {
        let mut cbs = ffi::CBS { data: ptr::null(), len: 0 };
        // SAFETY: `cbs` borrows `pkcs8_der` only for this block; AWS-LC copies what it parses.
        // EVP_PKEY_get1_RSA takes its own reference, so freeing the EVP_PKEY here is correct.
        let rsa = unsafe {
            ffi::CBS_init(&raw mut cbs, pkcs8_der.as_ptr(), pkcs8_der.len());
            let pkey = ffi::EVP_parse_private_key(&raw mut cbs);
            if pkey.is_null() {
                return Err(CryptoError::Material("RSA PKCS#8 does not parse".into()));
            }
            let rsa = ffi::EVP_PKEY_get1_RSA(pkey);
            ffi::EVP_PKEY_free(pkey);
            rsa
        };
        if rsa.is_null() {
            return Err(CryptoError::Material("PKCS#8 key is not RSA".into()));
        }
        Ok(Self(rsa))
    }

    fn from_public(n: &[u8], e: &[u8]) -> CryptoResult<Self> {
        // SAFETY: BN_bin2bn copies the bytes into fresh BIGNUMs, which RSA_new_public_key copies
        // again; both BIGNUMs are freed here whatever the outcome.
        let rsa = unsafe {
            let n = ffi::BN_bin2bn(n.as_ptr(), n.len(), ptr::null_mut());
            let e = ffi::BN_bin2bn(e.as_ptr(), e.len(), ptr::null_mut());
            let rsa = if n.is_null() || e.is_null() { ptr::null_mut() } else { ffi::RSA_new_public_key(n, e) };
            ffi::BN_free(n);
            ffi::BN_free(e);
            rsa
        };
        if rsa.is_null() {
            return Err(CryptoError::Material("invalid RSA public key".into()));
        }
        Ok(Self(rsa))
    }

    fn modulus_len(&self) -> usize {
        // SAFETY: `self.0` is a live RSA key.
        unsafe { ffi::RSA_size(self.0) as usize }
    }
}

/// Signs `value` as PKCS#1 v1.5 without a DigestInfo: at most k − 11 bytes.
pub fn sign(pkcs8_der: &[u8], value: &[u8]) -> CryptoResult<Vec<u8>> {
    let key = RsaHandle::from_pkcs8(pkcs8_der)?;
    let k = key.modulus_len();
    if value.is_empty() || value.len() > k - PADDING_OVERHEAD {
        return Err(CryptoError::InvalidInput(crate::messages::crypto::rsnull_value_length(
            value.len(),
            k - PADDING_OVERHEAD,
        )));
    }
    let mut signature = vec![0u8; k];
    let mut written = 0usize;
    // SAFETY: `signature` has room for `k` bytes, the most RSA_sign_raw writes for this key.
    let ok = unsafe {
        ffi::RSA_sign_raw(
            key.0,
            &raw mut written,
            signature.as_mut_ptr(),
            signature.len(),
            value.as_ptr(),
            value.len(),
            ffi::RSA_PKCS1_PADDING,
        )
    };
    if ok != 1 {
        return Err(CryptoError::Material("RSA raw signing failed".into()));
    }
    signature.truncate(written);
    Ok(signature)
}

/// Checks an RSNULL signature: recovers the signed bytes with the public key and compares.
/// A wrong signature is `false`, never an error.
pub fn verify(n: &[u8], e: &[u8], value: &[u8], signature: &[u8]) -> CryptoResult<bool> {
    let key = RsaHandle::from_public(n, e)?;
    let k = key.modulus_len();
    if signature.len() != k {
        return Ok(false);
    }
    let mut recovered = vec![0u8; k];
    let mut written = 0usize;
    // SAFETY: `recovered` has room for `k` bytes, the most RSA_verify_raw writes for this key.
    let ok = unsafe {
        ffi::RSA_verify_raw(
            key.0,
            &raw mut written,
            recovered.as_mut_ptr(),
            recovered.len(),
            signature.as_ptr(),
            signature.len(),
            ffi::RSA_PKCS1_PADDING,
        )
    };
    if ok != 1 {
        // A bad signature leaves an error on AWS-LC's thread-local queue; clear it so it cannot
        // surface in an unrelated later call on this thread.
        // SAFETY: plain call with no arguments.
        unsafe { ffi::ERR_clear_error() };
        return Ok(false);
    }
    recovered.truncate(written);
    Ok(aws_lc_rs::constant_time::verify_slices_are_equal(&recovered, value).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsnull_equals_pkcs1_over_a_digest_info_built_by_hand() {
        let key = crate::crypto::rsa::generate(2048).unwrap();
        let digest = [0x5A; 32];
        // DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1): RSNULL over prefix‖digest must
        // be byte-identical to RS256 over the digest.
        let mut digest_info = vec![
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ];
        digest_info.extend_from_slice(&digest);
        let raw = sign(&key.pkcs8_der, &digest_info).unwrap();
        let rs256 = crate::crypto::rsa::sign_digest(
            &key.pkcs8_der,
            crate::crypto::rsa::SignaturePadding::Pkcs1,
            crate::crypto::Hash::Sha256,
            &digest,
        )
        .unwrap();
        assert_eq!(raw, rs256);
        assert!(verify(&key.n, &key.e, &digest_info, &raw).unwrap());
    }

    #[test]
    fn rsnull_verify_is_false_for_wrong_values_and_limits_the_input() {
        let key = crate::crypto::rsa::generate(2048).unwrap();
        let signature = sign(&key.pkcs8_der, b"raw bytes").unwrap();
        assert!(verify(&key.n, &key.e, b"raw bytes", &signature).unwrap());
        assert!(!verify(&key.n, &key.e, b"raw bytez", &signature).unwrap());
        let mut tampered = signature.clone();
        tampered[10] ^= 1;
        assert!(!verify(&key.n, &key.e, b"raw bytes", &tampered).unwrap());
        assert!(!verify(&key.n, &key.e, b"raw bytes", &signature[1..]).unwrap());
        assert!(matches!(sign(&key.pkcs8_der, &[1; 246]), Err(CryptoError::InvalidInput(_))));
        assert!(sign(&key.pkcs8_der, &[1; 245]).is_ok());
    }
}
