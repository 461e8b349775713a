//! Handlers for key management: create, get, list, list versions, update.
//! Each: parse → call the keys service → map to wire. Get and update serve the current
//! version (`/keys/{name}`) and a named one (`/keys/{name}/{version}`) alike. Authorization already ran (see `endpoint`).

use axum::Json;
use axum::extract::State;

use super::key_ref::KeyRef;
use super::wire::{
    KeyBundle, KeyCreateParameters, KeyImportParameters, KeyItem, KeyListResult, KeyUpdateParameters, base_id,
    decode_skip_token, encode_skip_token, versioned_id,
};
use crate::api::AppState;
use crate::api::errors::{ApiError, ApiResult};
use crate::api::extract::{ApiVersion, KvJson, KvPath, Paging, VaultRequest};
use crate::keys::model::KeyName;

pub(super) fn bad_skip_token() -> ApiError {
    ApiError::bad_parameter(crate::messages::data_plane::INVALID_SKIP_TOKEN)
}

pub(super) fn next_link(
    origin: &str,
    path: &str,
    version: &ApiVersion,
    paging: &Paging,
    marker: Option<String>,
) -> Option<String> {
    marker.map(|m| {
        format!(
            "{origin}{path}?api-version={}&$skiptoken={}&maxresults={}",
            version.requested,
            encode_skip_token(&m),
            paging.max_results
        )
    })
}

pub async fn create_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvPath(name): KvPath<String>,
    KvJson(body): KvJson<KeyCreateParameters>,
) -> ApiResult<Json<KeyBundle>> {
    let name = KeyName::parse(&name)?;
    body.check_version(api_version.served)?;
    let key = state.keys.create_key(&ctx.vault, &name, body.try_into()?).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}

pub async fn import_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    KvPath(name): KvPath<String>,
    KvJson(body): KvJson<KeyImportParameters>,
) -> ApiResult<Json<KeyBundle>> {
    let name = KeyName::parse(&name)?;
    body.check_version(api_version.served)?;
    let key = state.keys.import_key(&ctx.vault, &name, body.try_into()?).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}

pub async fn get_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    key: KeyRef,
) -> ApiResult<Json<KeyBundle>> {
    let key = state.keys.get_key(&ctx.vault, &key.name, key.version()).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}

pub async fn list_keys(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    paging: Paging,
) -> ApiResult<Json<KeyListResult>> {
    let after = paging.skip_token.as_deref().map(|t| decode_skip_token(t).ok_or_else(bad_skip_token)).transpose()?;
    let page = state.keys.list_keys(&ctx.vault, paging.max_results, after).await?;
    let value =
        page.items.iter().map(|k| KeyItem::new(k, &ctx.vault, base_id(&ctx.origin, k), api_version.served)).collect();
    let next_link = next_link(&ctx.origin, "/keys", &api_version, &paging, page.next);
    Ok(Json(KeyListResult { value, next_link }))
}

pub async fn list_key_versions(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    paging: Paging,
    KvPath(name): KvPath<String>,
) -> ApiResult<Json<KeyListResult>> {
    let name = KeyName::parse(&name)?;
    let after = paging
        .skip_token
        .as_deref()
        .map(|t| decode_skip_token(t).and_then(|m| m.parse::<i64>().ok()).ok_or_else(bad_skip_token))
        .transpose()?;
    let page = state.keys.list_versions(&ctx.vault, &name, paging.max_results, after).await?;
    let value = page
        .items
        .iter()
        .map(|k| KeyItem::new(k, &ctx.vault, versioned_id(&ctx.origin, k), api_version.served))
        .collect();
    let path = format!("/keys/{name}/versions");
    let next_link = next_link(&ctx.origin, &path, &api_version, &paging, page.next.map(|seq| seq.to_string()));
    Ok(Json(KeyListResult { value, next_link }))
}

pub async fn update_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    api_version: ApiVersion,
    key: KeyRef,
    KvJson(body): KvJson<KeyUpdateParameters>,
) -> ApiResult<Json<KeyBundle>> {
    body.check_version(api_version.served)?;
    let key = state.keys.update_key(&ctx.vault, &key.name, key.version(), body.try_into()?).await?;
    Ok(Json(KeyBundle::new(&key, &ctx.vault, &ctx.origin, api_version.served)))
}
