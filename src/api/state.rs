//! What every handler reaches: the shared services ([`Services`] behind [`AppState`]) and the
//! facts about this running emulator ([`RuntimeFacts`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

use crate::auth::identity::Identities;
use crate::auth::issuer::{LazySigner, TokenIssuer};
use crate::auth::validate::TokenValidator;
use crate::clock::Clock;
use crate::keys::KeyService;
use crate::vaults::VaultRegistry;

/// Facts about this running emulator, fixed at start (its domain, tenant, CA, owners, the
/// dashboard token), and whether it has finished starting.
#[derive(Debug)]
pub struct RuntimeFacts {
    /// Object ids allowed to use the management API besides the default admin.
    pub owners: Vec<Uuid>,
    pub domain: String,
    pub tenant_id: Uuid,
    pub ca_pem: String,
    pub ready: AtomicBool,
    /// The per-start token the dashboard page carries; a browser's write to `/_emulator` needs it.
    pub dashboard_token: String,
}

impl RuntimeFacts {
    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// What every handler reaches: cloned per request (axum hands each one its own), so it is one
/// reference count, not a dozen.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl From<Services> for AppState {
    fn from(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub clock: Clock,
    pub keys: KeyService,
    pub vaults: VaultRegistry,
    /// Purges and rotations the clock made due; a clock move runs it at once.
    pub due_work: crate::due_work::DueWorkScheduler,
    pub identities: Identities,
    pub issuer: TokenIssuer,
    /// The attestation authority's own key (secure key release).
    pub attestation: Arc<LazySigner>,
    /// The workload-identity issuer's own key: it signs federated assertions.
    pub federation: Arc<LazySigner>,
    pub validator: TokenValidator,
    pub facts: Arc<RuntimeFacts>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub faults: Arc<crate::faults::Faults>,
    /// How strictly `api-version` is checked (`--lenient-api-version`).
    pub api_versions: Arc<crate::api_version::Policy>,
    pub audit: Arc<crate::audit::AuditLog>,
}
