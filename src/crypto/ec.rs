//! Elliptic-curve keys: generation and public point extraction for the four Key Vault curves.
//! (Signing arrives with the sign/verify operations.)

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P256K1_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _,
};

use super::{CryptoError, CryptoResult, Hash};

/// The curves Key Vault names in JWKs (`crv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    P256K,
}

impl Curve {
    pub const ALL: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::P256K];

    #[must_use]
    pub fn jwk_name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
            Self::P256K => "P-256K",
        }
    }

    /// Parses a `crv` value; Key Vault also accepts `SECP256K1` as a spelling of P-256K.
    #[must_use]
    pub fn from_jwk_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            "P-256K" | "SECP256K1" => Some(Self::P256K),
            _ => None,
        }
    }

    /// Width in bytes of each coordinate (and of each half of a raw signature).
    #[must_use]
    pub fn field_bytes(self) -> usize {
        match self {
            Self::P256 | Self::P256K => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn signing_algorithm(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &ECDSA_P384_SHA384_FIXED_SIGNING,
            Self::P521 => &ECDSA_P521_SHA512_FIXED_SIGNING,
            Self::P256K => &ECDSA_P256K1_SHA256_FIXED_SIGNING,
        }
    }
}

impl Curve {
    /// The hash of the one ECDSA algorithm Key Vault pairs with this curve (ES256/384/512/256K).
    #[must_use]
    pub fn hash(self) -> Hash {
        match self {
            Self::P256 | Self::P256K => Hash::Sha256,
            Self::P384 => Hash::Sha384,
            Self::P521 => Hash::Sha512,
        }
    }

    fn verification_algorithm(self) -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            Self::P256 => &s::ECDSA_P256_SHA256_FIXED,
            Self::P384 => &s::ECDSA_P384_SHA384_FIXED,
            Self::P521 => &s::ECDSA_P521_SHA512_FIXED,
            Self::P256K => &s::ECDSA_P256K1_SHA256_FIXED,
        }
    }
}

/// Signs a digest; the signature is raw `r || s`, each half the curve's field width (JWS form).
pub fn sign_digest(curve: Curve, pkcs8_der: &[u8], digest: &[u8]) -> CryptoResult<Vec<u8>> {
    let digest = curve.hash().import(digest)?;
    let pair = EcdsaKeyPair::from_pkcs8(curve.signing_algorithm(), pkcs8_der)
        .map_err(|e| CryptoError::Material(format!("EC PKCS#8: {e}")))?;
    let signature = pair.sign_digest(&digest).map_err(|_| CryptoError::Material("ECDSA signing failed".into()))?;
    Ok(signature.as_ref().to_vec())
}

/// Does the raw `r || s` signature sign `digest` under the point (x, y)? A bad signature,
/// including one of the wrong length, is `Ok(false)`.
pub fn verify_digest(curve: Curve, x: &[u8], y: &[u8], digest: &[u8], signature: &[u8]) -> CryptoResult<bool> {
    use aws_lc_rs::signature::VerificationAlgorithm;
    let digest = curve.hash().import(digest)?;
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(4);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(curve.verification_algorithm().verify_digest_sig(&point, &digest, signature).is_ok())
}

#[derive(Clone, Debug)]
pub struct EcKeyMaterial {
    pub curve: Curve,
    pub pkcs8_der: Vec<u8>,
    pub x: Vec<u8>,
    pub y: Vec<u8>,
}

pub fn generate(curve: Curve) -> CryptoResult<EcKeyMaterial> {
    let pair = EcdsaKeyPair::generate(curve.signing_algorithm())
        .map_err(|_| CryptoError::Material("EC generation failed".into()))?;
    let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Material("EC PKCS#8 encoding failed".into()))?;
    material_from_pkcs8(curve, der.as_ref())
}

/// Builds a key from JWK members `d`, `x`, `y`. Shorter values are left-padded to the curve
/// width; a point off the curve, or one that does not belong to `d`, is invalid input.
pub fn import(curve: Curve, d: &[u8], x: &[u8], y: &[u8]) -> CryptoResult<EcKeyMaterial> {
    let width = curve.field_bytes();
    let pad = |value: &[u8], member: &str| -> CryptoResult<Vec<u8>> {
        let value = super::trim_leading_zeros(value);
        if value.len() > width {
            return Err(CryptoError::InvalidInput(crate::messages::crypto::ec_member_too_long(
                member,
                value.len(),
                curve.jwk_name(),
                width,
            )));
        }
        let mut padded = vec![0u8; width - value.len()];
        padded.extend_from_slice(value);
        Ok(padded)
    };
    let mut point = vec![4u8];
    point.extend(pad(x, "x")?);
    point.extend(pad(y, "y")?);
    let pair = EcdsaKeyPair::from_private_key_and_public_key(curve.signing_algorithm(), &pad(d, "d")?, &point)
        .map_err(|e| {
            CryptoError::InvalidInput(crate::messages::crypto::ec_material_inconsistent(curve.jwk_name(), e))
        })?;
    let der = pair.to_pkcs8v1().map_err(|_| CryptoError::Material("EC PKCS#8 encoding failed".into()))?;
    material_from_pkcs8(curve, der.as_ref())
}

pub fn material_from_pkcs8(curve: Curve, pkcs8_der: &[u8]) -> CryptoResult<EcKeyMaterial> {
    let pair = EcdsaKeyPair::from_pkcs8(curve.signing_algorithm(), pkcs8_der)
        .map_err(|e| CryptoError::Material(format!("EC PKCS#8: {e}")))?;
    // An uncompressed SEC1 point: 0x04 || x || y, each coordinate fixed-width.
    let point = pair.public_key().as_ref();
    let width = curve.field_bytes();
    if point.len() != 1 + 2 * width || point[0] != 4 {
        return Err(CryptoError::Material("unexpected EC public point encoding".into()));
    }
    Ok(EcKeyMaterial {
        curve,
        pkcs8_der: pkcs8_der.to_vec(),
        x: point[1..=width].to_vec(),
        y: point[1 + width..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_curve_generates_fixed_width_coordinates() {
        for curve in Curve::ALL {
            let k = generate(curve).unwrap();
            assert_eq!(k.x.len(), curve.field_bytes(), "{curve:?}");
            assert_eq!(k.y.len(), curve.field_bytes(), "{curve:?}");
            let again = material_from_pkcs8(curve, &k.pkcs8_der).unwrap();
            assert_eq!((again.x, again.y), (k.x, k.y));
        }
    }

    #[test]
    fn every_curve_signs_raw_r_s_that_verifies() {
        for curve in Curve::ALL {
            let k = generate(curve).unwrap();
            let digest = vec![0x11; curve.hash().digest_len()];
            let mut signature = sign_digest(curve, &k.pkcs8_der, &digest).unwrap();
            assert_eq!(signature.len(), 2 * curve.field_bytes(), "{curve:?}");
            assert!(verify_digest(curve, &k.x, &k.y, &digest, &signature).unwrap(), "{curve:?}");
            signature[3] ^= 0x80;
            assert!(!verify_digest(curve, &k.x, &k.y, &digest, &signature).unwrap());
            assert!(!verify_digest(curve, &k.x, &k.y, &digest, &signature[1..]).unwrap());
        }
        let k = generate(Curve::P256).unwrap();
        assert!(matches!(sign_digest(Curve::P256, &k.pkcs8_der, &[0; 48]), Err(CryptoError::InvalidInput(_))));
    }

    #[test]
    fn import_accepts_a_generated_key_and_rejects_a_foreign_point() {
        for curve in Curve::ALL {
            let pair = EcdsaKeyPair::generate(curve.signing_algorithm()).unwrap();
            let d = aws_lc_rs::encoding::AsBigEndian::<aws_lc_rs::encoding::EcPrivateKeyBin>::as_be_bytes(
                &pair.private_key(),
            )
            .unwrap();
            let k = material_from_pkcs8(curve, pair.to_pkcs8v1().unwrap().as_ref()).unwrap();
            let imported = import(curve, d.as_ref(), &k.x, &k.y).unwrap();
            assert_eq!((imported.x, imported.y), (k.x.clone(), k.y.clone()), "{curve:?}");
            let other = generate(curve).unwrap();
            assert!(matches!(import(curve, d.as_ref(), &other.x, &other.y), Err(CryptoError::InvalidInput(_))));
        }
    }

    #[test]
    fn curve_names_round_trip() {
        for curve in Curve::ALL {
            assert_eq!(Curve::from_jwk_name(curve.jwk_name()), Some(curve));
        }
        assert_eq!(Curve::from_jwk_name("P-999"), None);
    }
}
