//! From `syn`'s input to a small model of the versioned struct, collecting
//! every error.

use proc_macro2::Span;
use syn::{Attribute, Data, DeriveInput, Fields, Generics, Ident, LitStr, Type};

use crate::attrs::{
    container_attrs, field_attrs, field_attrs_generated, sqlx_field, sqlx_rename_all, SqlxField,
};
use crate::errors::Errors;
use crate::template::{self, Segment};

/// A field the impl reads.
pub(crate) struct FieldRef<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: &'a [Attribute],
}

/// The struct, as the expansion needs it.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    /// The struct's own attributes (serde's among them).
    pub(crate) attrs: &'a [Attribute],
    pub(crate) generics: &'a Generics,
    pub(crate) id: FieldRef<'a>,
    pub(crate) version: FieldRef<'a>,
    pub(crate) last_modified: Option<FieldRef<'a>>,
    /// The template with placeholders resolved to "id" or "version".
    pub(crate) template: Vec<Part>,
    pub(crate) weak: bool,
    /// `#[occ(generated)]` on the id: `Some(client_may_choose)`.
    pub(crate) generated: Option<bool>,
    /// `#[occ(table = "…")]` and its columns.
    pub(crate) table: Option<Table<'a>>,
    /// `#[occ(scope)]`: the field that holds the row-level scope.
    pub(crate) scope: Option<FieldRef<'a>>,
}

/// The table a model maps to, with each column named as sqlx's `FromRow`
/// reads it (`#[sqlx(rename)]`, `#[sqlx(rename_all)]`) or as
/// `#[occ(column)]` says.
pub(crate) struct Table<'a> {
    pub(crate) name: LitStr,
    /// `#[occ(tombstones = "…")]`: the table of deleted ids' last versions.
    pub(crate) tombstones: Option<LitStr>,
    /// `#[occ(merge)]`: per-member versions in `<column>_version` columns.
    pub(crate) merge: bool,
    pub(crate) id: String,
    pub(crate) version: String,
    /// Set by the database on every write, never bound.
    pub(crate) last_modified: Option<String>,
    /// The scope's column (also among `data`: the repository fills the
    /// field from the request's scope before binding it).
    pub(crate) scope: Option<String>,
    /// The columns a write binds, in declaration order.
    pub(crate) data: Vec<(FieldRef<'a>, String)>,
    /// Fields `FromRow` skips or defaults: never written.
    pub(crate) unwritten: Vec<FieldRef<'a>>,
}

/// A resolved template piece.
pub(crate) enum Part {
    Literal(String),
    Id,
    Version,
}

impl<'a> Input<'a> {
    pub(crate) fn from_syn(input: &'a DeriveInput) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(&named.named),
                Fields::Unnamed(_) => {
                    errors.at(&data.fields, "`#[derive(Versioned)]` needs a struct with named fields, such as `struct Profile { id: u64, #[version] version: u64 }`; tuple structs are not supported");
                    None
                }
                Fields::Unit => {
                    errors.at(&input.ident, "`#[derive(Versioned)]` needs a struct with named fields, such as `struct Profile { id: u64, #[version] version: u64 }`; this unit struct has none");
                    None
                }
            },
            Data::Enum(data) => {
                errors.at(data.enum_token, "`#[derive(Versioned)]` needs a struct with named fields; enums are not supported");
                None
            }
            Data::Union(data) => {
                errors.at(data.union_token, "`#[derive(Versioned)]` needs a struct with named fields; unions are not supported");
                None
            }
        };
        let container = container_attrs(&input.attrs, &mut errors);
        let Some(fields) = fields else {
            return Err(errors
                .take()
                .unwrap_or_else(|| syn::Error::new(Span::call_site(), "unsupported input")));
        };

        let mut version: Option<FieldRef<'a>> = None;
        let mut marked_id: Option<FieldRef<'a>> = None;
        let mut named_id: Option<FieldRef<'a>> = None;
        let mut last_modified: Option<FieldRef<'a>> = None;
        let mut scope: Option<FieldRef<'a>> = None;
        let mut all = Vec::new();
        let mut field_info = Vec::new();
        let mut generated: Option<(Span, bool)> = None;
        for field in fields {
            let Some(ident) = &field.ident else { continue };
            let this = || FieldRef {
                ident,
                ty: &field.ty,
                attrs: &field.attrs,
            };
            all.push(this());
            let attrs = field_attrs(&field.attrs, &mut errors);
            let second_version =
                "a second `#[version]` field: mark exactly one field as the version";
            if mark(
                &mut version,
                attrs.version,
                this,
                second_version,
                &mut errors,
            ) {
                check_integer(&field.ty, &mut errors);
            }
            let second_id = "a second `#[occ(id)]` field: mark exactly one field as the id";
            mark(&mut marked_id, attrs.id, this, second_id, &mut errors);
            let second_lm = "a second `#[occ(last_modified)]` field: mark at most one";
            mark(
                &mut last_modified,
                attrs.last_modified,
                this,
                second_lm,
                &mut errors,
            );
            let second_scope = "a second `#[occ(scope)]` field: a model has one row-level scope";
            mark(&mut scope, attrs.scope, this, second_scope, &mut errors);
            let other_role = attrs.version.or(attrs.id).or(attrs.last_modified);
            if let (Some(span), Some(_)) = (attrs.scope, other_role) {
                errors.at(span, "the scope is a field of its own: it cannot also be the id, the version or the modification time");
            }
            if ident == "id" {
                named_id = Some(this());
            }
            if let Some(g) = attrs.generated {
                if generated.replace(g).is_some() {
                    errors.at(g.0, "a second `generated`: only the id is generated");
                }
            }
            field_info.push((attrs.column, sqlx_field(&field.attrs, &mut errors)));
        }
        if version.is_none() {
            errors.at(&input.ident, format!(
                "`{}` has no version field: mark one integer field with `#[version]`, such as `#[version] version: u64`",
                input.ident
            ));
        }
        let id = marked_id.or(named_id);
        if id.is_none() {
            errors.at(&input.ident, format!(
                "`{}` has no id field: add a field named `id`, or mark the identifying field with `#[occ(id)]`",
                input.ident
            ));
        }

        let template = match (&container.etag, &id, &version) {
            (Some(lit), Some(id), Some(version)) => {
                resolve_template(lit, id.ident, version.ident, &all, &mut errors)
            }
            (None, Some(_), Some(_)) => vec![Part::Id, Part::Literal("-v".into()), Part::Version],
            _ => Vec::new(),
        };

        errors.check()?;
        let (Some(id), Some(version)) = (id, version) else {
            return Err(syn::Error::new(
                input.ident.span(),
                "internal: id or version missing",
            ));
        };
        if let Some((span, _)) = generated {
            let on_id = fields
                .iter()
                .zip(&all)
                .any(|(f, r)| r.ident == id.ident && field_attrs_generated(&f.attrs));
            if !on_id {
                errors.at(span, format!(
                    "`generated` belongs on the id field `{}`: it says that the server assigns new ids",
                    id.ident
                ));
            }
        }
        if let Some(scope) = &scope {
            if scope.ident == id.ident {
                errors.at(scope.ident, "the scope cannot be the id: declare the tenant column as a field of its own, and key the table by both (`PRIMARY KEY (tenant_id, id)`)");
            }
        }
        let table = match container.table {
            Some(name) => {
                let mut table = table(
                    name,
                    all,
                    field_info,
                    (&id, &version, last_modified.as_ref(), scope.as_ref()),
                    sqlx_rename_all(&input.attrs, &mut errors),
                    &mut errors,
                );
                table.tombstones = container.tombstones;
                table.merge = container.merge.is_some();
                Some(table)
            }
            None => {
                if let Some(merge) = container.merge {
                    errors.at(merge, "`merge` keeps per-member versions in the model's table: add `#[occ(table = \"…\")]` to the struct");
                }
                if let Some(tombstones) = &container.tombstones {
                    errors.at(tombstones, "`tombstones` names the tombstone table of a model's table: add `#[occ(table = \"…\")]` to the struct");
                }
                for (column, _) in field_info.iter() {
                    if let Some(column) = column {
                        errors.at(column, "`column` names a table column: add `#[occ(table = \"…\")]` to the struct");
                    }
                }
                None
            }
        };
        errors.check()?;
        Ok(Self {
            ident: &input.ident,
            attrs: &input.attrs,
            generics: &input.generics,
            id,
            version,
            last_modified,
            template,
            weak: container.weak.is_some(),
            generated: generated.map(|(_, client)| client),
            table,
            scope,
        })
    }
}

/// Puts the field into `slot` when it carries the mark (`span`), or
/// reports `second` on the mark when another field had it first. Whether
/// the field is now the one in `slot`.
fn mark<'a>(
    slot: &mut Option<FieldRef<'a>>,
    span: Option<Span>,
    field: impl FnOnce() -> FieldRef<'a>,
    second: &str,
    errors: &mut Errors,
) -> bool {
    let Some(span) = span else { return false };
    if slot.is_some() {
        errors.at(span, second);
        return false;
    }
    *slot = Some(field());
    true
}

/// The table mapping: every column as `FromRow` reads it.
fn table<'a>(
    name: LitStr,
    all: Vec<FieldRef<'a>>,
    info: Vec<(Option<LitStr>, SqlxField)>,
    (id, version, last_modified, scope): (
        &FieldRef<'a>,
        &FieldRef<'a>,
        Option<&FieldRef<'a>>,
        Option<&FieldRef<'a>>,
    ),
    rename_all: Option<(LitStr, String)>,
    errors: &mut Errors,
) -> Table<'a> {
    let mut out = Table {
        name,
        tombstones: None,
        merge: false,
        id: String::new(),
        version: String::new(),
        last_modified: None,
        scope: None,
        data: Vec::new(),
        unwritten: Vec::new(),
    };
    for (field, (column, sqlx)) in all.into_iter().zip(info) {
        let raw = field.ident.to_string();
        let plain = raw.strip_prefix("r#").unwrap_or(&raw).to_owned();
        let by_rule = match &rename_all {
            Some((_, rule)) => crate::serde_names::apply(rule, &plain).unwrap_or(plain),
            None => plain,
        };
        let name = match (&column, &sqlx.rename) {
            (Some(occ), Some(renamed)) if occ.value() != renamed.value() => {
                errors.at(occ, format!(
                    "`#[occ(column = \"{}\")]` disagrees with `#[sqlx(rename = \"{}\")]`, which `FromRow` reads: name the column once, with `#[sqlx(rename)]`",
                    occ.value(), renamed.value()
                ));
                renamed.value()
            }
            (_, Some(renamed)) => renamed.value(),
            (Some(occ), None) => occ.value(),
            (None, None) => by_rule,
        };
        let role = if field.ident == id.ident {
            Some("id")
        } else if field.ident == version.ident {
            Some("version")
        } else if last_modified.is_some_and(|lm| field.ident == lm.ident) {
            Some("modification time")
        } else if scope.is_some_and(|s| field.ident == s.ident) {
            Some("scope")
        } else {
            None
        };
        if let Some(span) = sqlx.flatten {
            errors.at(span, "a `#[sqlx(flatten)]` field has no column of its own, so `#[occ(table)]` cannot write it: implement `SqlModel` by hand");
            continue;
        }
        if let Some(span) = sqlx.unread {
            match role {
                Some(role) => errors.at(span, format!(
                    "the {role} field `{}` must be read from its column: remove `skip` / `default`",
                    field.ident
                )),
                // On `column`, which is what to remove.
                None if column.is_some() => errors.at(column.as_ref().map_or(span, LitStr::span), format!(
                    "`{}` is not read from the table (`skip` / `default`), so it has no column to name: remove `#[occ(column)]`",
                    field.ident
                )),
                None => out.unwritten.push(field),
            }
            continue;
        }
        match role {
            Some("id") => out.id = name,
            Some("version") => out.version = name,
            Some("scope") => {
                out.scope = Some(name.clone());
                out.data.push((field, name));
            }
            Some(_) => out.last_modified = Some(name),
            None => out.data.push((field, name)),
        }
    }
    out
}

const INTEGERS: [&str; 12] = [
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// Rejects types that are surely not integers; an alias or a path we
/// cannot see through is left to the `VersionNumber` bound.
fn check_integer(ty: &Type, errors: &mut Errors) {
    let text = quote::ToTokens::to_token_stream(ty).to_string();
    let surely_not = match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            !INTEGERS.contains(&name.as_str())
                && matches!(
                    name.as_str(),
                    "String"
                        | "str"
                        | "f32"
                        | "f64"
                        | "bool"
                        | "char"
                        | "Option"
                        | "Vec"
                        | "Box"
                        | "SystemTime"
                        | "Uuid"
                        | "Cow"
                )
        }),
        Type::Path(_) | Type::Group(_) | Type::Paren(_) | Type::Macro(_) => false,
        _ => true,
    };
    if surely_not {
        errors.at(
            ty,
            format!(
            "a `#[version]` field must have an integer type such as `u64` or `i64`, not `{text}`"
        ),
        );
    }
}

fn resolve_template(
    lit: &LitStr,
    id: &Ident,
    version: &Ident,
    all: &[FieldRef<'_>],
    errors: &mut Errors,
) -> Vec<Part> {
    let segments = match template::parse(&lit.value()) {
        Ok(segments) => segments,
        Err(error) => {
            errors.at(lit, error);
            return Vec::new();
        }
    };
    let mut parts = Vec::new();
    let (mut has_id, mut has_version, mut misnamed) = (false, false, false);
    for segment in segments {
        match segment {
            Segment::Literal(text) => parts.push(Part::Literal(text)),
            Segment::Field(name) if *id == name => {
                has_id = true;
                parts.push(Part::Id);
            }
            Segment::Field(name) if *version == name => {
                has_version = true;
                parts.push(Part::Version);
            }
            Segment::Field(name) if all.iter().any(|f| *f.ident == name) => {
                misnamed = true;
                errors.at(lit, format!(
                    "the ETag template can only use the id field `{id}` and the version field `{version}`, not `{name}`: the tag must follow from id and version alone"
                ));
            }
            Segment::Field(name) => {
                misnamed = true;
                let known: Vec<String> = all.iter().map(|f| format!("`{}`", f.ident)).collect();
                errors.at(
                    lit,
                    format!(
                        "the ETag template names `{name}`, which is not a field; the fields are {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    // After a misnamed placeholder, what is missing is most likely what
    // was meant: one error is enough.
    if misnamed {
        return parts;
    }
    if !has_version {
        errors.at(lit, format!(
            "the ETag template must contain `{{{version}}}`, or tags would not change when the resource does"
        ));
    }
    if !has_id {
        errors.at(lit, format!(
            "the ETag template must contain `{{{id}}}`, so that a tag of one resource never matches another"
        ));
    }
    parts
}
