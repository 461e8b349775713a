//! Handlers for rotation: rotate now, and get or replace the rotation policy
//! (contract §5 items 21–23).

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::wire::KeyBundle;
use crate::api::AppState;
use crate::api::errors::ApiResult;
use crate::api::extract::{ApiVersion, KvJson, KvPath, VaultRequest};
use crate::keys::model::KeyName;
use crate::keys::rotation::RotationPolicy;

/// A policy on the wire: its id, then the policy itself.
#[derive(Debug, Serialize)]
pub struct KeyRotationPolicy {
    pub id: String,
    #[serde(flatten)]
    pub policy: RotationPolicy,
}

fn wire(ctx: &VaultRequest, name: &str, policy: RotationPolicy) -> Json<KeyRotationPolicy> {
    Json(KeyRotationPolicy { id: format!("{}/keys/{name}/rotationpolicy", ctx.origin), policy })
}

pub async fn rotate_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<KeyBundle>> {
    let key = state.keys.rotate_key(&ctx.vault, &KeyName::parse(&name)?).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}

pub async fn get_rotation_policy(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<KeyRotationPolicy>> {
    let name = KeyName::parse(&name)?;
    let policy = state.keys.get_rotation_policy(&ctx.vault, &name).await?;
    Ok(wire(&ctx, name.as_str(), policy))
}

pub async fn set_rotation_policy(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    KvPath(name): KvPath<String>,
    KvJson(policy): KvJson<RotationPolicy>,
) -> ApiResult<Json<KeyRotationPolicy>> {
    let name = KeyName::parse(&name)?;
    let policy = state.keys.set_rotation_policy(&ctx.vault, &name, policy).await?;
    Ok(wire(&ctx, name.as_str(), policy))
}
