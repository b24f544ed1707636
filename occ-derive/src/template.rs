//! The entity-tag template of `#[occ(etag = "prof-{id}-v{version}")]`.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Text copied into the tag.
    Literal(String),
    /// A field's `Display`, by name.
    Field(String),
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// `{` without `}`, or `}` without `{`.
    Unbalanced,
    /// `{}`.
    EmptyPlaceholder,
    /// A character an entity tag cannot hold.
    InvalidChar(char),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unbalanced => f.write_str(
                "unbalanced braces in the ETag template: write `{field}` for a field, `{{` and `}}` for literal braces",
            ),
            Self::EmptyPlaceholder => {
                f.write_str("empty `{}` in the ETag template: name a field, such as `{version}`")
            }
            Self::InvalidChar(c) => write!(
                f,
                "the ETag template cannot contain {c:?}: an entity tag holds visible ASCII except `\"` and `\\`, and `%` is reserved for encoding values"
            ),
        }
    }
}

/// Whether `c` may appear literally in a generated tag (G-2, G-3).
fn is_allowed(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')
}

/// Splits a template into literal text and field placeholders.
pub(crate) fn parse(template: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err(TemplateError::Unbalanced),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(TemplateError::Unbalanced),
                        Some(c) => name.push(c),
                    }
                }
                let name = name.trim().to_owned();
                if name.is_empty() {
                    return Err(TemplateError::EmptyPlaceholder);
                }
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Field(name));
            }
            c if is_allowed(c) => literal.push(c),
            c => return Err(TemplateError::InvalidChar(c)),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Segment {
        Segment::Literal(s.into())
    }

    fn field(s: &str) -> Segment {
        Segment::Field(s.into())
    }

    #[test]
    fn parses_fields_and_literals() {
        assert_eq!(
            parse("prof-{id}-v{version}"),
            Ok(vec![lit("prof-"), field("id"), lit("-v"), field("version")])
        );
        assert_eq!(parse("{{{id}}}"), Ok(vec![lit("{"), field("id"), lit("}")]));
    }

    #[test]
    fn rejects_bad_templates() {
        assert_eq!(parse("{id"), Err(TemplateError::Unbalanced));
        assert_eq!(parse("id}"), Err(TemplateError::Unbalanced));
        assert_eq!(parse("{a{b}"), Err(TemplateError::Unbalanced));
        assert_eq!(parse("{}"), Err(TemplateError::EmptyPlaceholder));
        assert_eq!(parse("a b"), Err(TemplateError::InvalidChar(' ')));
        assert_eq!(parse("a\"b"), Err(TemplateError::InvalidChar('"')));
        assert_eq!(parse("é"), Err(TemplateError::InvalidChar('é')));
    }
}
