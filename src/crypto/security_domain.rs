//! The Managed HSM security domain as its clients read and write it.
//!
//! A security domain file (what `POST /securitydomain/download` returns in `value`, and what
//! `az keyvault security-domain download` saves) is JSON:
//! `{"EncData":{"data":[{"compact_jwe","tag"}],"kdf":"sp108_kdf"},"SharedKeys":{"enc_shares":[{"enc_key","x5t_256"}],"key_algorithm":"shamir_share","required":M}}`.
//! Each datum is a compact JWE (`dir`, `A256CBC-HS512`) under a key derived from a master key by
//! SP 800-108 (HMAC-SHA512, counter mode, label = the datum's tag). The master key is split by
//! Shamir over GF(257) ([`super::shamir`]) and share *i* is a JWE (`RSA-OAEP-256`,
//! `A256CBC-HS512`) to wrapping certificate *i*, found by its SHA-256 thumbprint. A client
//! holding a quorum of the private keys recombines the master key, decrypts the data and
//! re-encrypts it under a fresh master key wrapped to the HSM's transfer key: the restore blob
//! `{"EncData":…,"WrappedKey":{"enc_key","x5t_256"}}` of `POST /securitydomain/upload`.
//! These are the shapes `az` parses; what the data hold (tags and contents) is the emulator's
//! own. Pure functions: bytes in, bytes or JSON text out.

use aws_lc_rs::{digest, hmac};
use serde_json::{Value, json};

use super::rsa::{self, Padding};
use super::{CryptoError, CryptoResult, aes, base64url, shamir};

const ENC: &str = "A256CBC-HS512";
const KDF_NAME: &str = "sp108_kdf";
const MASTER_KEY_LEN: usize = 32;

fn invalid(message: impl Into<String>) -> CryptoError {
    CryptoError::InvalidInput(message.into())
}

/// A wrapping certificate of a download request: its RSA public key and DER (for the thumbprint).
#[derive(Clone, Debug)]
pub struct WrappingKey {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub certificate_der: Vec<u8>,
}

/// A private wrapping key, as a security officer holds it (client side).
#[derive(Clone, Debug)]
pub struct PrivateWrappingKey {
    pub pkcs8_der: Vec<u8>,
    pub certificate_der: Vec<u8>,
}

/// The base64url SHA-256 of a certificate, the `x5t_256` / `x5t#S256` that names it.
#[must_use]
pub fn thumbprint(certificate_der: &[u8]) -> String {
    base64url::encode(digest::digest(&digest::SHA256, certificate_der).as_ref())
}

/// SP 800-108 in counter mode with HMAC-SHA512: `bits` (a multiple of 8, at most 512) of
/// `PRF(key, [1]32 || label || 0x00 || context || [bits]32)`.
pub fn kdf(key: &[u8], label: &str, context: &str, bits: u32) -> CryptoResult<Vec<u8>> {
    if bits == 0 || !bits.is_multiple_of(8) || bits > 512 {
        return Err(invalid(crate::messages::crypto::kdf_length(bits)));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA512, key);
    let mut input = 1u32.to_be_bytes().to_vec();
    input.extend_from_slice(label.as_bytes());
    input.push(0);
    input.extend_from_slice(context.as_bytes());
    input.extend_from_slice(&bits.to_be_bytes());
    let tag = hmac::sign(&key, &input);
    Ok(tag.as_ref()[..(bits / 8) as usize].to_vec())
}

/// `A256CBC-HS512` (RFC 7518 5.2.5): the MAC key is the first half of `cek`, the AES key the
/// second; the authenticated data are the encoded header.
fn mac(cek: &[u8], encoded_header: &str, iv: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA512, &cek[..32]);
    let mut context = hmac::Context::with_key(&key);
    context.update(encoded_header.as_bytes());
    context.update(iv);
    context.update(ciphertext);
    context.update(&(encoded_header.len() as u64 * 8).to_be_bytes());
    context.sign().as_ref()[..32].to_vec()
}

fn seal_content(cek: &[u8], header: &Value, encrypted_key: &[u8], plaintext: &[u8]) -> CryptoResult<String> {
    let encoded_header = base64url::encode(header.to_string().as_bytes());
    let iv = super::random_bytes(16)?;
    let ciphertext = aes::cbc_encrypt(&cek[32..], aes::CbcPadding::Pkcs7, &iv, plaintext)?;
    let tag = mac(cek, &encoded_header, &iv, &ciphertext);
    Ok([
        encoded_header,
        base64url::encode(encrypted_key),
        base64url::encode(&iv),
        base64url::encode(&ciphertext),
        base64url::encode(&tag),
    ]
    .join("."))
}

/// A parsed compact JWE.
struct Compact {
    header: Value,
    encoded_header: String,
    encrypted_key: Vec<u8>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

fn parse_compact(compact: &str) -> CryptoResult<Compact> {
    let parts: Vec<&str> = compact.split('.').collect();
    let [header, key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(invalid(crate::messages::crypto::JWE_NOT_COMPACT));
    };
    let decode =
        |part: &str| base64url::decode(part).map_err(|_| invalid(crate::messages::crypto::JWE_PART_NOT_BASE64URL));
    let header_json: Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| invalid(crate::messages::crypto::JWE_HEADER_NOT_JSON))?;
    if header_json["enc"] != ENC {
        return Err(invalid(crate::messages::crypto::jwe_encryption(ENC)));
    }
    Ok(Compact {
        header: header_json,
        encoded_header: (*header).to_owned(),
        encrypted_key: decode(key)?,
        iv: decode(iv)?,
        ciphertext: decode(ciphertext)?,
        tag: decode(tag)?,
    })
}

fn open_content(cek: &[u8], jwe: &Compact) -> CryptoResult<Vec<u8>> {
    if cek.len() != 64 {
        return Err(invalid(crate::messages::crypto::JWE_CONTENT_KEY_LENGTH));
    }
    let expected = mac(cek, &jwe.encoded_header, &jwe.iv, &jwe.ciphertext);
    if aws_lc_rs::constant_time::verify_slices_are_equal(&expected, &jwe.tag).is_err() {
        return Err(invalid(crate::messages::crypto::JWE_NOT_AUTHENTIC));
    }
    aes::cbc_decrypt(&cek[32..], aes::CbcPadding::Pkcs7, &jwe.iv, &jwe.ciphertext)
}

/// A JWE with a direct key (`alg: dir`), named by `kid`.
pub fn encrypt_direct(cek: &[u8], kid: &str, plaintext: &[u8]) -> CryptoResult<String> {
    seal_content(cek, &json!({"alg": "dir", "enc": ENC, "kid": kid}), &[], plaintext)
}

pub fn decrypt_direct(cek: &[u8], compact: &str) -> CryptoResult<Vec<u8>> {
    open_content(cek, &parse_compact(compact)?)
}

/// A JWE to an RSA public key (`RSA-OAEP-256`, a fresh 64-byte content key).
pub fn encrypt_to_rsa(n: &[u8], e: &[u8], plaintext: &[u8]) -> CryptoResult<String> {
    let cek = super::random_bytes(64)?;
    let encrypted_key = rsa::encrypt(n, e, Padding::OaepSha256, &cek)?;
    seal_content(&cek, &json!({"alg": "RSA-OAEP-256", "enc": ENC, "kid": "not used"}), &encrypted_key, plaintext)
}

/// Opens a JWE to an RSA key (`RSA-OAEP-256` or `RSA-OAEP`) with its PKCS#8 private key.
pub fn decrypt_with_rsa(pkcs8_der: &[u8], compact: &str) -> CryptoResult<Vec<u8>> {
    let jwe = parse_compact(compact)?;
    let padding = match jwe.header["alg"].as_str() {
        Some("RSA-OAEP-256") => Padding::OaepSha256,
        Some("RSA-OAEP") => Padding::OaepSha1,
        _ => return Err(invalid(crate::messages::crypto::WRAPPED_KEY_ALGORITHM)),
    };
    let cek = rsa::decrypt(pkcs8_der, padding, &jwe.encrypted_key)
        .map_err(|_| invalid(crate::messages::crypto::WRAPPED_KEY_UNDECRYPTABLE))?;
    open_content(&cek, &jwe)
}

/// The `EncData` of `data` (tag, plaintext) under `master_key`.
fn enc_data(master_key: &[u8], data: &[(String, Vec<u8>)]) -> CryptoResult<Value> {
    let mut entries = Vec::with_capacity(data.len());
    for (tag, plaintext) in data {
        let cek = kdf(master_key, tag, "", 512)?;
        entries.push(json!({"compact_jwe": encrypt_direct(&cek, tag, plaintext)?, "tag": tag}));
    }
    Ok(json!({"data": entries, "kdf": KDF_NAME}))
}

fn open_enc_data(master_key: &[u8], enc: &Value) -> CryptoResult<Vec<(String, Vec<u8>)>> {
    let entries = enc["data"].as_array().ok_or_else(|| invalid(crate::messages::crypto::NO_ENC_DATA))?;
    entries
        .iter()
        .map(|entry| {
            let (Some(tag), Some(compact)) = (entry["tag"].as_str(), entry["compact_jwe"].as_str()) else {
                return Err(invalid(crate::messages::crypto::ENC_DATA_ENTRY));
            };
            Ok((tag.to_owned(), decrypt_direct(&kdf(master_key, tag, "", 512)?, compact)?))
        })
        .collect()
}

/// The security domain file holding `data`, recoverable with any `required` of `keys`.
pub fn seal(data: &[(String, Vec<u8>)], keys: &[WrappingKey], required: u8) -> CryptoResult<String> {
    let count = u8::try_from(keys.len()).map_err(|_| invalid(crate::messages::crypto::TOO_MANY_WRAPPING_KEYS))?;
    let master_key = super::random_bytes(MASTER_KEY_LEN)?;
    let shares = shamir::split(&master_key, count, required)?;
    let mut enc_shares = Vec::with_capacity(keys.len());
    for (key, share) in keys.iter().zip(shares) {
        let bytes: Vec<u8> = share.iter().flat_map(|word| word.to_le_bytes()).collect();
        enc_shares.push(json!({
            "enc_key": encrypt_to_rsa(&key.n, &key.e, &bytes)?,
            "x5t_256": thumbprint(&key.certificate_der),
        }));
    }
    Ok(json!({
        "EncData": enc_data(&master_key, data)?,
        "SharedKeys": {"enc_shares": enc_shares, "key_algorithm": "shamir_share", "required": required},
    })
    .to_string())
}

/// Client side, as `az keyvault security-domain upload` does it: the data of a security domain
/// file, given at least its quorum of private wrapping keys.
pub fn recover(file: &str, keys: &[PrivateWrappingKey]) -> CryptoResult<Vec<(String, Vec<u8>)>> {
    let file: Value =
        serde_json::from_str(file).map_err(|_| invalid(crate::messages::crypto::SECURITY_DOMAIN_NOT_JSON))?;
    let shared = &file["SharedKeys"];
    let required = shared["required"].as_u64().ok_or_else(|| invalid(crate::messages::crypto::NO_QUORUM))?;
    let enc_shares =
        shared["enc_shares"].as_array().ok_or_else(|| invalid(crate::messages::crypto::NO_SHARES_IN_FILE))?;
    let mut shares = Vec::new();
    for key in keys {
        let print = thumbprint(&key.certificate_der);
        let Some(share) = enc_shares.iter().find(|s| s["x5t_256"] == print.as_str()) else { continue };
        let bytes = decrypt_with_rsa(&key.pkcs8_der, share["enc_key"].as_str().unwrap_or_default())?;
        shares.push(bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect::<Vec<u16>>());
        if shares.len() as u64 == required {
            break;
        }
    }
    if (shares.len() as u64) < required {
        return Err(invalid(crate::messages::crypto::insufficient_shares(shares.len(), required)));
    }
    open_enc_data(&shamir::combine(&shares)?, &file["EncData"])
}

/// Client side: the restore blob carrying `data` to the HSM whose transfer key is `exchange`.
pub fn restore_blob(data: &[(String, Vec<u8>)], exchange: &WrappingKey) -> CryptoResult<String> {
    let master_key = super::random_bytes(MASTER_KEY_LEN)?;
    Ok(json!({
        "EncData": enc_data(&master_key, data)?,
        "WrappedKey": {
            "enc_key": encrypt_to_rsa(&exchange.n, &exchange.e, &master_key)?,
            "x5t_256": thumbprint(&exchange.certificate_der),
        },
    })
    .to_string())
}

/// Service side: the data of a restore blob, opened with the HSM's transfer key. A blob not
/// made for this transfer key, or whose data do not authenticate, is refused.
pub fn open_restore_blob(blob: &str, transfer: &PrivateWrappingKey) -> CryptoResult<Vec<(String, Vec<u8>)>> {
    let blob: Value =
        serde_json::from_str(blob).map_err(|_| invalid(crate::messages::crypto::RESTORE_BLOB_NOT_JSON))?;
    let wrapped = &blob["WrappedKey"];
    if wrapped["x5t_256"] != thumbprint(&transfer.certificate_der).as_str() {
        return Err(invalid(crate::messages::crypto::RESTORE_BLOB_WRONG_KEY));
    }
    let master_key = decrypt_with_rsa(
        &transfer.pkcs8_der,
        wrapped["enc_key"].as_str().ok_or_else(|| invalid(crate::messages::crypto::RESTORE_BLOB_NO_KEY))?,
    )?;
    open_enc_data(&master_key, &blob["EncData"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer() -> (WrappingKey, PrivateWrappingKey) {
        let material = rsa::generate(2048).unwrap();
        // Any bytes stand for the certificate: only their thumbprint matters here.
        let certificate_der = crate::crypto::random_bytes(40).unwrap();
        (
            WrappingKey { n: material.n, e: material.e, certificate_der: certificate_der.clone() },
            PrivateWrappingKey { pkcs8_der: material.pkcs8_der, certificate_der },
        )
    }

    fn data() -> Vec<(String, Vec<u8>)> {
        vec![("domain-key".into(), vec![7; 32]), ("other".into(), b"hello".to_vec())]
    }

    #[test]
    fn kdf_matches_the_sp800_108_vector_clients_check() {
        let derived = kdf(&[0x41; 32], "label", "context", 256).unwrap();
        let hex: String = derived.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "f0ca51f6308791404bf68b56024ee7c64d6c737716f81d47e1e68b5c4e399575");
        assert!(kdf(b"k", "l", "", 520).is_err());
    }

    #[test]
    fn a_quorum_of_keys_recovers_and_restores_into_another_hsm() {
        let officers: Vec<_> = (0..3).map(|_| officer()).collect();
        let public: Vec<WrappingKey> = officers.iter().map(|o| o.0.clone()).collect();
        let file = seal(&data(), &public, 2).unwrap();
        let parsed: Value = serde_json::from_str(&file).unwrap();
        assert_eq!(parsed["SharedKeys"]["key_algorithm"], "shamir_share");
        assert_eq!(parsed["SharedKeys"]["enc_shares"].as_array().unwrap().len(), 3);

        let quorum = [officers[2].1.clone(), officers[0].1.clone()];
        assert_eq!(recover(&file, &quorum).unwrap(), data());

        let (exchange, transfer) = officer();
        let blob = restore_blob(&data(), &exchange).unwrap();
        assert_eq!(open_restore_blob(&blob, &transfer).unwrap(), data());
        let (_, stranger) = officer();
        assert!(open_restore_blob(&blob, &stranger).is_err(), "another HSM's transfer key cannot open it");
    }

    #[test]
    fn quorum_minus_one_keys_cannot_restore() {
        let officers: Vec<_> = (0..4).map(|_| officer()).collect();
        let public: Vec<WrappingKey> = officers.iter().map(|o| o.0.clone()).collect();
        let file = seal(&data(), &public, 3).unwrap();
        let two = [officers[0].1.clone(), officers[3].1.clone()];
        assert!(matches!(recover(&file, &two), Err(CryptoError::InvalidInput(_))));

        // Even recombining two shares by hand gives a master key that opens nothing.
        let parsed: Value = serde_json::from_str(&file).unwrap();
        let shares: Vec<Vec<u16>> = [0, 3]
            .iter()
            .map(|i| {
                let share = &parsed["SharedKeys"]["enc_shares"][*i]["enc_key"];
                let bytes = decrypt_with_rsa(&officers[*i].1.pkcs8_der, share.as_str().unwrap()).unwrap();
                bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect()
            })
            .collect();
        let guess = shamir::combine(&shares).unwrap_or_default();
        assert!(open_enc_data(&guess, &parsed["EncData"]).is_err());
    }

    #[test]
    fn a_tampered_jwe_does_not_authenticate() {
        let cek = crate::crypto::random_bytes(64).unwrap();
        let compact = encrypt_direct(&cek, "t", b"secret").unwrap();
        assert_eq!(decrypt_direct(&cek, &compact).unwrap(), b"secret");
        let mut parts: Vec<String> = compact.split('.').map(str::to_owned).collect();
        parts[3] = base64url::encode(&[0u8; 16]);
        assert!(decrypt_direct(&cek, &parts.join(".")).is_err());
        assert!(decrypt_direct(&cek, "a.b.c").is_err());
    }
}
