//! The token issuer: RS256 access tokens shaped like the v1 tokens Entra issues to managed
//! identities for Key Vault, signed with a key kept (sealed) in the store so tokens stay valid
//! across restarts of a data directory.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use aws_lc_rs::digest::{SHA256, digest};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::identity::Identity;
use super::v1_issuer;
use crate::clock::{UnixSeconds, wall_now};
use crate::crypto::base64url;
use crate::crypto::rsa::{self, RsaKeyMaterial};
use crate::crypto::sealing::MasterKey;
use crate::store::{self, Pool};

/// How long an issued access token lives. Real managed-identity tokens live for hours; SDKs
/// refresh ahead of expiry, so any value above their five-minute margin works.
pub const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

/// Claims of an issued access token (v1 shape).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub appid: String,
    pub appidacr: String,
    pub idp: String,
    pub idtyp: String,
    pub oid: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xms_mirid: Option<String>,
}

/// A signed token and when it expires.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub issued_at: UnixSeconds,
    pub expires_on: UnixSeconds,
}

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("crypto: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("the signing key is not ready (or could not be made)")]
    Unavailable,
    #[error("jwt: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    n: Vec<u8>,
    e: Vec<u8>,
}

/// A signing key of its own for something that must never sign access tokens (the attestation
/// authority, the workload-identity issuer): made in memory on first use, so start-up stays
/// fast, and gone at exit, like the test artefacts it signs.
#[derive(Default)]
pub struct LazySigner {
    signer: tokio::sync::OnceCell<TokenIssuer>,
}

impl LazySigner {
    /// The signing key; the first call generates it (RSA-2048, off the async workers).
    pub async fn get(&self) -> Result<&TokenIssuer, String> {
        self.signer
            .get_or_try_init(|| async {
                let material = tokio::task::spawn_blocking(|| rsa::generate(2048))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                TokenIssuer::from_material(&material).map_err(|e| e.to_string())
            })
            .await
    }
}

/// The signer of access tokens. Its key may still be in the making when the emulator is ready
/// (a fresh data directory, or memory): token endpoints await [`TokenIssuer::ready`] first, so
/// that start-up does not wait (RSA-2048 generation takes 50–150 ms, the rest of start-up a
/// few). No token can exist before the key, so validation never needs to wait.
#[derive(Clone)]
pub struct TokenIssuer {
    /// `None` inside when making the key failed; every use then fails with `Unavailable`.
    slot: Arc<OnceLock<Option<SigningKey>>>,
    made: watch::Receiver<bool>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kid = self.slot.get().map(|key| key.as_ref().map(|k| k.kid.as_str()));
        f.debug_struct("TokenIssuer").field("kid", &kid).finish_non_exhaustive()
    }
}

/// Key ids look like Entra's: a short base64url thumbprint of the public key.
fn key_id(material: &RsaKeyMaterial) -> String {
    let mut public = material.n.clone();
    public.extend_from_slice(&material.e);
    base64url::encode(&digest(&SHA256, &public).as_ref()[..20])
}

const SIGNING_KEY_OWNER: &str = "signing-key";

impl SigningKey {
    fn from_material(material: &RsaKeyMaterial) -> Result<Self, IssuerError> {
        let pkcs1 = crate::crypto::der::pkcs8_private_key(&material.pkcs8_der)
            .ok_or_else(|| crate::crypto::CryptoError::Material("signing key is not PKCS#8".into()))?;
        Ok(Self {
            kid: key_id(material),
            encoding: EncodingKey::from_rsa_der(pkcs1),
            decoding: DecodingKey::from_rsa_raw_components(&material.n, &material.e),
            n: material.n.clone(),
            e: material.e.clone(),
        })
    }
}

impl TokenIssuer {
    /// Loads the newest signing key from the store. With none stored, returns at once and makes
    /// one in the background: generated on its own thread, sealed and stored, and only then used,
    /// so no token is ever signed by a key a restart would not know.
    pub async fn load_or_create(pool: &Pool, master: &Arc<MasterKey>) -> Result<Self, IssuerError> {
        let mut tx = store::begin_write(pool).await?;
        let stored = store::signing_keys::newest(&mut tx).await?;
        tx.commit().await?;
        if let Some(row) = stored {
            let der = master.open(SIGNING_KEY_OWNER, &row.sealed_private_key)?;
            return Self::from_material(&rsa::material_from_pkcs8(&der)?);
        }
        let (made, made_rx) = watch::channel(false);
        let issuer = Self { slot: Arc::default(), made: made_rx };
        let (pool, master, slot) = (pool.clone(), master.clone(), issuer.slot.clone());
        tokio::spawn(async move {
            let making = async {
                let material = tokio::task::spawn_blocking(|| rsa::generate(2048))
                    .await
                    .map_err(|e| crate::crypto::CryptoError::Material(e.to_string()))??;
                let sealed = master.seal(SIGNING_KEY_OWNER, &material.pkcs8_der)?;
                let mut tx = store::begin_write(&pool).await?;
                store::signing_keys::insert(&mut tx, &key_id(&material), &sealed, wall_now()).await?;
                tx.commit().await?;
                SigningKey::from_material(&material)
            };
            let key = making.await.inspect_err(|err| tracing::error!(error = %err, "token signing key")).ok();
            let _ = slot.set(key);
            let _ = made.send(true);
        });
        Ok(issuer)
    }

    pub fn from_material(material: &RsaKeyMaterial) -> Result<Self, IssuerError> {
        let slot = OnceLock::new();
        let _ = slot.set(Some(SigningKey::from_material(material)?));
        Ok(Self { slot: Arc::new(slot), made: watch::channel(true).1 })
    }

    fn key(&self) -> Result<&SigningKey, IssuerError> {
        self.slot.get().and_then(Option::as_ref).ok_or(IssuerError::Unavailable)
    }

    /// Returns once the signing key has been made (or making it failed).
    pub async fn ready(&self) {
        let mut made = self.made.clone();
        let _ = made.wait_for(|made| *made).await;
    }

    /// The signing key's public modulus and exponent.
    pub fn public_components(&self) -> Result<(&[u8], &[u8]), IssuerError> {
        let key = self.key()?;
        Ok((&key.n, &key.e))
    }

    pub fn kid(&self) -> Result<&str, IssuerError> {
        Ok(&self.key()?.kid)
    }

    /// The verification key for `kid`, if it is one of ours.
    #[must_use]
    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.key().ok().filter(|key| key.kid == kid).map(|key| &key.decoding)
    }

    /// The JWKS document served at `/{tenant}/discovery/v2.0/keys`.
    pub fn jwks(&self) -> Result<serde_json::Value, IssuerError> {
        let key = self.key()?;
        Ok(serde_json::json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": key.kid,
                "n": base64url::encode(&key.n),
                "e": base64url::encode(&key.e),
            }]
        }))
    }

    /// Issues an access token for a managed identity, for `audience` (a resource URI).
    /// A token as the emulator's endpoints issue it to `identity`: managed identities through
    /// the managed-identity endpoints, service principals through the login endpoint with a secret.
    pub fn issue_for_identity(&self, identity: &Identity, audience: &str) -> Result<IssuedToken, IssuerError> {
        self.issue_for(identity, audience, if identity.is_managed() { "2" } else { "1" })
    }

    pub fn issue_for_managed_identity(&self, identity: &Identity, audience: &str) -> Result<IssuedToken, IssuerError> {
        self.issue_for(identity, audience, "2")
    }

    /// Issues an access token for any identity. `appidacr` says how the app authenticated:
    /// "1" a client secret, "2" a certificate or assertion (managed identities are "2").
    pub fn issue_for(&self, identity: &Identity, audience: &str, appidacr: &str) -> Result<IssuedToken, IssuerError> {
        let now = wall_now();
        let issuer = v1_issuer(identity.tenant_id);
        let claims = AccessTokenClaims {
            aud: audience.to_owned(),
            iss: issuer.clone(),
            iat: now,
            nbf: now,
            exp: now + TOKEN_LIFETIME_SECONDS,
            appid: identity.client_id.to_string(),
            appidacr: appidacr.into(),
            idp: issuer,
            idtyp: "app".into(),
            oid: identity.object_id.to_string(),
            sub: identity.object_id.to_string(),
            tid: identity.tenant_id.to_string(),
            uti: base64url::encode(Uuid::new_v4().as_bytes()),
            ver: "1.0".into(),
            xms_mirid: identity.is_managed().then(|| identity.resource_id.clone()),
        };
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, IssuerError> {
        let access_token = self.sign_claims(claims)?;
        Ok(IssuedToken { access_token, issued_at: claims.iat, expires_on: claims.exp })
    }

    /// A compact RS256 JWS over any claims, with this issuer's `kid`: access tokens,
    /// attestation tokens and key-release responses are all signed this way.
    pub fn sign_claims<T: Serialize>(&self, claims: &T) -> Result<String, IssuerError> {
        let key = self.key()?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }
}
