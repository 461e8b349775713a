//! The ML-DSA forms aws-lc-rs does not expose: signing and verifying with an application
//! context string (FIPS 204 §5.2–5.3, `context`), and over a caller-computed message
//! representative mu (FIPS 204 §6.2, `external_mu`).
//!
//! Both call AWS-LC itself through `aws-lc-sys`, the same library and the same ML-DSA code
//! aws-lc-rs wraps: `EVP_DigestSign`/`EVP_DigestVerify` after
//! `EVP_PKEY_CTX_set1_signature_context_string` for a context, `EVP_PKEY_sign`/`EVP_PKEY_verify`
//! (which take mu) for external mu. Like `rsa_unhashed`, an audited exception to the crate's
//! `unsafe_code = "deny"`: every object is owned by a guard that frees it once, and no pointer
//! outlives the call that made it.
#![allow(unsafe_code)]

use std::ptr;

use aws_lc_sys as ffi;

use super::mldsa::{MAX_CONTEXT_LEN, MU_LEN, MlDsa};
use super::{CryptoError, CryptoResult};

struct Pkey(*mut ffi::EVP_PKEY);

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: non-null, from an AWS-LC constructor, freed once.
        unsafe { ffi::EVP_PKEY_free(self.0) }
    }
}

struct PkeyCtx(*mut ffi::EVP_PKEY_CTX);

impl Drop for PkeyCtx {
    fn drop(&mut self) {
        // SAFETY: non-null, from EVP_PKEY_CTX_new, freed once.
        unsafe { ffi::EVP_PKEY_CTX_free(self.0) }
    }
}

struct MdCtx(*mut ffi::EVP_MD_CTX);

impl Drop for MdCtx {
    fn drop(&mut self) {
        // SAFETY: non-null, from EVP_MD_CTX_new, freed once (with the EVP_PKEY_CTX it owns).
        unsafe { ffi::EVP_MD_CTX_free(self.0) }
    }
}

fn failed(what: &str) -> CryptoError {
    // SAFETY: plain call; drops what AWS-LC queued on this thread so it cannot surface later.
    unsafe { ffi::ERR_clear_error() };
    CryptoError::Material(format!("ML-DSA {what} failed"))
}

fn private_key(algorithm: MlDsa, pkcs8_der: &[u8]) -> CryptoResult<Pkey> {
    let mut cbs = ffi::CBS { data: ptr::null(), len: 0 };
    // SAFETY: `cbs` borrows `pkcs8_der` only for this block; AWS-LC copies what it parses.
    let pkey = unsafe {
        ffi::CBS_init(&raw mut cbs, pkcs8_der.as_ptr(), pkcs8_der.len());
        ffi::EVP_parse_private_key(&raw mut cbs)
    };
    if pkey.is_null() {
        return Err(failed("private key parsing"));
    }
    let pkey = Pkey(pkey);
    // SAFETY: `pkey.0` is a live key.
    let nid = unsafe { ffi::EVP_PKEY_pqdsa_get_type(pkey.0) };
    if nid != algorithm.nid() {
        return Err(CryptoError::Material(format!("the stored key is not an {} key", algorithm.as_str())));
    }
    Ok(pkey)
}

fn public_key(algorithm: MlDsa, public: &[u8]) -> Option<Pkey> {
    // SAFETY: AWS-LC copies `public` into the new key.
    let pkey = unsafe { ffi::EVP_PKEY_pqdsa_new_raw_public_key(algorithm.nid(), public.as_ptr(), public.len()) };
    if pkey.is_null() {
        // SAFETY: see `failed`.
        unsafe { ffi::ERR_clear_error() };
        None
    } else {
        Some(Pkey(pkey))
    }
}

fn check_context(context: &[u8]) -> CryptoResult<()> {
    if context.len() > MAX_CONTEXT_LEN {
        return Err(CryptoError::InvalidInput(crate::messages::crypto::ml_dsa_context_too_long(
            context.len(),
            MAX_CONTEXT_LEN,
        )));
    }
    Ok(())
}

fn check_mu(mu: &[u8]) -> CryptoResult<()> {
    if mu.len() != MU_LEN {
        return Err(CryptoError::InvalidInput(crate::messages::crypto::external_mu_length(mu.len(), MU_LEN)));
    }
    Ok(())
}

/// A message-signing context over `pkey` with `context` set; `verifying` picks the direction.
fn message_ctx(pkey: &Pkey, context: &[u8], verifying: bool) -> CryptoResult<MdCtx> {
    // SAFETY: a fresh context, owned by the guard.
    let md = unsafe { ffi::EVP_MD_CTX_new() };
    if md.is_null() {
        return Err(failed("context allocation"));
    }
    let md = MdCtx(md);
    let mut pctx: *mut ffi::EVP_PKEY_CTX = ptr::null_mut();
    // SAFETY: `md` and `pkey` are live; the EVP_PKEY_CTX written to `pctx` belongs to `md` and
    // is used only while `md` lives. A null digest is ML-DSA's pure mode.
    let ok = unsafe {
        let init = if verifying {
            ffi::EVP_DigestVerifyInit(md.0, &raw mut pctx, ptr::null(), ptr::null_mut(), pkey.0)
        } else {
            ffi::EVP_DigestSignInit(md.0, &raw mut pctx, ptr::null(), ptr::null_mut(), pkey.0)
        };
        init == 1
            && !pctx.is_null()
            && ffi::EVP_PKEY_CTX_set1_signature_context_string(pctx, context.as_ptr(), context.len()) == 1
    };
    if ok { Ok(md) } else { Err(failed("context setup")) }
}

/// ML-DSA.Sign over `message` with the application `context` (0–255 bytes).
pub fn sign_with_context(algorithm: MlDsa, pkcs8_der: &[u8], context: &[u8], message: &[u8]) -> CryptoResult<Vec<u8>> {
    check_context(context)?;
    let pkey = private_key(algorithm, pkcs8_der)?;
    let md = message_ctx(&pkey, context, false)?;
    let mut len = 0usize;
    // SAFETY: a null output asks for the signature length only.
    if unsafe { ffi::EVP_DigestSign(md.0, ptr::null_mut(), &raw mut len, message.as_ptr(), message.len()) } != 1 {
        return Err(failed("signing"));
    }
    let mut signature = vec![0u8; len];
    // SAFETY: `signature` has the `len` bytes AWS-LC asked for.
    let ok =
        unsafe { ffi::EVP_DigestSign(md.0, signature.as_mut_ptr(), &raw mut len, message.as_ptr(), message.len()) };
    if ok != 1 {
        return Err(failed("signing"));
    }
    signature.truncate(len);
    Ok(signature)
}

/// ML-DSA.Verify with `context`: `false` for a signature (or public key) that does not verify.
pub fn verify_with_context(
    algorithm: MlDsa,
    public: &[u8],
    context: &[u8],
    message: &[u8],
    signature: &[u8],
) -> CryptoResult<bool> {
    check_context(context)?;
    let Some(pkey) = public_key(algorithm, public) else { return Ok(false) };
    let md = message_ctx(&pkey, context, true)?;
    // SAFETY: every buffer is a live slice of the stated length.
    let ok =
        unsafe { ffi::EVP_DigestVerify(md.0, signature.as_ptr(), signature.len(), message.as_ptr(), message.len()) };
    if ok != 1 {
        // SAFETY: see `failed`.
        unsafe { ffi::ERR_clear_error() };
    }
    Ok(ok == 1)
}

fn pkey_ctx(pkey: &Pkey) -> CryptoResult<PkeyCtx> {
    // SAFETY: `pkey` is live; the new context takes its own reference.
    let ctx = unsafe { ffi::EVP_PKEY_CTX_new(pkey.0, ptr::null_mut()) };
    if ctx.is_null() { Err(failed("context allocation")) } else { Ok(PkeyCtx(ctx)) }
}

/// ML-DSA signing of a caller-computed mu (64 bytes), which already binds the public key, the
/// context and the message.
pub fn sign_external_mu(algorithm: MlDsa, pkcs8_der: &[u8], mu: &[u8]) -> CryptoResult<Vec<u8>> {
    check_mu(mu)?;
    let pkey = private_key(algorithm, pkcs8_der)?;
    let ctx = pkey_ctx(&pkey)?;
    let mut len = 0usize;
    // SAFETY: `ctx` is live; a null output asks for the length only.
    let sized = unsafe {
        ffi::EVP_PKEY_sign_init(ctx.0) == 1
            && ffi::EVP_PKEY_sign(ctx.0, ptr::null_mut(), &raw mut len, mu.as_ptr(), mu.len()) == 1
    };
    if !sized {
        return Err(failed("signing"));
    }
    let mut signature = vec![0u8; len];
    // SAFETY: `signature` has the `len` bytes AWS-LC asked for.
    if unsafe { ffi::EVP_PKEY_sign(ctx.0, signature.as_mut_ptr(), &raw mut len, mu.as_ptr(), mu.len()) } != 1 {
        return Err(failed("signing"));
    }
    signature.truncate(len);
    Ok(signature)
}

/// Verification against a caller-computed mu: `false` for a signature that does not verify.
pub fn verify_external_mu(algorithm: MlDsa, public: &[u8], mu: &[u8], signature: &[u8]) -> CryptoResult<bool> {
    check_mu(mu)?;
    let Some(pkey) = public_key(algorithm, public) else { return Ok(false) };
    let ctx = pkey_ctx(&pkey)?;
    // SAFETY: every buffer is a live slice of the stated length.
    let ok = unsafe {
        ffi::EVP_PKEY_verify_init(ctx.0) == 1
            && ffi::EVP_PKEY_verify(ctx.0, signature.as_ptr(), signature.len(), mu.as_ptr(), mu.len()) == 1
    };
    if !ok {
        // SAFETY: see `failed`.
        unsafe { ffi::ERR_clear_error() };
    }
    Ok(ok)
}

/// mu = SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ len(ctx) ‖ ctx ‖ M, 64): what a client sends as
/// `external_mu` for `message` under `context` (FIPS 204 algorithm 7, line 6).
pub fn external_mu(public: &[u8], context: &[u8], message: &[u8]) -> CryptoResult<Vec<u8>> {
    check_context(context)?;
    let tr = shake256(&[public], MU_LEN)?;
    let header = [0u8, u8::try_from(context.len()).unwrap_or(u8::MAX)];
    shake256(&[&tr, &header, context, message], MU_LEN)
}

fn shake256(parts: &[&[u8]], out_len: usize) -> CryptoResult<Vec<u8>> {
    // SAFETY: a fresh context, owned by the guard.
    let md = unsafe { ffi::EVP_MD_CTX_new() };
    if md.is_null() {
        return Err(failed("SHAKE256"));
    }
    let md = MdCtx(md);
    let mut out = vec![0u8; out_len];
    // SAFETY: `md` is live; each part is a live slice; `out` has `out_len` bytes.
    let ok = unsafe {
        ffi::EVP_DigestInit_ex(md.0, ffi::EVP_shake256(), ptr::null_mut()) == 1
            && parts.iter().all(|p| ffi::EVP_DigestUpdate(md.0, p.as_ptr().cast(), p.len()) == 1)
            && ffi::EVP_DigestFinalXOF(md.0, out.as_mut_ptr(), out.len()) == 1
    };
    if ok { Ok(out) } else { Err(failed("SHAKE256")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::mldsa;

    #[test]
    fn an_empty_context_is_pure_ml_dsa() {
        let key = mldsa::generate(MlDsa::MlDsa65).unwrap();
        let signature = sign_with_context(MlDsa::MlDsa65, &key.pkcs8_der, b"", b"message").unwrap();
        assert!(mldsa::verify(MlDsa::MlDsa65, &key.public, b"message", &signature));
        let pure = mldsa::sign(MlDsa::MlDsa65, &key.pkcs8_der, b"message").unwrap();
        assert!(verify_with_context(MlDsa::MlDsa65, &key.public, b"", b"message", &pure).unwrap());
    }

    #[test]
    fn a_context_binds_the_signature() {
        let key = mldsa::generate(MlDsa::MlDsa44).unwrap();
        let signature = sign_with_context(MlDsa::MlDsa44, &key.pkcs8_der, b"app-v1", b"message").unwrap();
        assert!(verify_with_context(MlDsa::MlDsa44, &key.public, b"app-v1", b"message", &signature).unwrap());
        assert!(!verify_with_context(MlDsa::MlDsa44, &key.public, b"app-v2", b"message", &signature).unwrap());
        assert!(!mldsa::verify(MlDsa::MlDsa44, &key.public, b"message", &signature));
        assert!(matches!(
            sign_with_context(MlDsa::MlDsa44, &key.pkcs8_der, &[0; 256], b"m"),
            Err(CryptoError::InvalidInput(_))
        ));
    }

    #[test]
    fn external_mu_signatures_are_ordinary_signatures_of_the_message() {
        let key = mldsa::generate(MlDsa::MlDsa87).unwrap();
        let mu = external_mu(&key.public, b"ctx", b"message").unwrap();
        let signature = sign_external_mu(MlDsa::MlDsa87, &key.pkcs8_der, &mu).unwrap();
        assert!(verify_with_context(MlDsa::MlDsa87, &key.public, b"ctx", b"message", &signature).unwrap());
        assert!(verify_external_mu(MlDsa::MlDsa87, &key.public, &mu, &signature).unwrap());
        let pure = mldsa::sign(MlDsa::MlDsa87, &key.pkcs8_der, b"message").unwrap();
        let empty_mu = external_mu(&key.public, b"", b"message").unwrap();
        assert!(verify_external_mu(MlDsa::MlDsa87, &key.public, &empty_mu, &pure).unwrap());
        assert!(!verify_external_mu(MlDsa::MlDsa87, &key.public, &mu, &pure).unwrap());
        assert!(matches!(
            sign_external_mu(MlDsa::MlDsa87, &key.pkcs8_der, &[0; 32]),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(!verify_external_mu(MlDsa::MlDsa87, &key.public[1..], &mu, &signature).unwrap());
    }

    fn hex(value: &serde_json::Value) -> Vec<u8> {
        let text = value.as_str().unwrap();
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    /// Signatures and a mu made by an independent implementation (dilithium-py, pure Python;
    /// see the file's `generator`) verify here, and our mu is the same as its.
    #[test]
    fn an_independent_implementations_signatures_verify() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("testdata/ml_dsa_44_dilithium_py.json")).unwrap();
        let (public, message, context) = (hex(&vector["public_key"]), hex(&vector["message"]), hex(&vector["context"]));
        let signature = hex(&vector["signature"]);
        assert!(mldsa::verify(MlDsa::MlDsa44, &public, &message, &signature));
        let with_context = hex(&vector["signature_with_context"]);
        assert!(verify_with_context(MlDsa::MlDsa44, &public, &context, &message, &with_context).unwrap());
        assert!(!verify_with_context(MlDsa::MlDsa44, &public, b"", &message, &with_context).unwrap());
        let mu = external_mu(&public, &context, &message).unwrap();
        assert_eq!(mu, hex(&vector["external_mu"]));
        assert!(verify_external_mu(MlDsa::MlDsa44, &public, &mu, &with_context).unwrap());
    }
}
