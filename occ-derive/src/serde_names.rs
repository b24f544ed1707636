//! The members serde reads each field from, so that a JSON merge patch can
//! be mapped to columns. Only what this module understands is mapped;
//! anything else (a custom deserializer, `flatten`, `default`, a container
//! `from`/`try_from`/`tag`) makes the field, or the whole struct, merge in
//! the application instead, which is always correct.

use syn::{Attribute, Ident, LitStr, Token};

/// How serde deserializes one field.
pub(crate) enum Member {
    /// From these member names (the name, then its aliases).
    Named(Vec<String>),
    /// From these member names, but not as the field's type alone reads
    /// a value (`with`, `deserialize_with`, `default`).
    CustomValue(Vec<String>),
    /// Never: `skip` or `skip_deserializing`.
    Skipped,
    /// From members the derive cannot name (`flatten`, an attribute it
    /// does not know).
    Custom,
}

/// How serde deserializes the struct: `None` when the derive does not
/// model it, else the `rename_all` rule for deserialization.
pub(crate) fn container(attrs: &[Attribute]) -> Option<Option<String>> {
    let mut rename_all = None;
    let mut supported = true;
    for attr in serde_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(Ident::to_string);
            match key.as_deref() {
                Some("rename_all") => rename_all = deserialize_name(&meta)?,
                Some(
                    "rename" | "deny_unknown_fields" | "bound" | "crate" | "expecting" | "into",
                ) => {
                    skip_value(&meta)?;
                }
                _ => {
                    supported = false;
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        supported &= parsed.is_ok();
    }
    if let Some(rule) = &rename_all {
        supported &= apply(rule, "probe").is_some();
    }
    supported.then_some(rename_all)
}

/// How serde deserializes the field `ident` under the container's
/// `rename_all` rule.
pub(crate) fn field(attrs: &[Attribute], ident: &Ident, rename_all: Option<&str>) -> Member {
    let raw = ident.to_string();
    let name = raw.strip_prefix("r#").unwrap_or(&raw);
    let mut primary = match rename_all {
        Some(rule) => apply(rule, name),
        None => Some(name.to_owned()),
    };
    let mut aliases = Vec::new();
    let mut skipped = false;
    let mut custom = false;
    let mut custom_value = false;
    for attr in serde_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(Ident::to_string);
            match key.as_deref() {
                Some("rename") => {
                    if let Some(renamed) = deserialize_name(&meta)? {
                        primary = Some(renamed);
                    }
                }
                Some("alias") => aliases.push(meta.value()?.parse::<LitStr>()?.value()),
                Some("skip" | "skip_deserializing") => skipped = true,
                Some("with" | "deserialize_with" | "default") => {
                    custom_value = true;
                    skip_value(&meta)?;
                }
                Some("skip_serializing" | "skip_serializing_if" | "serialize_with" | "bound") => {
                    skip_value(&meta)?
                }
                _ => {
                    custom = true;
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        custom |= parsed.is_err();
    }
    match (custom, skipped, primary) {
        (true, _, _) | (_, _, None) => Member::Custom,
        (false, true, _) => Member::Skipped,
        (false, false, Some(primary)) => {
            aliases.insert(0, primary);
            if custom_value {
                Member::CustomValue(aliases)
            } else {
                Member::Named(aliases)
            }
        }
    }
}

fn serde_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("serde"))
}

/// `rename = "x"` or `rename(deserialize = "x")`: the name for
/// deserialization, if given.
fn deserialize_name(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<String>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse::<LitStr>()?.value()));
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        let value = inner.value()?.parse::<LitStr>()?.value();
        if inner.path.is_ident("deserialize") {
            name = Some(value);
        }
        Ok(())
    })?;
    Ok(name)
}

/// Consumes `= literal` or `(…)` after a key this module does not read.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Lit>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

/// serde's `rename_all` rules, applied to a snake_case field name.
pub(crate) fn apply(rule: &str, name: &str) -> Option<String> {
    let words = || name.split('_').filter(|w| !w.is_empty());
    let capitalized = |w: &str| {
        let mut chars = w.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_uppercase().chain(chars).collect::<String>()
        })
    };
    Some(match rule {
        "lowercase" | "snake_case" => name.to_owned(),
        "UPPERCASE" | "SCREAMING_SNAKE_CASE" => name.to_ascii_uppercase(),
        "kebab-case" => name.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => name.to_ascii_uppercase().replace('_', "-"),
        "PascalCase" => words().map(capitalized).collect(),
        "camelCase" => {
            let pascal: String = words().map(capitalized).collect();
            let mut chars = pascal.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
        _ => return None,
    })
}
