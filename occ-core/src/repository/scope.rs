//! Row-level scope: a column every statement of a request carries.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// A row-level scope: a tenant or owner column that must equal a value the
/// request supplies (from an axum extractor or a layer that authenticated
/// it). Every statement of a scoped repository carries it (get, list,
/// update, delete, and the read that explains a miss), so a row outside
/// the scope does not exist for the request: 404 for every method, never
/// 412, and none of its state (not even its ETag) is ever read.
///
/// The column's member in the JSON representation has the same name; a
/// write that would put a row outside the scope is refused, so a row
/// cannot be moved to another tenant either.
///
/// ```
/// use occ_core::repository::Scope;
///
/// let scope = Scope::new("tenant_id", 7);
/// assert_eq!(scope.column(), "tenant_id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    column: Cow<'static, str>,
    value: ScopeValue,
}

/// The value of a [`Scope`]'s column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeValue {
    /// An integer column (`BIGINT`).
    Int(i64),
    /// A text column (UUIDs included, in their hyphenated form).
    Text(String),
}

impl Scope {
    /// The scope `column = value`.
    pub fn new(column: impl Into<Cow<'static, str>>, value: impl Into<ScopeValue>) -> Self {
        Self {
            column: column.into(),
            value: value.into(),
        }
    }

    /// The column (and JSON member).
    pub fn column(&self) -> &str {
        &self.column
    }

    /// The value.
    pub fn value(&self) -> &ScopeValue {
        &self.value
    }

    /// Whether a JSON value is this scope's value.
    pub fn matches_json(&self, value: &Value) -> bool {
        match (&self.value, value) {
            (ScopeValue::Int(i), Value::Number(n)) => n.as_i64() == Some(*i),
            (ScopeValue::Text(s), Value::String(t)) => s == t,
            _ => false,
        }
    }

    /// Whether `model`'s member of the scope's name holds the scope's
    /// value (read through its JSON representation).
    pub fn contains<M: Serialize>(&self, model: &M) -> bool {
        serde_json::to_value(model)
            .ok()
            .as_ref()
            .and_then(|v| v.get(self.column()))
            .is_some_and(|v| self.matches_json(v))
    }

    /// Whether a merge patch keeps the scope: it does not set the scope's
    /// member, or sets it to the scope's value.
    pub fn allows_patch(&self, patch: &Value) -> bool {
        patch
            .get(self.column())
            .is_none_or(|v| self.matches_json(v))
    }
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
