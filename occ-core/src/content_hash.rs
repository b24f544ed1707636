//! Content-hash validators, for tables that cannot carry a version.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The bits of the SHA-256 a content hash keeps: 60, so that the number
/// fits a signed 64-bit column and MariaDB can convert its hex exactly.
pub(crate) const CONTENT_HASH_HEX_DIGITS: usize = 15;

/// The content hash of `value`: the first 60 bits of the SHA-256 of its
/// JSON serialization, a number in `0..2⁶⁰`. Fails only where
/// serialization does (a map whose keys are not strings).
///
/// A version column is the validator occ prefers: cheap to compare in a
/// `WHERE` clause, never colliding, ordered, and kept right for writers
/// outside occ by the triggers of `version_triggers`. A table that cannot
/// change at all (another team's schema, a vendor's database) can still
/// get strong `ETag`s and compare-and-swap writes from a hash of what it
/// stores: [`content_hash`] computes one in Rust, and
/// `repository::sql::content_hash_sql` computes the same kind of number
/// in the database, so that PostgreSQL and MariaDB check it inside the
/// write's own `UPDATE` (`content_condition_sql`). SQLite has no hash
/// function: there the row is read, hashed and written in one `BEGIN
/// IMMEDIATE` transaction.
///
/// The hash takes the place of the version: a model keeps it in its
/// `#[version]` field (an `i64`, read with the row and never stored), so
/// `Pipeline::decide`, `Pipeline::swap` and the tag template work as they
/// do with a version.
///
/// What it costs, against a version:
/// - **Collisions.** The number is the first 60 bits of a SHA-256, so two
///   different states of one resource share a tag with a chance of 2⁻⁶⁰;
///   choosing a state that collides with another takes about 2⁶⁰ hashes.
/// - **No order, and the same state, the same tag.** A resource changed
///   and changed back has its old tag again, which is right for a strong
///   validator (the representation is the same) but means a tag cannot say
///   which of two states is newer, and a deleted and recreated resource
///   with the same content is not told apart (decision 15 holds for
///   versions only).
/// - **Cost.** Every read hashes the row, and a write's condition hashes it
///   again inside the statement (no index helps).
/// - **One hash per backend.** The database hashes its own text of the
///   values (`json_build_array` on PostgreSQL, `JSON_ARRAY` on MariaDB), so
///   a tag is valid on the backend that made it, and session settings that
///   change how a value prints (`TimeZone`, `extra_float_digits`,
///   `time_zone`) must be the same on every connection; where they differ,
///   a client gets a spurious 412, never a lost update.
///
/// ```
/// use occ_core::{content_hash, Versioned};
///
/// #[derive(serde::Serialize, Versioned)]
/// #[occ(etag = "contact-{id}-h{hash}")]
/// struct Contact {
///     id: i64,
///     #[version]
///     #[serde(skip)]
///     hash: i64,
///     email: String,
/// }
///
/// let mut contact = Contact { id: 7, hash: 0, email: "ava@example.com".into() };
/// contact.hash = content_hash(&contact)?;
/// let tag = contact.entity_tag();
/// contact.email = "ava@example.org".into();
/// assert_ne!(content_hash(&contact)?, contact.hash);
/// assert!(tag.to_string().starts_with("\"contact-7-h"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn content_hash<T: Serialize + ?Sized>(value: &T) -> Result<i64, serde_json::Error> {
    let json = serde_json::to_vec(value)?;
    let digest = Sha256::digest(&json);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let bits = u64::from_be_bytes(first) >> (64 - 4 * CONTENT_HASH_HEX_DIGITS);
    Ok(i64::try_from(bits).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::content_hash;

    #[test]
    fn a_content_hash_is_60_bits_and_follows_the_content() {
        let a = content_hash(&(1, "Ava")).unwrap();
        let b = content_hash(&(1, "Ava ")).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, content_hash(&(1, "Ava")).unwrap());
        assert!((0..1 << 60).contains(&a) && (0..1 << 60).contains(&b));
    }
}
