//! Shamir secret sharing over GF(257), byte by byte, in the share encoding of Managed HSM
//! security domains: each share of a byte is one 16-bit word, `x << 9 | y`, with `x` the share
//! number (1..=126) and `y` the polynomial's value at `x` (0..=256, nine bits). GF(257) rather
//! than GF(256) because that is what the clients (`az keyvault security-domain upload`)
//! recombine; any `required` shares give the secret, fewer give every byte value with equal
//! likelihood.

use super::{CryptoError, CryptoResult};

const PRIME: u32 = 257;
/// The most shares one secret can have (seven bits of `x`).
pub const MAX_SHARES: u8 = 126;

fn add(a: u32, b: u32) -> u32 {
    (a + b) % PRIME
}

fn sub(a: u32, b: u32) -> u32 {
    (a + PRIME - b % PRIME) % PRIME
}

fn mul(a: u32, b: u32) -> u32 {
    (a * b) % PRIME
}

/// The multiplicative inverse by Fermat: a^(p-2).
fn invert(a: u32) -> u32 {
    let mut result = 1;
    let mut base = a % PRIME;
    let mut exponent = PRIME - 2;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exponent >>= 1;
    }
    result
}

/// Uniform field elements from the system's generator (rejection sampling keeps them unbiased).
fn random_coefficients(count: usize) -> CryptoResult<Vec<u32>> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let bytes = super::random_bytes(2 * (count - out.len()) + 8)?;
        for pair in bytes.chunks_exact(2) {
            let word = u32::from(u16::from_le_bytes([pair[0], pair[1]]));
            // 65535 = 255 * 257: words below it are uniform modulo 257.
            if word < 65_535 && out.len() < count {
                out.push(word % PRIME);
            }
        }
    }
    Ok(out)
}

/// Splits `secret` into `shares` share arrays (one word per secret byte), any `required` of
/// which recombine it.
pub fn split(secret: &[u8], shares: u8, required: u8) -> CryptoResult<Vec<Vec<u16>>> {
    if required < 2 || required > shares || shares > MAX_SHARES {
        return Err(CryptoError::InvalidInput(crate::messages::crypto::shamir_parameters(
            MAX_SHARES, shares, required,
        )));
    }
    let mut arrays = vec![Vec::with_capacity(secret.len()); usize::from(shares)];
    let degree = usize::from(required) - 1;
    let coefficients = random_coefficients(secret.len() * degree)?;
    for (byte, higher) in secret.iter().zip(coefficients.chunks_exact(degree.max(1))) {
        for (index, array) in arrays.iter_mut().enumerate() {
            let x = u32::try_from(index + 1).unwrap_or(0);
            // Horner: the secret byte is the constant term.
            let y = higher.iter().fold(0, |acc, c| add(mul(acc, x), *c));
            let y = add(mul(y, x), u32::from(*byte));
            array.push(u16::try_from((x << 9) | y).unwrap_or(0));
        }
    }
    Ok(arrays)
}

/// Recombines the secret from share arrays: all of `shares` are used, so pass exactly a quorum
/// (more is fine, fewer yields an unrelated value, as the scheme intends).
pub fn combine(shares: &[Vec<u16>]) -> CryptoResult<Vec<u8>> {
    let invalid = |message: &str| CryptoError::InvalidInput(message.to_owned());
    let first = shares.first().ok_or_else(|| invalid(crate::messages::crypto::NO_SHARES))?;
    if shares.iter().any(|s| s.len() != first.len()) {
        return Err(invalid(crate::messages::crypto::SHARE_LENGTHS_DIFFER));
    }
    let xs: Vec<u32> = shares.iter().map(|s| s.first().map_or(0, |w| u32::from(w >> 9))).collect();
    for (i, x) in xs.iter().enumerate() {
        if *x == 0 || xs[..i].contains(x) {
            return Err(invalid(crate::messages::crypto::SHARE_NUMBERS_REPEAT));
        }
    }
    // Lagrange basis at zero, the same for every byte: l_i = prod x_j / (x_j - x_i).
    let basis: Vec<u32> = xs
        .iter()
        .enumerate()
        .map(|(i, xi)| {
            let (num, den) = xs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold((1, 1), |(num, den), (_, xj)| (mul(num, *xj), mul(den, sub(*xj, *xi))));
            mul(num, invert(den))
        })
        .collect();
    let mut secret = Vec::with_capacity(first.len());
    for position in 0..first.len() {
        let mut value = 0;
        for ((share, l), x) in shares.iter().zip(&basis).zip(&xs) {
            let word = share[position];
            if u32::from(word >> 9) != *x {
                return Err(invalid(crate::messages::crypto::SHARE_MIXES_NUMBERS));
            }
            value = add(value, mul(u32::from(word & 0x1ff), *l));
        }
        secret.push(u8::try_from(value).map_err(|_| invalid(crate::messages::crypto::SHARES_OF_DIFFERENT_SECRETS))?);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_inverse_is_an_inverse() {
        for a in 1..PRIME {
            assert_eq!(mul(a, invert(a)), 1, "{a}");
        }
    }

    #[test]
    fn any_quorum_recombines_and_the_word_layout_is_x_then_nine_bits() {
        let secret: Vec<u8> = (0..=255).collect();
        let shares = split(&secret, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        for (index, share) in shares.iter().enumerate() {
            assert!(share.iter().all(|w| usize::from(w >> 9) == index + 1 && (w & 0x1ff) < 257));
        }
        for picked in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let quorum: Vec<Vec<u16>> = picked.iter().map(|i| shares[*i].clone()).collect();
            assert_eq!(combine(&quorum).unwrap(), secret);
        }
        assert_eq!(combine(&shares).unwrap(), secret, "more than a quorum also works");
    }

    #[test]
    fn fewer_than_a_quorum_do_not_recombine() {
        let secret = crate::crypto::random_bytes(32).unwrap();
        let shares = split(&secret, 4, 3).unwrap();
        let short = combine(&shares[..2]);
        assert_ne!(short.ok(), Some(secret), "two shares of a 3-quorum give another value (or none)");
    }

    #[test]
    fn bad_parameters_and_shares_are_refused() {
        assert!(split(b"x", 3, 1).is_err());
        assert!(split(b"x", 2, 3).is_err());
        assert!(split(b"x", 127, 2).is_err());
        assert!(combine(&[]).is_err());
        let shares = split(b"ab", 3, 2).unwrap();
        assert!(combine(&[shares[0].clone(), shares[0].clone()]).is_err());
        assert!(combine(&[shares[0].clone(), vec![shares[1][0]]]).is_err());
    }
}
