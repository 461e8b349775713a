//! Handlers for backup and restore (contract §5 items 12–13). Restore shares the path
//! `/keys/{name}` with the per-key routes, so it answers `POST /keys/restore` only.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::wire::KeyBundle;
use crate::api::AppState;
use crate::api::errors::{ApiError, ApiResult};
use crate::api::extract::{ApiVersion, KvJson, KvPath, VaultRequest};
use crate::crypto::base64url::Base64Url;
use crate::keys;
use crate::keys::model::KeyName;
use crate::messages;

#[derive(Debug, Serialize, Deserialize)]
pub struct BackupBlob {
    pub value: Base64Url,
}

pub async fn backup_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<BackupBlob>> {
    let blob = state.keys.backup_key(&ctx.vault, &KeyName::parse(&name)?).await?;
    Ok(Json(BackupBlob { value: Base64Url(blob) }))
}

/// `POST /keys/restore` (routed as `POST /keys/{name}`, which admits only that name).
pub async fn restore_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvJson(body): KvJson<BackupBlob>,
) -> ApiResult<Json<KeyBundle>> {
    let key = state.keys.restore_key(&ctx.vault, &body.value.0).await.map_err(|err| match err {
        keys::Error::RestoreConflict { name, version } => ApiError::Conflict {
            message: messages::data_plane::restore_conflict(&format!("{}/keys/{name}/{version}", ctx.origin)),
            inner: None,
        },
        other => other.into(),
    })?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}
