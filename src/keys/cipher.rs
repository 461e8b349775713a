//! The inputs and outputs of encrypt, decrypt, wrapKey and unwrapKey, and the symmetric side of
//! them: which of `iv`, `aad` and `tag` each AES mode takes and returns (contract §8).

use crate::crypto::aes::{self, BLOCK_LEN};

use super::algorithms::CipherScheme;
use super::{Error, Result};

/// The request's `value` and, for AES, its `iv`, `aad` and `tag`.
#[derive(Clone, Debug, Default)]
pub struct CipherInput {
    pub value: Vec<u8>,
    pub iv: Option<Vec<u8>>,
    pub aad: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
}

impl CipherInput {
    #[must_use]
    pub fn value(value: Vec<u8>) -> Self {
        Self { value, ..Self::default() }
    }
}

/// The result's `value` and what the caller needs to decrypt it later: the IV the service
/// chose and the GCM tag; `aad` is echoed back as the service does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CipherOutput {
    pub value: Vec<u8>,
    pub iv: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
    pub aad: Option<Vec<u8>>,
}

impl CipherOutput {
    #[must_use]
    pub fn value(value: Vec<u8>) -> Self {
        Self { value, ..Self::default() }
    }
}

fn missing(member: &str, algorithm: &str) -> Error {
    Error::BadParameter(crate::messages::keys::decrypt_parameter_required(member, algorithm))
}

/// Encrypts or wraps with an AES key. GCM gets a fresh 12-byte IV from the service; CBC uses
/// the caller's IV, or a fresh one it returns when the caller sent none.
pub(super) fn symmetric_encrypt(scheme: CipherScheme, key: &[u8], input: CipherInput) -> Result<CipherOutput> {
    match scheme {
        CipherScheme::AesGcm => {
            let sealed = aes::gcm_encrypt(key, input.aad.as_deref().unwrap_or_default(), &input.value)?;
            Ok(CipherOutput { value: sealed.ciphertext, iv: Some(sealed.iv), tag: Some(sealed.tag), aad: input.aad })
        }
        CipherScheme::AesCbc(padding) => {
            let iv = match input.iv {
                Some(iv) => iv,
                None => crate::crypto::random_bytes(BLOCK_LEN)?,
            };
            let value = aes::cbc_encrypt(key, padding, &iv, &input.value)?;
            Ok(CipherOutput { value, iv: Some(iv), ..CipherOutput::default() })
        }
        CipherScheme::AesKeyWrap(padding) => Ok(CipherOutput::value(aes::wrap(key, padding, &input.value)?)),
        CipherScheme::Rsa(_) => Err(Error::Internal("an RSA scheme reached the symmetric cipher".into())),
    }
}

/// Decrypts or unwraps with an AES key; GCM needs the `iv` and `tag`, CBC the `iv`.
pub(super) fn symmetric_decrypt(
    scheme: CipherScheme,
    algorithm: &str,
    key: &[u8],
    input: CipherInput,
) -> Result<CipherOutput> {
    let value = match scheme {
        CipherScheme::AesGcm => {
            let iv = input.iv.ok_or_else(|| missing("iv", algorithm))?;
            let tag = input.tag.ok_or_else(|| missing("tag", algorithm))?;
            aes::gcm_decrypt(key, &iv, input.aad.as_deref().unwrap_or_default(), &input.value, &tag)?
        }
        CipherScheme::AesCbc(padding) => {
            let iv = input.iv.ok_or_else(|| missing("iv", algorithm))?;
            aes::cbc_decrypt(key, padding, &iv, &input.value)?
        }
        CipherScheme::AesKeyWrap(padding) => aes::unwrap(key, padding, &input.value)?,
        CipherScheme::Rsa(_) => return Err(Error::Internal("an RSA scheme reached the symmetric cipher".into())),
    };
    Ok(CipherOutput::value(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes::{CbcPadding, WrapPadding};

    #[test]
    fn gcm_returns_iv_and_tag_and_needs_them_back() {
        let key = aes::generate(256).unwrap();
        let input = CipherInput { value: b"secret".to_vec(), aad: Some(b"context".to_vec()), ..Default::default() };
        let out = symmetric_encrypt(CipherScheme::AesGcm, &key, input).unwrap();
        assert_eq!(out.aad.as_deref(), Some(&b"context"[..]));
        let back =
            CipherInput { value: out.value.clone(), iv: out.iv.clone(), aad: out.aad.clone(), tag: out.tag.clone() };
        assert_eq!(symmetric_decrypt(CipherScheme::AesGcm, "A256GCM", &key, back).unwrap().value, b"secret");
        let no_tag = CipherInput { value: out.value, iv: out.iv, aad: out.aad, tag: None };
        assert!(matches!(
            symmetric_decrypt(CipherScheme::AesGcm, "A256GCM", &key, no_tag),
            Err(Error::BadParameter(_))
        ));
    }

    #[test]
    fn cbc_uses_the_callers_iv_or_returns_a_fresh_one() {
        let key = aes::generate(128).unwrap();
        let scheme = CipherScheme::AesCbc(CbcPadding::Pkcs7);
        let iv = vec![9; 16];
        let given = CipherInput { value: b"abc".to_vec(), iv: Some(iv.clone()), ..Default::default() };
        assert_eq!(symmetric_encrypt(scheme, &key, given).unwrap().iv, Some(iv));
        let fresh = symmetric_encrypt(scheme, &key, CipherInput::value(b"abc".to_vec())).unwrap();
        assert_eq!(fresh.iv.as_ref().map(Vec::len), Some(16));
        let back = CipherInput { value: fresh.value, iv: fresh.iv, ..Default::default() };
        assert_eq!(symmetric_decrypt(scheme, "A128CBCPAD", &key, back).unwrap().value, b"abc");
    }

    #[test]
    fn key_wrap_round_trips() {
        let key = aes::generate(192).unwrap();
        let scheme = CipherScheme::AesKeyWrap(WrapPadding::Rfc3394);
        let wrapped = symmetric_encrypt(scheme, &key, CipherInput::value(vec![1; 32])).unwrap();
        assert_eq!(wrapped.value.len(), 40);
        let back = symmetric_decrypt(scheme, "A192KW", &key, CipherInput::value(wrapped.value)).unwrap();
        assert_eq!(back.value, vec![1; 32]);
    }
}
