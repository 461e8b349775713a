//! Sealing of private key material at rest under the data directory's master key
//! (AES-256-GCM, a random 96-bit nonce per seal, the owner's identity as associated data so a
//! sealed blob cannot be moved to another key row).

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};

use super::{CryptoError, CryptoResult, random_bytes};

pub const MASTER_KEY_LEN: usize = 32;

pub struct MasterKey {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> CryptoResult<Self> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(CryptoError::Material(format!(
                "master key must be {MASTER_KEY_LEN} bytes, found {}",
                bytes.len()
            )));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes)
            .map_err(|_| CryptoError::Material("invalid master key".into()))?;
        Ok(Self { key })
    }

    pub fn generate_bytes() -> CryptoResult<Vec<u8>> {
        random_bytes(MASTER_KEY_LEN)
    }

    /// Returns `nonce || ciphertext || tag`.
    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
        let mut data = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(owner.as_bytes()), &mut data)
            .map_err(|_| CryptoError::Material("sealing failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + data.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&data);
        Ok(out)
    }

    pub fn open(&self, owner: &str, sealed: &[u8]) -> CryptoResult<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Material("sealed blob too short".into()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Material("bad nonce".into()))?;
        let mut data = ciphertext.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut data)
            .map_err(|_| CryptoError::Material(format!("sealed material for {owner} failed authentication")))?
            .len();
        data.truncate(plain_len);
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_owner_binding() {
        let key = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        let sealed = key.seal("default/k1/v1", b"private").unwrap();
        assert_eq!(key.open("default/k1/v1", &sealed).unwrap(), b"private");
        assert!(key.open("default/k2/v1", &sealed).is_err());
        let other = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        assert!(other.open("default/k1/v1", &sealed).is_err());
    }
}
