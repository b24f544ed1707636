//! What the described headers hold: the patterns their values match,
//! and the entity tag the examples show.

use utoipa::openapi::schema::{ObjectBuilder, Type};

/// The entity tag the pieces of this module show as an example; the
/// description of generated routes shows one of the model's own instead.
pub const EXAMPLE_TAG: &str = "\"v1\"";

/// An entity tag or a list of them, or `*`, as `If-Match` and
/// `If-None-Match` take them (RFC 9110 §8.8.3, §13.1.1).
pub(super) const TAG_LIST_PATTERN: &str = r#"^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$"#;

/// One entity tag, quotes included (RFC 9110 §8.8.3).
pub(super) const TAG_PATTERN: &str = r#"^(W/)?"[^"]*"$"#;

/// An IMF-fixdate (RFC 9110 §5.6.7), the form occ sends.
pub(super) const IMF_FIXDATE_PATTERN: &str = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$";

/// An RFC 8941 sf-string of 1 to 255 characters (as unescaped): double
/// quotes around visible ASCII and spaces, `"` and `\` escaped with `\`.
pub(super) const SF_STRING_PATTERN: &str = r#"^"([\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"$"#;

pub(super) fn string_schema(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}
