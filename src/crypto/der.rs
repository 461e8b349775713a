//! Just enough DER to unwrap a PKCS#8 `PrivateKeyInfo` into the PKCS#1 `RSAPrivateKey` inside it,
//! which is the form jsonwebtoken's RSA signer takes.

/// Reads one TLV at the start of `input`: (tag, contents, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first_len, rest) = rest.split_first()?;
    let (len, rest) = if first_len < 0x80 {
        (usize::from(first_len), rest)
    } else {
        let count = usize::from(first_len & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;

/// `PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier, privateKey OCTET STRING, ... }`
#[must_use]
pub fn pkcs8_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (tag, info, _) = read_tlv(pkcs8)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, _, rest) = read_tlv(info)?;
    if tag != INTEGER {
        return None;
    }
    let (tag, _, rest) = read_tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, private_key, _) = read_tlv(rest)?;
    (tag == OCTET_STRING).then_some(private_key)
}

/// `d` of the `RSAPrivateKey` inside a PKCS#8 key: `SEQUENCE { version, n, e, d, ... }`.
#[cfg(test)]
pub(crate) fn rsa_private_exponent(pkcs8: &[u8]) -> Option<Vec<u8>> {
    let (_, key, _) = read_tlv(pkcs8_private_key(pkcs8)?)?;
    let mut rest = key;
    let mut members = Vec::new();
    for _ in 0..4 {
        let (tag, value, next) = read_tlv(rest)?;
        if tag != INTEGER {
            return None;
        }
        members.push(value);
        rest = next;
    }
    Some(super::trim_leading_zeros(members[3]).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_a_generated_rsa_key_into_pkcs1() {
        let material = crate::crypto::rsa::generate(2048).unwrap();
        let inner = pkcs8_private_key(&material.pkcs8_der).unwrap();
        assert!(aws_lc_rs::rsa::KeyPair::from_der(inner).is_ok());
    }

    #[test]
    fn rejects_truncated_input() {
        assert!(pkcs8_private_key(&[0x30, 0x82, 0x01]).is_none());
        assert!(pkcs8_private_key(&[]).is_none());
    }
}
