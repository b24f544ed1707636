//! The `#[occ(…)]`, `#[version]` and `#[sqlx(…)]` attributes, read into
//! plain values (which keys are set, and where), with every unknown or
//! repeated key reported.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr};

use crate::errors::Errors;

const CONTAINER_KEYS: &str =
    "`etag = \"…\"`, `weak`, `table = \"…\"`, `tombstones = \"…\"`, `merge`";
const FIELD_KEYS: &str =
    "`id`, `last_modified`, `scope`, `generated`, `generated(client_may_choose)`, `column = \"…\"`";

#[derive(Default)]
pub(crate) struct ContainerAttrs {
    pub(crate) etag: Option<LitStr>,
    pub(crate) weak: Option<Span>,
    pub(crate) table: Option<LitStr>,
    pub(crate) tombstones: Option<LitStr>,
    pub(crate) merge: Option<Span>,
}

#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) version: Option<Span>,
    pub(crate) id: Option<Span>,
    pub(crate) last_modified: Option<Span>,
    pub(crate) scope: Option<Span>,
    pub(crate) column: Option<LitStr>,
    /// The span of `generated`, and whether the client may still choose.
    pub(crate) generated: Option<(Span, bool)>,
}

/// What `#[sqlx(…)]` says of a field.
#[derive(Default)]
pub(crate) struct SqlxField {
    pub(crate) rename: Option<LitStr>,
    /// `skip` or `default`: `FromRow` may not read it from the row.
    pub(crate) unread: Option<Span>,
    pub(crate) flatten: Option<Span>,
}

pub(crate) fn container_attrs(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("version") {
            errors.at(
                attr,
                "`#[version]` belongs on the version field, not on the struct",
            );
            continue;
        }
        if !attr.path().is_ident("occ") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.clone();
            let string_value = |what: &str| -> syn::Result<LitStr> {
                let value = meta.value().map_err(|_| {
                    meta.error(format!("`{what}` takes a string: `#[occ({what} = \"…\")]`"))
                })?;
                let expr: syn::Expr = value.parse()?;
                match expr {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => Ok(s),
                    other => Err(syn::Error::new(
                        other.span(),
                        format!("`{what}` takes a string literal: `#[occ({what} = \"…\")]`"),
                    )),
                }
            };
            if key.is_ident("etag") {
                let lit = string_value("etag")?;
                if out.etag.replace(lit).is_some() {
                    errors.at(&key, "duplicate `etag`: give the template once");
                }
            } else if key.is_ident("table") {
                let lit = string_value("table")?;
                if lit.value().is_empty() {
                    errors.at(&lit, "the table name cannot be empty");
                }
                if out.table.replace(lit).is_some() {
                    errors.at(&key, "duplicate `table`: give the table once");
                }
            } else if key.is_ident("tombstones") {
                let lit = string_value("tombstones")?;
                if lit.value().is_empty() {
                    errors.at(&lit, "the tombstone table's name cannot be empty");
                }
                if out.tombstones.replace(lit).is_some() {
                    errors.at(
                        &key,
                        "duplicate `tombstones`: give the tombstone table once",
                    );
                }
            } else if key.is_ident("merge") {
                if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                    return Err(
                        meta.error("`merge` takes no value: write `#[occ(table = \"…\", merge)]`")
                    );
                }
                if out.merge.replace(key.span()).is_some() {
                    errors.at(&key, "duplicate `merge`");
                }
            } else if key.is_ident("weak") {
                if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
                    return Err(meta.error("`weak` takes no value: write `#[occ(weak)]`"));
                }
                if out.weak.replace(key.span()).is_some() {
                    errors.at(&key, "duplicate `weak`");
                }
            } else if key.is_ident("id") || key.is_ident("last_modified") || key.is_ident("scope") {
                let name = key.get_ident().map(ToString::to_string).unwrap_or_default();
                // Consume a possible value so the error stays on the key.
                if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                }
                errors.at(
                    &key,
                    format!("`{name}` belongs on a field: write `#[occ({name})]` above the field"),
                );
            } else {
                if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                }
                errors.at(
                    &key,
                    format!(
                    "unknown `occ` attribute `{}`: on the struct, expected one of {CONTAINER_KEYS}",
                    path_text(&key)
                ),
                );
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

pub(crate) fn field_attrs(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("version") {
            match &attr.meta {
                syn::Meta::Path(_) => {
                    if out.version.replace(attr.span()).is_some() {
                        errors.at(attr, "duplicate `#[version]`");
                    }
                }
                // Still a version mark, so that no "no version field"
                // error follows.
                syn::Meta::List(list) => {
                    errors.at(
                        list.delimiter.span().join(),
                        "`#[version]` takes no arguments: write `#[version]`",
                    );
                    out.version.get_or_insert(attr.span());
                }
                syn::Meta::NameValue(nv) => {
                    errors.at(&nv.value, "`#[version]` takes no value: write `#[version]`");
                    out.version.get_or_insert(attr.span());
                }
            }
            continue;
        }
        if !attr.path().is_ident("occ") {
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            let key = meta.path.clone();
            let flag =
                |slot: &mut Option<Span>, name: &str, errors: &mut Errors| -> syn::Result<()> {
                    if meta.input.peek(syn::Token![=]) {
                        errors.push(
                            meta.error(format!("`{name}` takes no value: write `#[occ({name})]`")),
                        );
                        let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                    } else if meta.input.peek(syn::token::Paren) {
                        errors.push(
                            meta.error(format!("`{name}` takes no value: write `#[occ({name})]`")),
                        );
                        let _ = meta.parse_nested_meta(|_| Ok(()));
                    }
                    // Marked either way: no "no id field" error follows.
                    if slot.replace(key.span()).is_some() {
                        errors.at(&key, format!("duplicate `{name}`"));
                    }
                    Ok(())
                };
            if key.is_ident("id") {
                flag(&mut out.id, "id", errors)
            } else if key.is_ident("column") {
                let value = meta.value().map_err(|_| {
                    meta.error("`column` takes a string: `#[occ(column = \"…\")]`")
                })?;
                let lit: LitStr = value.parse().map_err(|e| {
                    syn::Error::new(e.span(), "`column` takes a string literal: `#[occ(column = \"…\")]`")
                })?;
                if lit.value().is_empty() {
                    errors.at(&lit, "the column name cannot be empty: write the column's name, or remove `column` to use the field's");
                }
                if out.column.replace(lit).is_some() {
                    errors.at(&key, "duplicate `column`: give the column once");
                }
                Ok(())
            } else if key.is_ident("generated") {
                let mut client = false;
                if meta.input.peek(syn::token::Paren) {
                    meta.parse_nested_meta(|inner| {
                        if inner.path.is_ident("client_may_choose") {
                            client = true;
                            Ok(())
                        } else {
                            Err(inner.error(format!(
                                "unknown option `{}` of `generated`: the only one is `client_may_choose`",
                                path_text(&inner.path)
                            )))
                        }
                    })?;
                } else if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                    errors.at(&key, "`generated` takes no value: write `#[occ(generated)]`, or `#[occ(generated(client_may_choose))]`");
                }
                if out.generated.replace((key.span(), client)).is_some() {
                    errors.at(&key, "duplicate `generated`");
                }
                Ok(())
            } else if key.is_ident("last_modified") {
                flag(&mut out.last_modified, "last_modified", errors)
            } else if key.is_ident("scope") {
                flag(&mut out.scope, "scope", errors)
            } else if key.is_ident("version") {
                errors.at(
                    &key,
                    "the version is marked with `#[version]`, not `#[occ(version)]`",
                );
                out.version.get_or_insert(key.span());
                Ok(())
            } else if key.is_ident("etag")
                || key.is_ident("table")
                || key.is_ident("tombstones")
                || key.is_ident("weak")
            {
                if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                }
                errors.at(
                    &key,
                    format!(
                        "`{}` belongs on the struct, not on a field",
                        path_text(&key)
                    ),
                );
                Ok(())
            } else {
                if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                }
                errors.at(
                    &key,
                    format!(
                        "unknown `occ` attribute `{}`: on a field, expected one of {FIELD_KEYS}",
                        path_text(&key)
                    ),
                );
                Ok(())
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

/// Whether the field's `occ` attributes say `generated` (to tell which
/// field carried it).
pub(crate) fn field_attrs_generated(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("occ"))
        .any(|attr| {
            let mut found = false;
            let _ = attr.parse_nested_meta(|meta| {
                found |= meta.path.is_ident("generated");
                if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                } else if meta.input.peek(syn::token::Paren) {
                    let _ = meta.parse_nested_meta(|_| Ok(()));
                }
                Ok(())
            });
            found
        })
}

/// `#[sqlx(rename = "…", skip, default, flatten, …)]` on a field; keys the
/// table mapping does not need are left to sqlx.
pub(crate) fn sqlx_field(attrs: &[Attribute], errors: &mut Errors) -> SqlxField {
    let mut out = SqlxField::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("sqlx")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("skip") || meta.path.is_ident("default") {
                out.unread = Some(meta.path.span());
            } else if meta.path.is_ident("flatten") {
                out.flatten = Some(meta.path.span());
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|_| Ok(()))?;
            }
            Ok(())
        });
        // sqlx reports its own syntax errors; ours would repeat them.
        let _ = result;
    }
    let _ = errors;
    out
}

/// `#[sqlx(rename_all = "…")]` on the struct, checked against the rules
/// sqlx knows.
pub(crate) fn sqlx_rename_all(
    attrs: &[Attribute],
    errors: &mut Errors,
) -> Option<(LitStr, String)> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("sqlx")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let lit: LitStr = meta.value()?.parse()?;
                out = Some(lit);
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|_| Ok(()))?;
            }
            Ok(())
        });
    }
    let lit = out?;
    match crate::serde_names::apply(&lit.value(), "probe") {
        Some(_) if lit.value() != "SCREAMING-KEBAB-CASE" => {
            let rule = lit.value();
            Some((lit, rule))
        }
        _ => {
            errors.at(&lit, format!(
                "unknown `rename_all` rule `{}`: sqlx knows \"snake_case\", \"lowercase\", \"UPPERCASE\", \"SCREAMING_SNAKE_CASE\", \"kebab-case\", \"camelCase\" and \"PascalCase\"",
                lit.value()
            ));
            None
        }
    }
}

/// A path as written, `a::b`.
pub(crate) fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
