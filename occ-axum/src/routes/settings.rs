//! What a set of generated routes is configured with: the plain
//! [`Settings`] (which the OpenAPI description reads too) and the
//! repository and hooks beside them, as the routes' state.

use std::sync::Arc;

use http::StatusCode;
use occ_core::Policy;

use crate::problem::Problem;
use crate::refusal::Creation;

/// How PUT treats its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PutMode {
    /// The body is the whole new representation (RFC 9110 §9.3.4).
    #[default]
    Replace,
    /// The body holds the members to change, merged into the current
    /// representation as a JSON merge patch would be (the reference
    /// scenario: `PUT {"city":"Lyon"}` keeps the name).
    Merge,
}

/// The plain settings of a set of routes: what the handlers and the
/// OpenAPI description both depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) policy: Policy,
    pub(crate) put_mode: PutMode,
    pub(crate) creating_put: bool,
    pub(crate) body_limit: usize,
    pub(crate) page_limit: u32,
    pub(crate) require_scope: bool,
    pub(crate) current_in_412: bool,
    pub(crate) merging: bool,
    pub(crate) etag_member: Option<&'static str>,
    /// Whether the repository keeps idempotency keys (read once: the
    /// description and the routes agree).
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    pub(crate) keeps_keys: bool,
}

/// A check of a new state (`ConditionalRoutes::validate`).
pub(crate) type Validate<M> = Arc<dyn Fn(&M) -> Result<(), String> + Send + Sync>;

/// A change to a new state (`ConditionalRoutes::before_write`).
pub(crate) type BeforeWrite<M> = Arc<dyn Fn(&mut M) + Send + Sync>;

/// A check of a new state against the one it replaces
/// (`ConditionalRoutes::validate_transition`).
pub(crate) type Transition<M> = Arc<dyn Fn(Option<&M>, &M) -> Result<(), String> + Send + Sync>;

/// The state of the generated routes: the repository, the settings and
/// the hooks, shared behind one `Arc` (a request's state costs one count).
pub(crate) struct Config<M, R: ?Sized> {
    pub(crate) repo: Arc<R>,
    pub(crate) settings: Settings,
    pub(crate) validate: Option<Validate<M>>,
    pub(crate) before_write: Option<BeforeWrite<M>>,
    pub(crate) transition: Option<Transition<M>>,
}

impl<M, R: ?Sized> Config<M, R> {
    pub(crate) fn has_hooks(&self) -> bool {
        self.validate.is_some() || self.before_write.is_some() || self.transition.is_some()
    }

    /// Runs the hooks on a new state, replacing `current` (`None`: a
    /// create): `before_write` first, so that `validate` and
    /// `validate_transition` check what will be written. A refusal is the
    /// body's fault (422), reported after the preconditions (EV-1).
    pub(crate) fn prepare(&self, current: Option<&M>, model: &mut M) -> Result<(), Problem> {
        if let Some(fill) = &self.before_write {
            fill(model);
        }
        let refused = |why| Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(why);
        if let Some(check) = &self.validate {
            check(model).map_err(refused)?;
        }
        match &self.transition {
            Some(check) => check(current, model).map_err(refused),
            None => Ok(()),
        }
    }

    /// Whether a PUT on these routes could create (what a 428 suggests).
    pub(crate) fn put_creation(&self) -> Creation {
        if self.settings.creating_put {
            Creation::Possible
        } else {
            Creation::Never
        }
    }
}
