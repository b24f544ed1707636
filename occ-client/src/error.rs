//! What can go wrong, typed.

use std::fmt;

use crate::problem::Problem;
use crate::tagged::Tagged;

/// Why a call failed.
///
/// The variants an application acts on are the refusals: a conflict with
/// the current state (412), a precondition required (428), a missing
/// resource (404). Any other refusal keeps its problem details.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<M> {
    /// 412: the resource is not in the state the write was based on, after
    /// every attempt the policy allows (an update), at once when the
    /// members a patch sets changed, or because it exists already (a
    /// create-once). Carries the current state when the server sent it.
    PreconditionFailed(Box<Conflict<M>>),
    /// 428: the server requires a precondition this request did not carry.
    PreconditionRequired(Box<Problem>),
    /// 404: no such resource (or none the caller may see).
    NotFound(Box<Problem>),
    /// Any other refusal, 4xx or 5xx, with its problem details.
    Refused(Box<Problem>),
    /// A write whose outcome is unknown: every send went unanswered, or
    /// was answered without an outcome (a 5xx, a "still running" 409),
    /// until the policy's sends ran out. It may have been applied: read
    /// the resource to find out, or send it again under the same `key`
    /// (the server keeps keys for a day by default); a new request could
    /// apply it twice.
    Unconfirmed {
        /// The write's `Idempotency-Key`, as sent (an sf-string).
        key: String,
        /// The last answer without an outcome, if one came.
        problem: Option<Box<Problem>>,
        /// The last send's error, if no answer came.
        source: Option<reqwest::Error>,
    },
    /// A read without an answer: every send timed out or lost its
    /// connection (or a request that could not be built, with 0 sends).
    Transport {
        /// How many times the request was sent.
        sends: u32,
        /// The last send's error.
        source: reqwest::Error,
    },
    /// A body that is not the model's JSON (or a model that does not
    /// serialize).
    Representation(serde_json::Error),
    /// An answer that lacks what the protocol requires, such as a 200
    /// without `ETag`.
    Protocol(String),
}

/// What a 412 said.
#[derive(Debug)]
#[non_exhaustive]
pub struct Conflict<M> {
    /// The refusal's problem details.
    pub problem: Problem,
    /// The resource's current state, when the server sent it.
    pub current: Option<Tagged<M>>,
    /// The members that changed since the state the write was based on:
    /// the server's `conflicts`, or those a patch sets that the client
    /// found changed in `current`.
    pub conflicts: Vec<String>,
    /// The attempts made.
    pub attempts: u32,
}

impl<M> Error<M> {
    /// The problem details of a refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::PreconditionFailed(conflict) => Some(&conflict.problem),
            Self::PreconditionRequired(problem)
            | Self::NotFound(problem)
            | Self::Refused(problem) => Some(problem),
            Self::Unconfirmed { problem, .. } => problem.as_deref(),
            Self::Transport { .. } | Self::Representation(_) | Self::Protocol(_) => None,
        }
    }

    /// The current state a 412 carried.
    pub fn current(&self) -> Option<&Tagged<M>> {
        match self {
            Self::PreconditionFailed(conflict) => conflict.current.as_ref(),
            _ => None,
        }
    }
}

impl<M> fmt::Display for Error<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PreconditionFailed(conflict) => {
                write!(f, "{}", conflict.problem)?;
                if !conflict.conflicts.is_empty() {
                    write!(f, " (changed: {})", conflict.conflicts.join(", "))?;
                }
                if conflict.attempts > 1 {
                    write!(f, " after {} attempts", conflict.attempts)?;
                }
                Ok(())
            }
            Self::PreconditionRequired(problem)
            | Self::NotFound(problem)
            | Self::Refused(problem) => write!(f, "{problem}"),
            Self::Unconfirmed {
                key,
                problem,
                source,
            } => {
                write!(
                    f,
                    "the write under key {key} may or may not have been applied"
                )?;
                match (problem, source) {
                    (Some(problem), _) => write!(f, ": the last answer was {problem}"),
                    (None, Some(source)) => write!(f, ": {source}"),
                    (None, None) => Ok(()),
                }
            }
            Self::Transport { sends, source } => {
                write!(f, "no answer after {sends} sends: {source}")
            }
            Self::Representation(e) => write!(f, "not the model's representation: {e}"),
            Self::Protocol(what) => f.write_str(what),
        }
    }
}

impl<M: fmt::Debug> std::error::Error for Error<M> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport { source, .. }
            | Self::Unconfirmed {
                source: Some(source),
                ..
            } => Some(source),
            Self::Representation(e) => Some(e),
            _ => None,
        }
    }
}

impl<M> From<serde_json::Error> for Error<M> {
    fn from(e: serde_json::Error) -> Self {
        Self::Representation(e)
    }
}
