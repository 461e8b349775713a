//! Handlers for deletion and the deleted-key lifecycle: delete, get and list deleted keys,
//! recover, purge (contract §5 items 7–11, §6).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::keys::{bad_skip_token, next_link};
use super::wire::{DeletedKeyBundle, DeletedKeyItem, DeletedKeyListResult, KeyBundle, decode_skip_token};
use crate::api::AppState;
use crate::api::errors::ApiResult;
use crate::api::extract::{ApiVersion, KvPath, Paging, VaultRequest};
use crate::keys::model::KeyName;

pub async fn delete_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<DeletedKeyBundle>> {
    let deleted = state.keys.delete_key(&ctx.vault, &KeyName::parse(&name)?).await?;
    Ok(Json(DeletedKeyBundle::new(&deleted, &ctx.vault, &ctx.origin, api_version.served)))
}

pub async fn get_deleted_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<DeletedKeyBundle>> {
    let deleted = state.keys.get_deleted_key(&ctx.vault, &KeyName::parse(&name)?).await?;
    Ok(Json(DeletedKeyBundle::new(&deleted, &ctx.vault, &ctx.origin, api_version.served)))
}

pub async fn list_deleted_keys(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    paging: Paging,
) -> ApiResult<Json<DeletedKeyListResult>> {
    let after = paging.skip_token.as_deref().map(|t| decode_skip_token(t).ok_or_else(bad_skip_token)).transpose()?;
    let page = state.keys.list_deleted_keys(&ctx.vault, paging.max_results, after).await?;
    let value =
        page.items.iter().map(|d| DeletedKeyItem::new(d, &ctx.vault, &ctx.origin, api_version.served)).collect();
    let next_link = next_link(&ctx.origin, "/deletedkeys", &api_version, &paging, page.next);
    Ok(Json(DeletedKeyListResult { value, next_link }))
}

pub async fn recover_deleted_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<KeyBundle>> {
    let key = state.keys.recover_deleted_key(&ctx.vault, &KeyName::parse(&name)?).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}

/// 204 with an empty body and no Content-Type, as recorded.
pub async fn purge_deleted_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    KvPath(name): KvPath<String>,
) -> ApiResult<StatusCode> {
    state.keys.purge_deleted_key(&ctx.vault, &KeyName::parse(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
