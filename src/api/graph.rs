//! The Microsoft Graph subset `az` and the management SDKs use to turn names into object ids and
//! back: `GET /v1.0/me`, `GET /v1.0/servicePrincipals` (with the `$filter` forms of
//! `management::graph_directory`), `GET /v1.0/servicePrincipals/{id}` and
//! `POST /v1.0/directoryObjects/getByIds`. The directory is the emulator's own identities.
//!
//! Authentication: tokens of the emulator's issuer for Graph (`https://graph.microsoft.com/`, or
//! the emulator's own URL, which is the Graph resource `az` registers from `/metadata/endpoints`).
//! Every authenticated identity of the tenant may read the directory; on Azure an application
//! also needs a Graph permission such as `Application.Read.All`. Errors are Graph's own body,
//! `{"error":{"code","message","innerError"}}`.
//!
//! Audit: each route names its [`GraphOperation`]; an authenticated request becomes one audit
//! record (plane `graph`, rule `anyCaller`) with the status it got. A request refused by
//! `authenticate` (401) reaches no decision and is not recorded, as on the other planes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::extract::Origin;
use super::routes::Routes;
use crate::audit::{AuditLog, Exchange, PendingAudit, Subject};
use crate::auth::Principal;
use crate::auth::table::GraphOperation;
use crate::management::graph_directory::{self, DirectoryError, ServicePrincipal, ServicePrincipalQuery};

pub fn router(state: AppState) -> Routes {
    Routes::new()
        .route("/v1.0/me", endpoint(get(get_signed_in_user), GraphOperation::GetSignedInUser))
        .route("/v1.0/servicePrincipals", endpoint(get(list_service_principals), GraphOperation::ListServicePrincipals))
        .route(
            "/v1.0/servicePrincipals/{id}",
            endpoint(get(get_service_principal), GraphOperation::GetServicePrincipal),
        )
        .route("/v1.0/directoryObjects/getByIds", endpoint(post(get_by_ids), GraphOperation::GetDirectoryObjectsByIds))
        .map_router(|router| router.layer(middleware::from_fn_with_state(state, authenticate)))
}

/// A Graph endpoint: its authenticated requests are audited as `operation`.
fn endpoint(method: MethodRouter<AppState>, operation: GraphOperation) -> MethodRouter<AppState> {
    method.route_layer(middleware::from_fn(move |req: Request, next: Next| audited(operation, req, next)))
}

/// Runs the handler and leaves the request's audit record on the response, for `observe` to
/// complete and submit. Built only when `authenticate` passed the audit log along, that is
/// when the log is on.
async fn audited(operation: GraphOperation, req: Request, next: Next) -> Response {
    let pending = req.extensions().get::<std::sync::Arc<AuditLog>>().zip(req.extensions().get::<Principal>()).map(
        |(audit, principal)| {
            let (emulator_ms, wall_ms) = audit.now_ms();
            PendingAudit {
                emulator_ms,
                wall_ms,
                principal: principal.clone(),
                subject: Subject::Graph { operation },
                exchange: Exchange::default(),
            }
        },
    );
    let mut response = next.run(req).await;
    if let Some(pending) = pending {
        response.extensions_mut().insert(pending);
    }
    response
}

/// Everything the Graph subset answers besides success, each with Graph's status and code.
#[derive(Debug)]
pub enum GraphError {
    MissingToken,
    InvalidToken(String),
    /// `/me` with an application token: there is no signed-in user (every emulator token is an
    /// application's, as managed identities' and service principals' are on Entra).
    MeNeedsDelegatedToken,
    NotFound(String),
    Directory(DirectoryError),
    BadBody(String),
}

impl GraphError {
    fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MeNeedsDelegatedToken | Self::Directory(_) | Self::BadBody(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => "InvalidAuthenticationToken",
            Self::NotFound(_) => "Request_ResourceNotFound",
            Self::MeNeedsDelegatedToken | Self::BadBody(_) => "BadRequest",
            Self::Directory(err) => match err {
                DirectoryError::UnsupportedFilter(_) => "Request_UnsupportedQuery",
                DirectoryError::InvalidFilter(_)
                | DirectoryError::InvalidTop(_)
                | DirectoryError::InvalidSkipToken(_) => "BadRequest",
                DirectoryError::InvalidObjectId(_) | DirectoryError::TooManyIds | DirectoryError::UnknownType(_) => {
                    "Request_BadRequest"
                }
            },
        }
    }

    fn message(&self) -> String {
        match self {
            Self::MissingToken => crate::messages::graph::ACCESS_TOKEN_EMPTY.to_owned(),
            Self::InvalidToken(reason) => crate::messages::graph::access_token_invalid(reason),
            Self::MeNeedsDelegatedToken => crate::messages::graph::ME_NEEDS_DELEGATED_TOKEN.to_owned(),
            Self::NotFound(id) => crate::messages::graph::resource_not_found(id),
            Self::Directory(err) => err.to_string(),
            Self::BadBody(reason) => reason.clone(),
        }
    }
}

impl From<DirectoryError> for GraphError {
    fn from(err: DirectoryError) -> Self {
        Self::Directory(err)
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let date = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let body = json!({"error": {
            "code": self.code(),
            "message": self.message(),
            "innerError": {"date": date, "request-id": Uuid::new_v4()},
        }});
        let mut response = (self.status(), Json(body)).into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            let challenge = r#"Bearer realm="", client_id="00000003-0000-0000-c000-000000000000""#;
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

type GraphResult<T> = Result<T, GraphError>;

/// A Graph token of the emulator's tenant, or Graph's 401; the caller rides along as an extension.
async fn authenticate(State(state): State<AppState>, Origin(origin): Origin, mut req: Request, next: Next) -> Response {
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.validator.validate_graph_header(value, state.facts.tenant_id, &origin) {
        Ok(principal) => principal,
        Err(_) if value.is_none() => return GraphError::MissingToken.into_response(),
        Err(err) => return GraphError::InvalidToken(err.to_string()).into_response(),
    };
    req.extensions_mut().insert(principal);
    if state.audit.enabled() {
        req.extensions_mut().insert(state.audit.clone());
    }
    next.run(req).await
}

async fn get_signed_in_user() -> GraphError {
    GraphError::MeNeedsDelegatedToken
}

fn directory(state: &AppState, principal: &Principal) -> Vec<ServicePrincipal> {
    graph_directory::service_principals(&state.identities.all(), principal.tenant_id)
}

fn service_principal_body(principal: &ServicePrincipal) -> Value {
    let mut body = json!({
        "id": principal.id,
        "deletedDateTime": null,
        "accountEnabled": true,
        "appId": principal.app_id,
        "appDisplayName": principal.display_name,
        "displayName": principal.display_name,
        "appOwnerOrganizationId": principal.tenant_id,
        "servicePrincipalType": principal.principal_type.as_str(),
        "servicePrincipalNames": principal.service_principal_names,
        "alternativeNames": principal.alternative_names,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "appRoles": [],
        "oauth2PermissionScopes": [],
        "keyCredentials": [],
        "passwordCredentials": [],
        "replyUrls": [],
    });
    if principal.principal_type == graph_directory::ServicePrincipalType::ManagedIdentity {
        body["appOwnerOrganizationId"] = Value::Null;
    }
    body
}

/// `$filter`, `$top` and `$skiptoken` of a query string; other options (`$select`, ...) change
/// nothing here.
fn query_options(query: Option<&str>) -> [Option<String>; 3] {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or("")).unwrap_or_default();
    ["$filter", "$top", "$skiptoken"].map(|name| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
}

async fn list_service_principals(
    State(state): State<AppState>,
    Origin(origin): Origin,
    axum::Extension(principal): axum::Extension<Principal>,
    RawQuery(query): RawQuery,
) -> GraphResult<Json<Value>> {
    let [filter, top, skip] = query_options(query.as_deref());
    let query = ServicePrincipalQuery::parse(filter.as_deref(), top.as_deref(), skip.as_deref())?;
    let (page, next) = query.page(directory(&state, &principal));
    let mut body = json!({
        "@odata.context": format!("{origin}/v1.0/$metadata#servicePrincipals"),
        "value": page.iter().map(service_principal_body).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(filter) = &filter {
            params.push(("$filter", filter.clone()));
        }
        if let Some(top) = query.top() {
            params.push(("$top", top.to_string()));
        }
        params.push(("$skiptoken", next.to_string()));
        let encoded = serde_urlencoded::to_string(&params).unwrap_or_default();
        body["@odata.nextLink"] = json!(format!("{origin}/v1.0/servicePrincipals?{encoded}"));
    }
    Ok(Json(body))
}

async fn get_service_principal(
    State(state): State<AppState>,
    Origin(origin): Origin,
    axum::Extension(principal): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> GraphResult<Json<Value>> {
    let object_id = Uuid::parse_str(&id).map_err(|_| DirectoryError::InvalidObjectId(id.clone()))?;
    let found =
        directory(&state, &principal).into_iter().find(|p| p.id == object_id).ok_or(GraphError::NotFound(id))?;
    let mut body = service_principal_body(&found);
    body["@odata.context"] = json!(format!("{origin}/v1.0/$metadata#servicePrincipals/$entity"));
    Ok(Json(body))
}

#[derive(Deserialize)]
struct GetByIds {
    ids: Vec<String>,
    #[serde(default)]
    types: Vec<String>,
}

async fn get_by_ids(
    State(state): State<AppState>,
    Origin(origin): Origin,
    axum::Extension(principal): axum::Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult<Json<Value>> {
    // A JSON content type, as Graph requires; it also keeps a web page from sending this
    // without a CORS preflight.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(GraphError::BadBody("The request body must be JSON (Content-Type: application/json).".into()));
    }
    let request: GetByIds = serde_json::from_slice(&body)
        .map_err(|e| GraphError::BadBody(crate::messages::graph::invalid_get_by_ids_body(e)))?;
    let found = graph_directory::by_ids(&directory(&state, &principal), &request.ids, &request.types)?;
    let value: Vec<Value> = found
        .iter()
        .map(|p| {
            let mut body = service_principal_body(p);
            body["@odata.type"] = json!("#microsoft.graph.servicePrincipal");
            body
        })
        .collect();
    Ok(Json(json!({"@odata.context": format!("{origin}/v1.0/$metadata#directoryObjects"), "value": value})))
}
