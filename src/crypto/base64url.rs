//! base64url as Key Vault speaks it: unpadded URL-safe output; lenient input (padded or not,
//! URL-safe or standard alphabet), because real clients and the spec samples send all four.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes any of the four base64 spellings. Whitespace is not accepted.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let normalized: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normalized)
}

/// Bytes that travel as a base64url string in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Base64Url(pub Vec<u8>);

impl Serialize for Base64Url {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Url {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode(&text)
            .map(Base64Url)
            .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a valid base64url value")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_unpadded_url_safe() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(&[1, 0, 1]), "AQAB");
    }

    #[test]
    fn decodes_every_spelling() {
        for text in ["-_8", "-_8=", "+/8", "+/8="] {
            assert_eq!(decode(text).unwrap(), vec![0xfb, 0xff], "{text}");
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode("not base64!").is_err());
        assert!(decode("a").is_err());
    }

    #[test]
    fn round_trips_all_lengths() {
        for len in 0..70u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }
}
