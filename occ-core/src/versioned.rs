//! The [`Versioned`] trait: what makes a type a conditional resource.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use crate::entity_tag::{is_etagc, EntityTag, EntityTagRef};
use crate::scope_value::ScopeValue;

/// A resource with a version that changes on every write.
///
/// Usually derived: `#[derive(Versioned)]` with a `#[version]` integer field
/// and an id (a field named `id`, or one marked `#[occ(id)]`). The derived
/// [`entity_tag`](Versioned::entity_tag) binds identity and version
/// (design decision 7, docs/design.md), so a tag of one resource never validates a write to
/// another.
///
/// ```
/// use occ_core::Versioned;
///
/// #[derive(Versioned)]
/// #[occ(etag = "prof-{id}-v{version}")]
/// struct Profile {
///     id: u64,
///     #[version]
///     version: u32,
///     name: String,
/// }
///
/// let p = Profile { id: 42, version: 7, name: "Ava".into() };
/// assert_eq!(p.entity_tag().to_string(), "\"prof-42-v7\"");
/// assert_eq!(p.next_version(), Some(8));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a versioned resource",
    label = "`{Self}` does not implement `Versioned`",
    note = "add `#[derive(occ_core::Versioned)]` to `{Self}` and mark its version field with `#[version]`"
)]
pub trait Versioned {
    /// The type of the resource's identifier. Equal ids name one
    /// resource; requests carry ids across tasks.
    type Id: PartialEq + Send + Sync;
    /// The type of the version counter: an integer.
    type Version: VersionNumber;

    /// Whether the type has a modification time ([`last_modified`]).
    /// When it has none, `If-Modified-Since` and `If-Unmodified-Since` are
    /// ignored (IMS-3, IUS-3) and do not make a write conditional.
    ///
    /// [`last_modified`]: Versioned::last_modified
    const HAS_LAST_MODIFIED: bool = false;

    /// The resource's identifier.
    fn id(&self) -> &Self::Id;

    /// The current version.
    fn version(&self) -> Self::Version;

    /// Replaces the version; repositories call it after a successful write.
    fn set_version(&mut self, version: Self::Version);

    /// The entity tag of resource `id` at `version`.
    ///
    /// It depends on nothing else, so a store can tell which version a
    /// client's tag names without reading the resource
    /// ([`version_from_tag`](Versioned::version_from_tag)), and it must be
    /// injective: distinct `(id, version)` pairs give distinct tags. The
    /// derive builds it from the `#[occ(etag = "…")]` template, whose only
    /// placeholders are the id and version fields.
    fn entity_tag_for(id: &Self::Id, version: Self::Version) -> EntityTag;

    /// The entity tag of the current representation.
    fn entity_tag(&self) -> EntityTag {
        Self::entity_tag_for(self.id(), self.version())
    }

    /// The version that `tag` names for resource `id`, if it is one of this
    /// resource's tags: `None` for another resource's tag, a weak tag when
    /// the model's are strong (IM-1 compares strongly), or garbage.
    ///
    /// The default tries each run of decimal digits in the tag, from the
    /// right, and keeps the candidate whose
    /// [`entity_tag_for`](Versioned::entity_tag_for) is exactly `tag`, so it
    /// is correct for any injective tag format that prints the version in
    /// decimal. The derive overrides it for a template that ends with the
    /// version: the template before it is compared, and the rest of the
    /// tag read as the version, which must be written exactly as
    /// `entity_tag_for` would write it.
    fn version_from_tag(id: &Self::Id, tag: EntityTagRef<'_>) -> Option<Self::Version> {
        version_in_tag(tag, |v| Self::is_tag_of(id, v, tag))
    }

    /// Whether `tag` is exactly [`entity_tag_for(id, version)`](Versioned::entity_tag_for),
    /// weakness included: how [`version_from_tag`](Versioned::version_from_tag)
    /// checks a candidate. The default builds the tag and compares; the
    /// derive compares as it writes, without building it.
    fn is_tag_of(id: &Self::Id, version: Self::Version, tag: EntityTagRef<'_>) -> bool {
        Self::entity_tag_for(id, version).as_tag_ref() == tag
    }

    /// The time of the last modification, if the type tracks one, at the
    /// precision it is stored with (HTTP dates are whole seconds; see
    /// [`http_last_modified`](crate::date::http_last_modified) for how it is
    /// sent).
    fn last_modified(&self) -> Option<SystemTime> {
        None
    }

    /// Sets the modification time; repositories call it on every write.
    /// Does nothing for a type without one.
    fn set_last_modified(&mut self, time: SystemTime) {
        let _ = time;
    }

    /// Where a new resource's id comes from (`#[occ(generated)]`).
    const ID_SOURCE: IdSource = IdSource::Client;

    /// A new id made by the server for a POST without one, or `None` when
    /// the store assigns it (or the client must name it).
    fn generate_id() -> Option<Self::Id> {
        None
    }

    /// Replaces the id: a repository that assigns ids calls it on a new
    /// resource. The derive implements it; the default does nothing, which
    /// is only right for a model whose ids are never assigned.
    fn set_id(&mut self, id: Self::Id) {
        let _ = id;
    }

    /// The id a store assigned as a number (an autoincrement value), for a
    /// model whose ids are generated by the store.
    fn id_from_assigned(number: i64) -> Option<Self::Id> {
        let _ = number;
        None
    }

    /// The column of the field declared the model's row-level scope with
    /// `#[occ(scope)]` (design decision 20), or `None` for a model without
    /// one. A model with a declared scope is only ever read or written
    /// through a view scoped to one value
    /// ([`Repository::scoped`](crate::repository::Repository::scoped)):
    /// its repositories refuse every operation without a scope, key every
    /// row by (scope, id), and fill the field from the scope on every
    /// write, whatever a client sent.
    const SCOPE_COLUMN: Option<&'static str> = None;

    /// The value of the declared scope field, as a [`ScopeValue`]; `None`
    /// for a model without one.
    fn scope_value(&self) -> Option<ScopeValue> {
        None
    }

    /// Sets the declared scope field from a scope's value. `false` when the
    /// model has no declared scope or the value does not fit the field's
    /// type (text that is not a UUID, an integer out of range).
    fn set_scope_value(&mut self, value: &ScopeValue) -> bool {
        let _ = value;
        false
    }

    /// `value` as the declared scope field holds it (a UUID in its
    /// lowercase hyphenated form, say), or `None` when it does not fit the
    /// field's type or the model has no declared scope.
    fn canonical_scope_value(value: &ScopeValue) -> Option<ScopeValue> {
        let _ = value;
        None
    }

    /// The JSON member names of the id, version and modification time.
    const MEMBERS: Members = Members::UNKNOWN;

    /// The version a successful write produces, or `None` when the counter
    /// would overflow (the write must then be refused, never wrapped).
    fn next_version(&self) -> Option<Self::Version> {
        self.version().next()
    }
}

/// An integer usable as a version counter.
///
/// Implemented for every primitive integer type. Stored versions are `i64`
/// in databases, so conversions are checked both ways.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a version counter",
    label = "a `#[version]` field must have an integer type",
    note = "use an integer type such as `u64`, `i64` or `u32` for the `#[version]` field"
)]
pub trait VersionNumber:
    Copy + Ord + fmt::Display + fmt::Debug + std::str::FromStr + Send + Sync + 'static
{
    /// The version of a newly created resource.
    const INITIAL: Self;

    /// The largest value that is also an `i64`: the last version a
    /// database column can hold for this type.
    const MAX_I64: i64;

    /// The following version, or `None` on overflow.
    fn next(self) -> Option<Self>;

    /// The version as a database integer, if it fits.
    fn to_i64(self) -> Option<i64>;

    /// A database integer as a version, if it fits.
    fn from_i64(value: i64) -> Option<Self>;

    /// Writes the version in decimal, as its `Display` does. The integers
    /// write their digits without `core::fmt`: every tag built or matched
    /// writes a version.
    fn write_decimal(self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{self}")
    }
}

macro_rules! version_number {
    ($($t:ty),*) => {$(
        impl VersionNumber for $t {
            const INITIAL: Self = 1;
            #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)]
            const MAX_I64: i64 = if <$t>::BITS >= 64 { i64::MAX } else { <$t>::MAX as i64 };

            fn next(self) -> Option<Self> {
                self.checked_add(1)
            }

            fn to_i64(self) -> Option<i64> {
                i64::try_from(self).ok()
            }

            fn from_i64(value: i64) -> Option<Self> {
                Self::try_from(value).ok()
            }

            fn write_decimal(self, out: &mut dyn fmt::Write) -> fmt::Result {
                out.write_str(itoa::Buffer::new().format(self))
            }
        }
    )*};
}

version_number!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// Not public API: a primitive integer, whose decimal digits go into a tag
/// as they are (digits and `-` need no encoding).
#[doc(hidden)]
pub trait Decimal: Copy + itoa::Integer {}

impl<I: Copy + itoa::Integer> Decimal for I {}

/// Finds the version in `tag` by trying each run of digits (with an
/// optional leading `-`), rightmost first, and checking (`is_tag`) that it
/// renders back to exactly `tag`.
fn version_in_tag<V: VersionNumber>(
    tag: EntityTagRef<'_>,
    is_tag: impl Fn(V) -> bool,
) -> Option<V> {
    let opaque = tag.opaque();
    let mut end = opaque.len();
    while end > 0 {
        let Some(last) = opaque[..end].iter().rposition(u8::is_ascii_digit) else {
            break;
        };
        let mut start = opaque[..=last]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        if start > 0 && opaque[start - 1] == b'-' {
            start -= 1;
        }
        for from in [start, start + usize::from(opaque.get(start) == Some(&b'-'))] {
            let candidate = std::str::from_utf8(&opaque[from..=last])
                .ok()
                .and_then(|s| s.parse::<V>().ok());
            if let Some(v) = candidate {
                if is_tag(v) {
                    return Some(v);
                }
            }
        }
        end = start;
    }
    None
}

/// A field usable as a modification time (`#[occ(last_modified)]`).
///
/// Implemented for [`SystemTime`], `chrono::DateTime<Utc>` (feature
/// `chrono`), `time::OffsetDateTime` (feature `time`) and `Option` of each.
/// The time is the server's: repositories set it on every write (the SQL
/// repository from the database's clock, inside the write statement), so a
/// value sent by a client is never stored.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a modification time",
    label = "an `#[occ(last_modified)]` field must be a timestamp",
    note = "use `std::time::SystemTime`, `chrono::DateTime<Utc>` (feature `chrono`) or `time::OffsetDateTime` (feature `time`), or an `Option` of one"
)]
pub trait Timestamp {
    /// The time, or `None` when unknown.
    fn to_system_time(&self) -> Option<SystemTime>;

    /// Sets the time (repositories do, on every write).
    fn set_system_time(&mut self, time: SystemTime);
}

impl Timestamp for SystemTime {
    fn to_system_time(&self) -> Option<SystemTime> {
        Some(*self)
    }

    fn set_system_time(&mut self, time: SystemTime) {
        *self = time;
    }
}

impl<T: Timestamp + From<SystemTime>> Timestamp for Option<T> {
    fn to_system_time(&self) -> Option<SystemTime> {
        self.as_ref().and_then(T::to_system_time)
    }

    fn set_system_time(&mut self, time: SystemTime) {
        *self = Some(T::from(time));
    }
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl Timestamp for chrono::DateTime<chrono::Utc> {
    fn to_system_time(&self) -> Option<SystemTime> {
        Some(SystemTime::from(*self))
    }

    fn set_system_time(&mut self, time: SystemTime) {
        *self = Self::from(time);
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl Timestamp for time::OffsetDateTime {
    fn to_system_time(&self) -> Option<SystemTime> {
        Some(SystemTime::from(*self))
    }

    fn set_system_time(&mut self, time: SystemTime) {
        *self = Self::from(time);
    }
}

/// An id type that new resources can get without the client choosing it
/// (`#[occ(generated)]` on the id field): POST to the collection without
/// an id.
///
/// Integers are assigned by the store (an identity or autoincrement column
/// in SQL, the next number in memory); `uuid::Uuid` (feature `uuid`) is
/// generated by the server, as a version 7 UUID (time-ordered, so an index
/// on it stays compact).
#[diagnostic::on_unimplemented(
    message = "`{Self}` ids cannot be generated",
    label = "`#[occ(generated)]` needs an integer or `uuid::Uuid` id",
    note = "integer ids are assigned by the database and `uuid::Uuid` ids (feature `uuid`) by the server; other ids are chosen by the client: remove `generated` and create with `PUT` and `If-None-Match: *`"
)]
pub trait GeneratedId: Sized {
    /// A new id made by the server, or `None` when the store assigns it.
    fn generate() -> Option<Self>;

    /// The id a store assigned as a number (an autoincrement value), if
    /// this type holds numbers.
    fn from_assigned(number: i64) -> Option<Self>;
}

macro_rules! generated_integer {
    ($($t:ty),*) => {$(
        impl GeneratedId for $t {
            fn generate() -> Option<Self> {
                None
            }

            fn from_assigned(number: i64) -> Option<Self> {
                Self::try_from(number).ok()
            }
        }
    )*};
}

generated_integer!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

#[cfg(feature = "uuid")]
#[cfg_attr(docsrs, doc(cfg(feature = "uuid")))]
impl GeneratedId for uuid::Uuid {
    fn generate() -> Option<Self> {
        Some(Self::now_v7())
    }

    fn from_assigned(_: i64) -> Option<Self> {
        None
    }
}

/// Where the id of a new resource comes from ([`Versioned::ID_SOURCE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdSource {
    /// The client names it: in the body of a POST, or in the URL of a
    /// creating PUT (`If-None-Match: *`).
    #[default]
    Client,
    /// The server assigns it on POST ([`GeneratedId`]). With
    /// `client_may_choose`, a POST body may still carry one.
    Generated {
        /// Whether a POST may name the id itself
        /// (`#[occ(generated(client_may_choose))]`); otherwise such a POST
        /// is 422.
        client_may_choose: bool,
    },
}

/// The JSON member names (as serde names them) of the fields the server
/// owns or fills: the id, the version and the modification time. The
/// derive fills them when it can read the struct's serde attributes;
/// `None` where it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Members {
    /// The id's member.
    pub id: Option<&'static str>,
    /// The version's member.
    pub version: Option<&'static str>,
    /// The modification time's member.
    pub last_modified: Option<&'static str>,
}

impl Members {
    /// No member known.
    pub const UNKNOWN: Self = Self {
        id: None,
        version: None,
        last_modified: None,
    };
}

/// Builds an entity tag from literal parts and field values, as the derived
/// [`Versioned::entity_tag`] does for a template such as
/// `prof-{id}-v{version}`.
///
/// Values are written with [`Display`](fmt::Display); any octet that is not
/// visible ASCII, or is `"`, `\` or `%`, is percent-encoded, so the tag is
/// always valid ASCII (design decision 7, G-3) and distinct values give distinct tags.
///
/// ```
/// use occ_core::EntityTagBuilder;
///
/// let tag = EntityTagBuilder::strong()
///     .literal("doc-")
///     .value(&"a b")
///     .literal("-v")
///     .value(&3)
///     .finish();
/// assert_eq!(tag.to_string(), "\"doc-a%20b-v3\"");
/// ```
#[derive(Debug)]
pub struct EntityTagBuilder {
    /// The wire form so far: `W/` if weak, the opening quote, the opaque
    /// part written so far.
    wire: Vec<u8>,
}

impl EntityTagBuilder {
    /// Starts a strong tag.
    pub fn strong() -> Self {
        Self::starting(b"\"")
    }

    /// Starts a weak tag (for representations that are not byte-identical
    /// for one version, G-4).
    pub fn weak() -> Self {
        Self::starting(b"W/\"")
    }

    fn starting(prefix: &[u8]) -> Self {
        let mut wire = Vec::with_capacity(32);
        wire.extend_from_slice(prefix);
        Self { wire }
    }

    /// Appends literal text; octets outside the safe set are encoded.
    pub fn literal(mut self, text: &str) -> Self {
        // Escaping through the same writer keeps the tag valid whatever
        // the caller passes.
        let _ = Escaper(&mut self.wire).write_str(text);
        self
    }

    /// Appends a value's `Display` output, percent-encoding unsafe octets.
    pub fn value(mut self, value: &dyn fmt::Display) -> Self {
        let _ = write!(Escaper(&mut self.wire), "{value}");
        self
    }

    /// Appends a version number. Unlike [`value`](Self::value) it takes
    /// only a [`VersionNumber`], so a wrong version type is reported as
    /// such.
    pub fn version<V: VersionNumber>(self, version: V) -> Self {
        let mut builder = self;
        let _ = version.write_decimal(&mut Escaper(&mut builder.wire));
        builder
    }

    /// Not public API: appends literal text that the derive has checked
    /// holds only octets a tag takes as they are (its template's text).
    #[doc(hidden)]
    pub fn verbatim(mut self, text: &str) -> Self {
        debug_assert!(text.bytes().all(is_safe), "{text:?} needs encoding");
        self.wire.extend_from_slice(text.as_bytes());
        self
    }

    /// Not public API: appends a primitive integer's digits, which need no
    /// encoding (the derive's path for an id or version of such a type).
    #[doc(hidden)]
    pub fn integer<I: Decimal>(mut self, value: &I) -> Self {
        self.wire
            .extend_from_slice(itoa::Buffer::new().format(*value).as_bytes());
        self
    }

    /// The finished tag.
    pub fn finish(mut self) -> EntityTag {
        self.wire.push(b'"');
        EntityTag::from_valid_wire(self.wire)
    }
}

/// Whether an ASCII octet goes into a generated tag as it is.
const fn is_safe(b: u8) -> bool {
    b.is_ascii() && is_etagc(b) && b != b'\\' && b != b'%'
}

/// Where escaped tag text goes: a tag being built, or one being compared.
trait TagSink {
    /// Takes the next octets of the opaque part.
    fn put(&mut self, octets: &[u8]) -> fmt::Result;
}

impl TagSink for Vec<u8> {
    fn put(&mut self, octets: &[u8]) -> fmt::Result {
        self.extend_from_slice(octets);
        Ok(())
    }
}

/// Percent-encodes what it is given into a [`TagSink`], runs of safe
/// octets at once.
struct Escaper<'a, S>(&'a mut S);

impl<S: TagSink> fmt::Write for Escaper<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            let safe = rest.iter().position(|&b| !is_safe(b)).unwrap_or(rest.len());
            self.0.put(&rest[..safe])?;
            let Some((&b, after)) = rest[safe..].split_first() else {
                break;
            };
            self.0
                .put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0F)]])?;
            rest = after;
        }
        Ok(())
    }
}

/// Not public API: compares a tag with a template as the derived
/// [`Versioned::is_tag_of`] writes it, octet by octet, building nothing.
/// The same steps as [`EntityTagBuilder`], so the two cannot disagree.
#[doc(hidden)]
#[derive(Debug)]
pub struct TagMatcher<'t> {
    /// The opaque octets not matched yet; `None` once one differed.
    rest: Option<&'t [u8]>,
}

impl<'t> TagMatcher<'t> {
    /// Starts matching a strong tag.
    pub fn strong(tag: EntityTagRef<'t>) -> Self {
        Self::starting(tag, false)
    }

    /// Starts matching a weak tag.
    pub fn weak(tag: EntityTagRef<'t>) -> Self {
        Self::starting(tag, true)
    }

    fn starting(tag: EntityTagRef<'t>, weak: bool) -> Self {
        Self {
            rest: (tag.is_weak() == weak).then(|| tag.opaque()),
        }
    }

    /// As [`EntityTagBuilder::literal`].
    pub fn literal(mut self, text: &str) -> Self {
        let _ = Escaper(&mut self).write_str(text);
        self
    }

    /// As [`EntityTagBuilder::value`].
    pub fn value(mut self, value: &dyn fmt::Display) -> Self {
        let _ = write!(Escaper(&mut self), "{value}");
        self
    }

    /// As [`EntityTagBuilder::version`].
    pub fn version<V: VersionNumber>(mut self, version: V) -> Self {
        let _ = version.write_decimal(&mut Escaper(&mut self));
        self
    }

    /// As [`EntityTagBuilder::verbatim`].
    pub fn verbatim(mut self, text: &str) -> Self {
        debug_assert!(text.bytes().all(is_safe), "{text:?} needs encoding");
        let _ = self.put(text.as_bytes());
        self
    }

    /// [`version_at_end`](Self::version_at_end) for a primitive integer
    /// version: its digits compared as [`integer`](Self::integer) writes
    /// them.
    pub fn integer_at_end<I: Decimal + std::str::FromStr>(self) -> Option<I> {
        let rest = self.rest?;
        let value: I = std::str::from_utf8(rest).ok()?.parse().ok()?;
        (itoa::Buffer::new().format(value).as_bytes() == rest).then_some(value)
    }

    /// As [`EntityTagBuilder::integer`].
    pub fn integer<I: Decimal>(mut self, value: &I) -> Self {
        let _ = self.put(itoa::Buffer::new().format(*value).as_bytes());
        self
    }

    /// [`version`](Self::version), for a version of `M`, whose type is a
    /// [`VersionNumber`] by the trait's bound.
    pub fn version_of<M: Versioned + ?Sized>(self, version: M::Version) -> Self {
        self.version(version)
    }

    /// The version of `M` that the rest of the tag is, written as
    /// [`version`](Self::version) writes it (so no sign, no leading zero
    /// that it would not write): the derived `version_from_tag` of a
    /// template that ends with the version, which reads it rather than
    /// trying each run of digits.
    pub fn version_at_end<M: Versioned + ?Sized>(self) -> Option<M::Version> {
        let rest = std::str::from_utf8(self.rest?).ok()?;
        let version: M::Version = rest.parse().ok()?;
        self.version(version).finish().then_some(version)
    }

    /// Whether the whole tag matched.
    pub fn finish(self) -> bool {
        self.rest.is_some_and(<[u8]>::is_empty)
    }
}

impl TagSink for TagMatcher<'_> {
    fn put(&mut self, octets: &[u8]) -> fmt::Result {
        match self.rest.and_then(|rest| rest.strip_prefix(octets)) {
            Some(after) => {
                self.rest = Some(after);
                Ok(())
            }
            None => {
                // Stops the formatting: nothing after a difference matters.
                self.rest = None;
                Err(fmt::Error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_encodes_unsafe_octets() {
        let tag = EntityTagBuilder::strong().value(&"\"q\\ %é").finish();
        assert_eq!(tag.to_string(), "\"%22q%5C%20%25%C3%A9\"");
        assert!(tag.as_bytes().is_ascii());
    }

    #[test]
    fn builder_weak() {
        let tag = EntityTagBuilder::weak().literal("x").finish();
        assert_eq!(tag.to_string(), "W/\"x\"");
    }

    #[test]
    fn version_numbers_refuse_overflow() {
        assert_eq!(u8::MAX.next(), None);
        assert_eq!(7u32.next(), Some(8));
        assert_eq!(u64::MAX.to_i64(), None);
        assert_eq!(u32::from_i64(-1), None);
        assert_eq!(i64::from_i64(5), Some(5));
    }
}
