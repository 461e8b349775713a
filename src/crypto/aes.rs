//! Symmetric primitives for `oct` keys: AES-GCM, AES-CBC (with and without PKCS#7 padding),
//! AES key wrap (RFC 3394) and key wrap with padding (RFC 5649), and HMAC.
//!
//! aws-lc-rs does everything except key wrap with a 192-bit key, which it lacks; that one size
//! goes through the `aes-kw` crate.
//! Over 400 lines because of its tests (from line 266): RFC test vectors for every mode.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::key_wrap::{AES_128, AES_256, KeyEncryptionKey, KeyWrap, KeyWrapPadded};

use super::{CryptoError, CryptoResult, Hash};

pub const GCM_IV_LEN: usize = 12;
pub const GCM_TAG_LEN: usize = 16;
pub const BLOCK_LEN: usize = 16;

/// The key sizes an `oct` key may have, in bytes.
pub const KEY_LENGTHS: [usize; 3] = [16, 24, 32];

fn invalid(message: impl Into<String>) -> CryptoError {
    CryptoError::InvalidInput(message.into())
}

fn material(what: &str) -> CryptoError {
    CryptoError::Material(format!("{what}: the AES key is not 128, 192 or 256 bits"))
}

/// A fresh random AES key of `bits` (128, 192 or 256).
pub fn generate(bits: u32) -> CryptoResult<Vec<u8>> {
    super::random_bytes(bits as usize / 8)
}

fn gcm_key(key: &[u8]) -> CryptoResult<LessSafeKey> {
    let algorithm = match key.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        _ => return Err(material("GCM")),
    };
    UnboundKey::new(algorithm, key).map(LessSafeKey::new).map_err(|_| material("GCM"))
}

/// The result of a GCM encryption: the server chooses the IV (contract §8).
#[derive(Debug, PartialEq, Eq)]
pub struct GcmSealed {
    pub iv: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub tag: Vec<u8>,
}

pub fn gcm_encrypt(key: &[u8], aad: &[u8], plaintext: &[u8]) -> CryptoResult<GcmSealed> {
    let iv: [u8; GCM_IV_LEN] =
        super::random_bytes(GCM_IV_LEN)?.try_into().map_err(|_| CryptoError::Material("iv length".into()))?;
    gcm_encrypt_with_iv(key, &iv, aad, plaintext)
}

fn gcm_encrypt_with_iv(key: &[u8], iv: &[u8; GCM_IV_LEN], aad: &[u8], plaintext: &[u8]) -> CryptoResult<GcmSealed> {
    let mut ciphertext = plaintext.to_vec();
    let tag = gcm_key(key)?
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), &mut ciphertext)
        .map_err(|_| invalid(crate::messages::crypto::AES_GCM_PLAINTEXT_TOO_LONG))?;
    Ok(GcmSealed { iv: iv.to_vec(), ciphertext, tag: tag.as_ref().to_vec() })
}

pub fn gcm_decrypt(key: &[u8], iv: &[u8], aad: &[u8], ciphertext: &[u8], tag: &[u8]) -> CryptoResult<Vec<u8>> {
    let iv: [u8; GCM_IV_LEN] =
        iv.try_into().map_err(|_| invalid(crate::messages::crypto::aes_gcm_iv_length(iv.len(), GCM_IV_LEN)))?;
    if tag.len() != GCM_TAG_LEN {
        return Err(invalid(crate::messages::crypto::aes_gcm_tag_length(tag.len(), GCM_TAG_LEN)));
    }
    let mut in_out = [ciphertext, tag].concat();
    let plaintext = gcm_key(key)?
        .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut in_out)
        .map_err(|_| invalid(crate::messages::crypto::AES_GCM_DECRYPTION_FAILED))?;
    Ok(plaintext.to_vec())
}

fn cipher_key(key: &[u8]) -> CryptoResult<UnboundCipherKey> {
    let algorithm = match key.len() {
        16 => &cipher::AES_128,
        24 => &cipher::AES_192,
        32 => &cipher::AES_256,
        _ => return Err(material("CBC")),
    };
    UnboundCipherKey::new(algorithm, key).map_err(|_| material("CBC"))
}

fn cbc_iv(iv: &[u8]) -> CryptoResult<[u8; BLOCK_LEN]> {
    iv.try_into().map_err(|_| invalid(crate::messages::crypto::aes_cbc_iv_length(iv.len(), BLOCK_LEN)))
}

/// Whether CBC pads the plaintext (PKCS#7, the `*CBCPAD` algorithms) or needs whole blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbcPadding {
    None,
    Pkcs7,
}

pub fn cbc_encrypt(key: &[u8], padding: CbcPadding, iv: &[u8], plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
    let context = EncryptionContext::Iv128(cbc_iv(iv)?.into());
    let mut data = plaintext.to_vec();
    match padding {
        CbcPadding::None => {
            if data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN) {
                return Err(invalid(crate::messages::crypto::aes_cbc_plaintext_length(data.len(), BLOCK_LEN)));
            }
            EncryptingKey::cbc(cipher_key(key)?)
                .and_then(|k| k.less_safe_encrypt(&mut data, context))
                .map_err(|_| invalid(crate::messages::crypto::AES_CBC_ENCRYPTION_FAILED))?;
        }
        CbcPadding::Pkcs7 => {
            PaddedBlockEncryptingKey::cbc_pkcs7(cipher_key(key)?)
                .and_then(|k| k.less_safe_encrypt(&mut data, context))
                .map_err(|_| invalid(crate::messages::crypto::AES_CBC_ENCRYPTION_FAILED))?;
        }
    }
    Ok(data)
}

pub fn cbc_decrypt(key: &[u8], padding: CbcPadding, iv: &[u8], ciphertext: &[u8]) -> CryptoResult<Vec<u8>> {
    let context = DecryptionContext::Iv128(cbc_iv(iv)?.into());
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK_LEN) {
        return Err(invalid(crate::messages::crypto::aes_cbc_ciphertext_length(ciphertext.len(), BLOCK_LEN)));
    }
    let mut data = ciphertext.to_vec();
    let plaintext = match padding {
        CbcPadding::None => DecryptingKey::cbc(cipher_key(key)?).and_then(|k| k.decrypt(&mut data, context)),
        CbcPadding::Pkcs7 => {
            PaddedBlockDecryptingKey::cbc_pkcs7(cipher_key(key)?).and_then(|k| k.decrypt(&mut data, context))
        }
    }
    .map_err(|_| invalid(crate::messages::crypto::AES_CBC_DECRYPTION_FAILED))?;
    Ok(plaintext.to_vec())
}

/// Whether key wrap is RFC 3394 (whole 8-byte blocks) or RFC 5649 (any length, padded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrapPadding {
    Rfc3394,
    Rfc5649,
}

fn wrap_input_error(padding: WrapPadding, len: usize) -> CryptoError {
    match padding {
        WrapPadding::Rfc3394 => invalid(crate::messages::crypto::aes_key_wrap_input_length(len)),
        WrapPadding::Rfc5649 => invalid(crate::messages::crypto::aes_key_wrap_pad_input_empty(len)),
    }
}

pub fn wrap(key: &[u8], padding: WrapPadding, plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
    let valid_input = match padding {
        WrapPadding::Rfc3394 => plaintext.len() >= 16 && plaintext.len().is_multiple_of(8),
        WrapPadding::Rfc5649 => !plaintext.is_empty(),
    };
    if !valid_input {
        return Err(wrap_input_error(padding, plaintext.len()));
    }
    let wrapped = if key.len() == 24 {
        let kek = kek192(key)?;
        match padding {
            WrapPadding::Rfc3394 => kek.wrap_vec(plaintext).ok(),
            WrapPadding::Rfc5649 => kek.wrap_with_padding_vec(plaintext).ok(),
        }
    } else {
        let kek = native_kek(key)?;
        let mut out = vec![0u8; plaintext.len() + 16];
        let len = match padding {
            WrapPadding::Rfc3394 => kek.wrap(plaintext, &mut out).map(|w| w.len()).ok(),
            WrapPadding::Rfc5649 => kek.wrap_with_padding(plaintext, &mut out).map(|w| w.len()).ok(),
        };
        len.map(|len| truncated(out, len))
    };
    wrapped.ok_or_else(|| wrap_input_error(padding, plaintext.len()))
}

pub fn unwrap(key: &[u8], padding: WrapPadding, wrapped: &[u8]) -> CryptoResult<Vec<u8>> {
    let min_len = match padding {
        WrapPadding::Rfc3394 => 24,
        WrapPadding::Rfc5649 => 16,
    };
    if wrapped.len() < min_len || !wrapped.len().is_multiple_of(8) {
        return Err(invalid(crate::messages::crypto::wrapped_key_length(wrapped.len(), min_len)));
    }
    let unwrapped = if key.len() == 24 {
        let kek = kek192(key)?;
        match padding {
            WrapPadding::Rfc3394 => kek.unwrap_vec(wrapped).ok(),
            WrapPadding::Rfc5649 => kek.unwrap_with_padding_vec(wrapped).ok(),
        }
    } else {
        let kek = native_kek(key)?;
        let mut out = vec![0u8; wrapped.len()];
        let len = match padding {
            WrapPadding::Rfc3394 => kek.unwrap(wrapped, &mut out).map(|w| w.len()).ok(),
            WrapPadding::Rfc5649 => kek.unwrap_with_padding(wrapped, &mut out).map(|w| w.len()).ok(),
        };
        len.map(|len| truncated(out, len))
    };
    unwrapped.ok_or_else(|| invalid(crate::messages::crypto::WRAPPED_KEY_INTEGRITY))
}

fn truncated(mut buffer: Vec<u8>, len: usize) -> Vec<u8> {
    buffer.truncate(len);
    buffer
}

fn native_kek(key: &[u8]) -> CryptoResult<KeyEncryptionKey<aws_lc_rs::key_wrap::AesBlockCipher>> {
    let cipher = match key.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return Err(material("key wrap")),
    };
    KeyEncryptionKey::new(cipher, key).map_err(|_| material("key wrap"))
}

fn kek192(key: &[u8]) -> CryptoResult<aes_kw::KekAes192> {
    aes_kw::KekAes192::try_from(key).map_err(|_| material("key wrap"))
}

fn hmac_algorithm(hash: Hash) -> aws_lc_rs::hmac::Algorithm {
    match hash {
        Hash::Sha256 => aws_lc_rs::hmac::HMAC_SHA256,
        Hash::Sha384 => aws_lc_rs::hmac::HMAC_SHA384,
        Hash::Sha512 => aws_lc_rs::hmac::HMAC_SHA512,
    }
}

/// HMAC over a caller-computed digest: like every Key Vault signature, HS* signs digests of
/// the algorithm's hash length, so the length is checked the same way (contract §8).
pub fn hmac_sign(key: &[u8], hash: Hash, digest: &[u8]) -> CryptoResult<Vec<u8>> {
    hash.import(digest)?;
    let key = aws_lc_rs::hmac::Key::new(hmac_algorithm(hash), key);
    Ok(aws_lc_rs::hmac::sign(&key, digest).as_ref().to_vec())
}

/// Constant-time check of an HMAC signature; a wrong one is `false`, never an error.
pub fn hmac_verify(key: &[u8], hash: Hash, digest: &[u8], signature: &[u8]) -> CryptoResult<bool> {
    hash.import(digest)?;
    let key = aws_lc_rs::hmac::Key::new(hmac_algorithm(hash), key);
    Ok(aws_lc_rs::hmac::verify(&key, digest, signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    const KEK_256: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";

    /// RFC 3394 §4: the six wrap vectors, across all three key sizes.
    #[test]
    fn rfc3394_vectors() {
        let vectors = [
            (
                "000102030405060708090A0B0C0D0E0F",
                "00112233445566778899AABBCCDDEEFF",
                "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
            ),
            (
                "000102030405060708090A0B0C0D0E0F1011121314151617",
                "00112233445566778899AABBCCDDEEFF",
                "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D",
            ),
            (KEK_256, "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"),
            (
                "000102030405060708090A0B0C0D0E0F1011121314151617",
                "00112233445566778899AABBCCDDEEFF0001020304050607",
                "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2",
            ),
            (
                KEK_256,
                "00112233445566778899AABBCCDDEEFF0001020304050607",
                "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1",
            ),
            (
                KEK_256,
                "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
                "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
            ),
        ];
        for (kek, key, wrapped) in vectors {
            assert_eq!(wrap(&hex(kek), WrapPadding::Rfc3394, &hex(key)).unwrap(), hex(wrapped), "{kek}/{key}");
            assert_eq!(unwrap(&hex(kek), WrapPadding::Rfc3394, &hex(wrapped)).unwrap(), hex(key));
        }
    }

    /// RFC 5649 §6: the two padded-wrap vectors (192-bit KEK).
    #[test]
    fn rfc5649_vectors() {
        let kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
        let vectors = [
            (
                "c37b7e6492584340bed12207808941155068f738",
                "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
            ),
            ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
        ];
        for (key, wrapped) in vectors {
            assert_eq!(wrap(&kek, WrapPadding::Rfc5649, &hex(key)).unwrap(), hex(wrapped));
            assert_eq!(unwrap(&kek, WrapPadding::Rfc5649, &hex(wrapped)).unwrap(), hex(key));
        }
    }

    #[test]
    fn padded_wrap_round_trips_on_every_key_size() {
        for len in KEY_LENGTHS {
            let kek = generate(u32::try_from(len * 8).unwrap()).unwrap();
            for data_len in [1, 7, 8, 20, 32, 33] {
                let data = vec![0xA5; data_len];
                let wrapped = wrap(&kek, WrapPadding::Rfc5649, &data).unwrap();
                assert_eq!(unwrap(&kek, WrapPadding::Rfc5649, &wrapped).unwrap(), data);
            }
        }
    }

    #[test]
    fn key_wrap_refuses_bad_lengths_and_tampering() {
        let kek = hex(KEK_256);
        assert!(matches!(wrap(&kek, WrapPadding::Rfc3394, &[0; 20]), Err(CryptoError::InvalidInput(_))));
        assert!(matches!(wrap(&kek, WrapPadding::Rfc3394, &[0; 8]), Err(CryptoError::InvalidInput(_))));
        assert!(matches!(unwrap(&kek, WrapPadding::Rfc3394, &[0; 12]), Err(CryptoError::InvalidInput(_))));
        let mut wrapped = wrap(&kek, WrapPadding::Rfc3394, &[7; 32]).unwrap();
        wrapped[3] ^= 1;
        assert!(matches!(unwrap(&kek, WrapPadding::Rfc3394, &wrapped), Err(CryptoError::InvalidInput(_))));
        assert!(matches!(unwrap(&kek, WrapPadding::Rfc5649, &wrapped), Err(CryptoError::InvalidInput(_))));
    }

    /// NIST GCM test case 16 (McGrew & Viega, "The GCM mode of operation", AES-256, with AAD).
    #[test]
    fn gcm_known_answer() {
        let key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let iv: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
        let plaintext = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let sealed = gcm_encrypt_with_iv(&key, &iv, &aad, &plaintext).unwrap();
        assert_eq!(
            sealed.ciphertext,
            hex(
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
            )
        );
        assert_eq!(sealed.tag, hex("76fc6ece0f4e1768cddf8853bb2d551b"));
        assert_eq!(gcm_decrypt(&key, &iv, &aad, &sealed.ciphertext, &sealed.tag).unwrap(), plaintext);
        assert!(gcm_decrypt(&key, &iv, b"other aad", &sealed.ciphertext, &sealed.tag).is_err());
        assert!(gcm_decrypt(&key, &iv[..8], &aad, &sealed.ciphertext, &sealed.tag).is_err());
    }

    #[test]
    fn gcm_makes_a_fresh_iv_and_round_trips_on_every_size() {
        for len in KEY_LENGTHS {
            let key = generate(u32::try_from(len * 8).unwrap()).unwrap();
            let a = gcm_encrypt(&key, b"", b"data key").unwrap();
            let b = gcm_encrypt(&key, b"", b"data key").unwrap();
            assert_eq!((a.iv.len(), a.tag.len()), (GCM_IV_LEN, GCM_TAG_LEN));
            assert_ne!(a.iv, b.iv);
            assert_eq!(gcm_decrypt(&key, &a.iv, b"", &a.ciphertext, &a.tag).unwrap(), b"data key");
        }
    }

    /// NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt), first two blocks.
    #[test]
    fn cbc_known_answer_and_padding() {
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        let plaintext = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let ciphertext = cbc_encrypt(&key, CbcPadding::None, &iv, &plaintext).unwrap();
        assert_eq!(ciphertext, hex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"));
        assert_eq!(cbc_decrypt(&key, CbcPadding::None, &iv, &ciphertext).unwrap(), plaintext);

        assert!(cbc_encrypt(&key, CbcPadding::None, &iv, b"not a block").is_err());
        let padded = cbc_encrypt(&key, CbcPadding::Pkcs7, &iv, b"not a block").unwrap();
        assert_eq!(padded.len(), 16);
        assert_eq!(cbc_decrypt(&key, CbcPadding::Pkcs7, &iv, &padded).unwrap(), b"not a block");
        assert!(cbc_encrypt(&key, CbcPadding::Pkcs7, &iv[..8], b"x").is_err());
    }

    /// The HMAC backend against RFC 4231 test case 2; the emulator's own functions add the
    /// digest-length rule on top.
    #[test]
    fn hmac_signs_digests_of_the_hash_length() {
        let key = b"Jefe";
        let digest = [0x42; 32];
        let signature = hmac_sign(key, Hash::Sha256, &digest).unwrap();
        assert_eq!(signature.len(), 32);
        assert!(hmac_verify(key, Hash::Sha256, &digest, &signature).unwrap());
        let mut tampered = signature.clone();
        tampered[0] ^= 1;
        assert!(!hmac_verify(key, Hash::Sha256, &digest, &tampered).unwrap());
        assert!(matches!(hmac_sign(key, Hash::Sha384, &digest), Err(CryptoError::InvalidInput(_))));
        assert_eq!(hmac_sign(key, Hash::Sha512, &[0; 64]).unwrap().len(), 64);

        let rfc4231 = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
            b"what do ya want for nothing?",
        );
        assert_eq!(rfc4231.as_ref(), hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    }
}
