//! The [`Versioned`] trait: what makes a type a conditional resource.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use crate::entity_tag::{is_etagc, EntityTag, EntityTagRef};

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
    /// The type of the resource's identifier.
    type Id;
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
    /// decimal.
    fn version_from_tag(id: &Self::Id, tag: EntityTagRef<'_>) -> Option<Self::Version> {
        version_in_tag(tag, |v| Self::entity_tag_for(id, v))
    }

    /// The time of the last modification, if the type tracks one.
    fn last_modified(&self) -> Option<SystemTime> {
        None
    }

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
        }
    )*};
}

version_number!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// Finds the version in `tag` by trying each run of digits (with an
/// optional leading `-`), rightmost first, and checking it renders back to
/// exactly `tag`.
fn version_in_tag<V: VersionNumber>(
    tag: EntityTagRef<'_>,
    render: impl Fn(V) -> EntityTag,
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
                if render(v).as_tag_ref() == tag {
                    return Some(v);
                }
            }
        }
        end = start;
    }
    None
}

/// A field usable as a modification time (`#[occ(last_modified)]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a modification time",
    label = "an `#[occ(last_modified)]` field must be a timestamp",
    note = "use `std::time::SystemTime` or `Option<std::time::SystemTime>`"
)]
pub trait Timestamp {
    /// The time, or `None` when unknown.
    fn to_system_time(&self) -> Option<SystemTime>;
}

impl Timestamp for SystemTime {
    fn to_system_time(&self) -> Option<SystemTime> {
        Some(*self)
    }
}

impl<T: Timestamp> Timestamp for Option<T> {
    fn to_system_time(&self) -> Option<SystemTime> {
        self.as_ref().and_then(T::to_system_time)
    }
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
    weak: bool,
    opaque: String,
}

impl EntityTagBuilder {
    /// Starts a strong tag.
    pub fn strong() -> Self {
        Self {
            weak: false,
            opaque: String::with_capacity(24),
        }
    }

    /// Starts a weak tag (for representations that are not byte-identical
    /// for one version, G-4).
    pub fn weak() -> Self {
        Self {
            weak: true,
            ..Self::strong()
        }
    }

    /// Appends literal text; octets outside the safe set are encoded.
    pub fn literal(mut self, text: &str) -> Self {
        // Escaping through the same writer keeps the tag valid whatever
        // the caller passes.
        let _ = Escaper(&mut self.opaque).write_str(text);
        self
    }

    /// Appends a value's `Display` output, percent-encoding unsafe octets.
    pub fn value(mut self, value: &dyn fmt::Display) -> Self {
        let _ = write!(Escaper(&mut self.opaque), "{value}");
        self
    }

    /// Appends a version number. Unlike [`value`](Self::value) it takes
    /// only a [`VersionNumber`], so a wrong version type is reported as
    /// such.
    pub fn version<V: VersionNumber>(self, version: V) -> Self {
        self.value(&version)
    }

    /// The finished tag.
    pub fn finish(self) -> EntityTag {
        EntityTag::from_valid_parts(self.weak, self.opaque.as_bytes())
    }
}

/// Whether an ASCII octet goes into a generated tag as it is.
const fn is_safe(b: u8) -> bool {
    b.is_ascii() && is_etagc(b) && b != b'\\' && b != b'%'
}

struct Escaper<'a>(&'a mut String);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for &b in s.as_bytes() {
            if is_safe(b) {
                self.0.push(char::from(b));
            } else {
                self.0.push('%');
                self.0.push(char::from(HEX[usize::from(b >> 4)]));
                self.0.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
        }
        Ok(())
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
