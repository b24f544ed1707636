//! The value of a row-level scope's column, apart from the scope itself so
//! that a model can name it without depending on repositories.

use std::fmt;

/// The value of a [`Scope`](crate::repository::Scope)'s column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeValue {
    /// An integer column (`BIGINT`).
    Int(i64),
    /// A text column (UUIDs included, in their hyphenated form).
    Text(String),
}

impl fmt::Display for ScopeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

macro_rules! int_scope {
    ($($t:ty),*) => {$(
        impl From<$t> for ScopeValue {
            fn from(value: $t) -> Self {
                Self::Int(i64::from(value))
            }
        }
    )*};
}

int_scope!(i8, i16, i32, i64, u8, u16, u32);

impl From<String> for ScopeValue {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&str> for ScopeValue {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}
