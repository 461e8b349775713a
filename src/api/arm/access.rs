//! Who may call the management API. `authenticate` (on the whole router) validates the bearer
//! token and works out the caller's roles; `requires(operation)` (on each route, where it is
//! registered) lets the request through only if the authorization table's row for the
//! operation allows this caller at the scope the path names.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ArmError;
use crate::api::AppState;
use crate::audit::{ManagementDecision, PendingAudit, Subject};
use crate::auth::Principal;
use crate::auth::identity::DEFAULT_ADMIN;
use crate::auth::rbac::{ScopedRole, granting_role};
use crate::auth::table::{ManagementAccess, ManagementOperation};

/// The authenticated caller of a management request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    /// The default admin and the config file's owners may do everything, as a subscription
    /// Owner may.
    pub owner: bool,
    pub roles: Vec<ScopedRole>,
}

impl Caller {
    /// Whether the caller may see anything in the emulator's subscription.
    #[must_use]
    pub fn has_any_role(&self) -> bool {
        self.owner || !self.roles.is_empty()
    }
}

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let tenant = state.facts.tenant_id;
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.validator.validate_management_header(value, tenant) {
        Ok(principal) => principal,
        Err(err) => {
            let (code, message) = match value {
                None => ("AuthenticationFailed", crate::messages::management::AUTHORIZATION_HEADER_MISSING.to_owned()),
                Some(_) => ("InvalidAuthenticationToken", crate::messages::management::invalid_access_token(&err)),
            };
            return ArmError::Unauthenticated { code, message, tenant }.into_response();
        }
    };
    let owner = state.identities.by_name(DEFAULT_ADMIN).is_some_and(|admin| admin.object_id == principal.object_id)
        || state.facts.owners.contains(&principal.object_id);
    let roles = crate::management::role_assignments::roles_of(&state.vaults, principal.object_id);
    req.extensions_mut().insert(Caller { principal, owner, roles });
    if state.audit.enabled() {
        req.extensions_mut().insert(state.audit.clone());
    }
    next.run(req).await
}

/// The layer a route declares its operation with: `get(handler.layer(requires(ReadVault)))`.
#[must_use]
pub fn requires(operation: ManagementOperation) -> Requires {
    Requires(operation)
}

#[derive(Clone, Copy, Debug)]
pub struct Requires(ManagementOperation);

impl<S> tower::Layer<S> for Requires {
    type Service = RequiresService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequiresService { operation: self.0, inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequiresService<S> {
    operation: ManagementOperation,
    inner: S,
}

impl<S> tower::Service<Request> for RequiresService<S>
where
    S: tower::Service<Request, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (refusal, decision) = decide(self.operation, &req);
        let pending = audit_record(self.operation, &req, decision);
        // The clone that was made ready is the one that runs (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = match refusal {
                Some(refused) => refused.into_response(),
                None => inner.call(req).await?.into_response(),
            };
            if let Some(pending) = pending {
                response.extensions_mut().insert(pending);
            }
            Ok(response)
        })
    }
}

/// Why the caller may not run `operation` on the request's path, if it may not, and what
/// decided (`None` when the request never reached a decision).
fn decide(operation: ManagementOperation, req: &Request) -> (Option<ArmError>, Option<ManagementDecision>) {
    let Some(caller) = req.extensions().get::<Caller>() else {
        // Only reachable if a route were registered outside the authenticated router.
        tracing::error!(?operation, "management route without authentication");
        return (Some(ArmError::Internal), None);
    };
    let ManagementAccess::Action(action) = operation.access() else {
        return (None, Some(ManagementDecision::AnyCaller));
    };
    if caller.owner {
        return (None, Some(ManagementDecision::Owner));
    }
    let scope = req.uri().path().to_ascii_lowercase();
    match granting_role(&caller.roles, action, &scope) {
        Some(role) => (None, Some(ManagementDecision::Role(role.clone()))),
        None => (
            Some(ArmError::AuthorizationFailed {
                app_id: caller.principal.app_id,
                object_id: caller.principal.object_id,
                action,
                scope: req.uri().path().to_owned(),
            }),
            Some(ManagementDecision::Denied),
        ),
    }
}

/// The audit record of a decided management request, when the audit log is on.
fn audit_record(
    operation: ManagementOperation,
    req: &Request,
    decision: Option<ManagementDecision>,
) -> Option<PendingAudit> {
    let audit = req.extensions().get::<std::sync::Arc<crate::audit::AuditLog>>()?;
    let caller = req.extensions().get::<Caller>()?;
    let (emulator_ms, wall_ms) = audit.now_ms();
    Some(PendingAudit {
        emulator_ms,
        wall_ms,
        principal: caller.principal.clone(),
        subject: Subject::Management {
            operation,
            scope: req.uri().path().to_owned(),
            action: match operation.access() {
                ManagementAccess::Action(action) => Some(action),
                ManagementAccess::AnyCaller => None,
            },
            decision: decision?,
        },
        exchange: crate::audit::Exchange::default(),
    })
}
