//! Extractors for precondition headers.

mod conditional;
pub(crate) mod conditional_request;
mod dates;
mod if_match;
mod if_none_match;

pub use conditional::Conditional;
pub use conditional_request::ConditionalRequest;
pub use dates::{IfModifiedSince, IfUnmodifiedSince};
pub use if_match::{IfMatch, IfMatchRejection};
pub use if_none_match::IfNoneMatch;
