//! Row-level scope: a column every statement of a request carries.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use super::error::RepositoryError;
use crate::scope_value::ScopeValue;
use crate::versioned::Versioned;

/// A row-level scope: a tenant or owner column that must equal a value the
/// request supplies (put in the request's extensions by the layer that
/// authenticated it). Every statement of a scoped repository carries it
/// (get, list, update, delete, and the read that explains a miss), so a
/// row outside the scope does not exist for the request, and none of its
/// state (not even its ETag) is ever read.
///
/// Declare the column on the model with `#[occ(scope)]` (design decision
/// 20): rows are then keyed by (scope, id), tombstones included, the field
/// is filled from the scope on every write whatever a client sent, values
/// compare byte for byte, and the model's repositories refuse every
/// operation without a scope:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use occ_core::repository::{MemoryRepository, Repository, Scope};
/// use occ_core::Versioned;
///
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, Versioned)]
/// struct Note {
///     id: u64,
///     #[version]
///     version: u64,
///     #[occ(scope)]
///     #[serde(skip)]
///     tenant_id: String,
///     text: String,
/// }
///
/// let notes = MemoryRepository::<Note>::new();
/// let acme = notes.scoped(&Scope::new("tenant_id", "acme")).unwrap();
/// let beta = notes.scoped(&Scope::new("tenant_id", "beta")).unwrap();
/// // Whatever the client sent, the row is the caller's.
/// let note = Note { id: 1, version: 1, tenant_id: "beta".into(), text: "hi".into() };
/// assert_eq!(acme.create(note.clone()).await.unwrap().tenant_id, "acme");
/// // The same id in another tenant is another resource.
/// assert_eq!(beta.create(note).await.unwrap().tenant_id, "beta");
/// // Without a scope, nothing.
/// assert!(notes.get(&1).await.is_err());
/// # });
/// ```
///
/// A scope on a model that declares none is read through the model's JSON
/// member of the column's name, and a write that would put a row outside
/// it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    column: Cow<'static, str>,
    value: ScopeValue,
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
}

/// The value of a declared scope (`#[occ(scope)]` on `M`'s field in
/// `column`) for a request's `scope`, as the field holds it: refused when
/// the scope names another column (a misconfigured layer) or a value the
/// field cannot hold.
pub(crate) fn declared_value<M: Versioned>(
    column: &str,
    scope: &Scope,
) -> Result<ScopeValue, RepositoryError<M>> {
    if scope.column() != column {
        return Err(RepositoryError::internal(format!(
            "the request's scope is on column `{}`, but the model declares its scope on `{column}`: the layer that sets the `Scope` must name `{column}`",
            scope.column()
        )));
    }
    M::canonical_scope_value(scope.value()).ok_or_else(|| {
        RepositoryError::Invalid(format!(
            "the caller's scope `{}` is not a valid value of `{column}`",
            scope.value()
        ))
    })
}

/// The refusal of an operation without a scope on a model that declares
/// one.
pub(crate) fn missing_scope<M>(column: &str) -> RepositoryError<M> {
    RepositoryError::internal(format!(
        "the model is scoped by `{column}` (`#[occ(scope)]`), and this request carries no `Scope`: add the layer that puts the caller's `Scope` in the request's extensions"
    ))
}

/// Scoping a view again: the same scope is the same view; any other is
/// refused, so that a view never widens (nor silently narrows to another
/// tenant).
pub(crate) fn same_scope<M>(current: &Scope, asked: &Scope) -> Result<(), RepositoryError<M>> {
    if current.column() == asked.column() && current.value() == asked.value() {
        Ok(())
    } else {
        Err(RepositoryError::internal(format!(
            "a view scoped to `{} = {}` cannot be scoped again to `{} = {}`",
            current.column(),
            current.value(),
            asked.column(),
            asked.value()
        )))
    }
}

/// A type that can hold a row-level scope's value: the type of a field
/// declared `#[occ(scope)]`. Implemented for `String`, the integers up to
/// `i64` and `u32`, and `uuid::Uuid` (feature `uuid`, compared in its
/// lowercase hyphenated form).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a row-level scope",
    label = "an `#[occ(scope)]` field must be a `String`, an integer or a `uuid::Uuid`",
    note = "a scope value is text or an integer; implement `occ_core::repository::ScopeField` for other types"
)]
pub trait ScopeField: Sized {
    /// The field's value as a scope value.
    fn to_scope_value(&self) -> ScopeValue;
    /// The field's value for a scope value, or `None` when it does not fit
    /// (the caller's scope then holds no row of this model).
    fn from_scope_value(value: &ScopeValue) -> Option<Self>;
}

impl ScopeField for String {
    fn to_scope_value(&self) -> ScopeValue {
        ScopeValue::Text(self.clone())
    }

    fn from_scope_value(value: &ScopeValue) -> Option<Self> {
        match value {
            ScopeValue::Text(text) => Some(text.clone()),
            ScopeValue::Int(_) => None,
        }
    }
}

macro_rules! int_scope_field {
    ($($t:ty),*) => {$(
        impl ScopeField for $t {
            fn to_scope_value(&self) -> ScopeValue {
                ScopeValue::Int(i64::from(*self))
            }

            fn from_scope_value(value: &ScopeValue) -> Option<Self> {
                match value {
                    ScopeValue::Int(i) => <$t>::try_from(*i).ok(),
                    ScopeValue::Text(_) => None,
                }
            }
        }
    )*};
}

int_scope_field!(i8, i16, i32, i64, u8, u16, u32);

#[cfg(feature = "uuid")]
#[cfg_attr(docsrs, doc(cfg(feature = "uuid")))]
impl ScopeField for uuid::Uuid {
    fn to_scope_value(&self) -> ScopeValue {
        ScopeValue::Text(self.hyphenated().to_string())
    }

    fn from_scope_value(value: &ScopeValue) -> Option<Self> {
        match value {
            ScopeValue::Text(text) => uuid::Uuid::try_parse(text).ok(),
            ScopeValue::Int(_) => None,
        }
    }
}
