//! Extractors for precondition headers.

mod conditional;
mod dates;
mod if_match;
mod if_none_match;
mod preconditions;

pub use conditional::Conditional;
pub use dates::{IfModifiedSince, IfUnmodifiedSince};
pub use if_match::{IfMatch, IfMatchRejection};
pub use if_none_match::IfNoneMatch;
pub use preconditions::Preconditions;
