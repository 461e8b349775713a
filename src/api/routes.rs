//! A router that remembers its path templates, so the served routes can be compared with the
//! OpenAPI document (tests/api/openapi.rs) without parsing source code.

use axum::Router;
use axum::routing::MethodRouter;

use super::AppState;

pub struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    #[must_use]
    pub fn new() -> Self {
        Self { router: Router::new(), paths: Vec::new() }
    }

    #[must_use]
    pub fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path.to_owned());
        self
    }

    #[must_use]
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// Applies `wrap` (a layer, usually) to the router; the paths stay as they are.
    #[must_use]
    pub fn map_router(mut self, wrap: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = wrap(self.router);
        self
    }

    /// The path templates, in the order they were added.
    #[must_use]
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
