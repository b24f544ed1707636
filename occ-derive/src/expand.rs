//! The impls generated from the model.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::parse::{FieldRef, Input, Part, Table};
use crate::serde_names::{self, Member};

pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    let versioned = versioned(input);
    let sql = input.table.as_ref().map(|_| sql_model(input));
    quote! {
        #versioned
        #sql
    }
}

fn versioned(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let (id, id_ty) = (input.id.ident, input.id.ty);
    let (version, version_ty) = (input.version.ident, input.version.ty);
    let (start, matching) = if input.weak {
        (
            quote!(::occ_core::EntityTagBuilder::weak()),
            quote!(::occ_core::__private::TagMatcher::weak(tag)),
        )
    } else {
        (
            quote!(::occ_core::EntityTagBuilder::strong()),
            quote!(::occ_core::__private::TagMatcher::strong(tag)),
        )
    };
    let parts: Vec<TokenStream> = input
        .template
        .iter()
        .map(|part| match part {
            // The template's text holds only octets a tag takes as they
            // are (checked when it was parsed): nothing to encode.
            Part::Literal(text) => quote!(.verbatim(#text)),
            // A primitive integer is written from its digits, without
            // `core::fmt`: most ids and versions are, and every tag built
            // or matched writes them.
            Part::Id if is_primitive_integer(id_ty) => quote_spanned!(id_ty.span()=> .integer(id)),
            // Spanned on the id type: a type without `Display` is reported there.
            Part::Id => quote_spanned!(id_ty.span()=> .value(id)),
            Part::Version if is_primitive_integer(version_ty) => {
                quote_spanned!(version_ty.span()=> .integer(&version))
            }
            Part::Version => quote_spanned!(version_ty.span()=> .version(version)),
        })
        .collect();
    // The same template, matched: the version goes through the trait's
    // bound, so a version field of the wrong type is reported once, where
    // the tag is built, not again here.
    let matched: Vec<TokenStream> = input
        .template
        .iter()
        .zip(&parts)
        .map(|(part, built)| match part {
            Part::Version if !is_primitive_integer(version_ty) => {
                quote!(.version_of::<Self>(version))
            }
            _ => built.clone(),
        })
        .collect();
    // A template that ends with the version reads it from the end of the
    // tag; any other keeps the trait's search over runs of digits.
    let version_from_tag = match input.template.split_last() {
        Some((Part::Version, before)) => {
            let before = &matched[..before.len()];
            let at_end = if is_primitive_integer(version_ty) {
                quote!(.integer_at_end())
            } else {
                quote!(.version_at_end::<Self>())
            };
            Some(quote! {
                fn version_from_tag(
                    id: &Self::Id,
                    tag: ::occ_core::EntityTagRef<'_>,
                ) -> ::core::option::Option<Self::Version> {
                    #matching #(#before)* #at_end
                }
            })
        }
        _ => None,
    };
    let last_modified = input.last_modified.as_ref().map(|field| {
        let name = field.ident;
        let lm =
            quote_spanned!(field.ty.span()=> ::occ_core::Timestamp::to_system_time(&self.#name));
        let set = quote_spanned!(field.ty.span()=>
            ::occ_core::Timestamp::set_system_time(&mut self.#name, time));
        quote! {
            const HAS_LAST_MODIFIED: bool = true;

            fn last_modified(&self) -> ::core::option::Option<::std::time::SystemTime> {
                #lm
            }

            fn set_last_modified(&mut self, time: ::std::time::SystemTime) {
                #set
            }
        }
    });
    let generated = input.generated.map(|client_may_choose| {
        let generate = quote_spanned!(id_ty.span()=> <#id_ty as ::occ_core::GeneratedId>::generate());
        let assigned =
            quote_spanned!(id_ty.span()=> <#id_ty as ::occ_core::GeneratedId>::from_assigned(number));
        quote! {
            const ID_SOURCE: ::occ_core::IdSource =
                ::occ_core::IdSource::Generated { client_may_choose: #client_may_choose };

            fn generate_id() -> ::core::option::Option<Self::Id> {
                #generate
            }

            fn id_from_assigned(number: i64) -> ::core::option::Option<Self::Id> {
                #assigned
            }
        }
    });
    let members = members(input);
    let scope = scope(input);
    let read_version =
        quote_spanned!(version_ty.span()=> ::occ_core::__private::version_of(&self.#version));
    quote! {
        #[automatically_derived]
        impl #impl_generics ::occ_core::Versioned for #ident #ty_generics #where_clause {
            type Id = #id_ty;
            type Version = #version_ty;

            #last_modified
            #generated
            #members
            #scope

            fn id(&self) -> &Self::Id {
                &self.#id
            }

            fn set_id(&mut self, id: Self::Id) {
                self.#id = id;
            }

            fn version(&self) -> Self::Version {
                #read_version
            }

            fn set_version(&mut self, version: Self::Version) {
                self.#version = version;
            }

            fn entity_tag_for(id: &Self::Id, version: Self::Version) -> ::occ_core::EntityTag {
                #start #(#parts)* .finish()
            }

            fn is_tag_of(
                id: &Self::Id,
                version: Self::Version,
                tag: ::occ_core::EntityTagRef<'_>,
            ) -> bool {
                #matching #(#matched)* .finish()
            }

            #version_from_tag
        }
    }
}

/// Whether `ty` names a primitive integer (`i64`, `std::primitive::u32`, …).
/// An alias or a newtype is written through its `Display` instead.
fn is_primitive_integer(ty: &syn::Type) -> bool {
    const INTEGERS: [&str; 12] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    let syn::Type::Path(syn::TypePath { qself: None, path }) = ty else {
        return false;
    };
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let bare = path.segments.iter().all(|s| s.arguments.is_none());
    let integer = segments
        .last()
        .is_some_and(|last| INTEGERS.contains(&last.as_str()));
    let prefix_ok = match segments.as_slice() {
        [_] => path.leading_colon.is_none(),
        [krate, primitive, _] => (krate == "std" || krate == "core") && primitive == "primitive",
        _ => false,
    };
    bare && integer && prefix_ok
}

/// The declared scope (`#[occ(scope)]`): its column, and the field read
/// and set through `ScopeField`.
fn scope(input: &Input<'_>) -> Option<TokenStream> {
    let field = input.scope.as_ref()?;
    let (name, ty) = (field.ident, field.ty);
    let column = match input.table.as_ref().and_then(|t| t.scope.clone()) {
        Some(column) => column,
        None => {
            let raw = name.to_string();
            raw.strip_prefix("r#").unwrap_or(&raw).to_owned()
        }
    };
    let field_trait = quote_spanned!(ty.span()=> <#ty as ::occ_core::repository::ScopeField>);
    Some(quote! {
        const SCOPE_COLUMN: ::core::option::Option<&'static str> =
            ::core::option::Option::Some(#column);

        fn scope_value(&self) -> ::core::option::Option<::occ_core::repository::ScopeValue> {
            ::core::option::Option::Some(#field_trait::to_scope_value(&self.#name))
        }

        fn set_scope_value(&mut self, value: &::occ_core::repository::ScopeValue) -> bool {
            match #field_trait::from_scope_value(value) {
                ::core::option::Option::Some(value) => {
                    self.#name = value;
                    true
                }
                ::core::option::Option::None => false,
            }
        }

        fn canonical_scope_value(
            value: &::occ_core::repository::ScopeValue,
        ) -> ::core::option::Option<::occ_core::repository::ScopeValue> {
            #field_trait::from_scope_value(value).map(|v| #field_trait::to_scope_value(&v))
        }
    })
}

/// `Versioned::MEMBERS`, when serde's reading of the struct is one the
/// derive models.
fn members(input: &Input<'_>) -> Option<TokenStream> {
    let rename_all = serde_names::container(input.attrs)?;
    let name = |field: &FieldRef<'_>| match serde_names::field(
        field.attrs,
        field.ident,
        rename_all.as_deref(),
    ) {
        Member::Named(names) | Member::CustomValue(names) => {
            let first = &names[0];
            quote!(::core::option::Option::Some(#first))
        }
        Member::Skipped | Member::Custom => quote!(::core::option::Option::None),
    };
    let id = name(&input.id);
    let version = name(&input.version);
    let last_modified = input
        .last_modified
        .as_ref()
        .map_or_else(|| quote!(::core::option::Option::None), name);
    Some(quote! {
        const MEMBERS: ::occ_core::Members = ::occ_core::Members {
            id: #id,
            version: #version,
            last_modified: #last_modified,
        };
    })
}

fn sql_model(input: &Input<'_>) -> TokenStream {
    let Some(table) = &input.table else {
        return TokenStream::new();
    };
    let Table {
        name: table_name,
        tombstones,
        merge,
        id: id_column,
        version: version_column,
        last_modified: lm_column,
        scope: _,
        data,
        unwritten: _,
    } = table;
    let ident = input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let mut generics = input.generics.clone();
    generics
        .params
        .push(syn::parse_quote!(__OccDb: ::occ_core::repository::sql::sqlx::Database));
    let (impl_generics, _, _) = generics.split_for_impl();
    let sqlx = quote!(::occ_core::repository::sql::sqlx);
    let id_ty = input.id.ty;
    let data_tys = data.iter().map(|(f, _)| f.ty);
    let mut predicates: Vec<TokenStream> = input
        .generics
        .where_clause
        .iter()
        .flat_map(|w| w.predicates.iter().map(|p| quote!(#p)))
        .collect();
    predicates.push(quote! {
        Self: for<'__r> #sqlx::FromRow<'__r, <__OccDb as #sqlx::Database>::Row>
            + ::core::marker::Send + ::core::marker::Sync + ::core::marker::Unpin + 'static
    });
    predicates.push(quote!(#id_ty: for<'__q> #sqlx::Encode<'__q, __OccDb> + #sqlx::Type<__OccDb>));
    for ty in data_tys {
        predicates.push(quote!(#ty: for<'__q> #sqlx::Encode<'__q, __OccDb> + #sqlx::Type<__OccDb>));
    }
    let data_columns = data.iter().map(|(_, column)| column);
    let binds = data.iter().map(|(f, _)| {
        let name = f.ident;
        quote!(#sqlx::Arguments::add(args, &self.#name)?;)
    });
    let lm_column = match lm_column {
        Some(column) => quote!(::core::option::Option::Some(#column)),
        None => quote!(::core::option::Option::None),
    };
    let tombstones = match tombstones {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let bind_member = bind_member(input, table, &mut predicates);
    let field_versions = if *merge {
        let companions = data.iter().map(|(_, column)| format!("{column}_version"));
        quote!(::core::option::Option::Some(&[#(#companions),*]))
    } else {
        quote!(::core::option::Option::None)
    };
    let data_members = data_members(input, table);
    // Each column the repository reads and binds, with its field's type:
    // `verify()` asks whether the column's type is one it decodes from.
    let typed: Vec<_> = std::iter::once((id_column, id_ty))
        .chain(data.iter().map(|(f, c)| (c, f.ty)))
        .collect();
    let type_arms = typed.iter().map(|(column, ty)| {
        quote! {
            #column => ::core::option::Option::Some(::occ_core::repository::sql::ColumnFit {
                fits: <#ty as #sqlx::Type<__OccDb>>::compatible(column_type),
                rust_type: ::core::any::type_name::<#ty>(),
            }),
        }
    });
    // The same columns' declared types, for the schema occ writes.
    let decl_arms = typed.iter().map(|(column, ty)| {
        quote! {
            #column => ::core::option::Option::Some(::occ_core::repository::sql::ColumnDecl {
                sql_type: #sqlx::TypeInfo::name(&<#ty as #sqlx::Type<__OccDb>>::type_info()).to_owned(),
                rust_type: ::core::any::type_name::<#ty>(),
            }),
        }
    });
    // The modification time is the database clock's type: only whether it
    // may be NULL is the field's.
    let lm_arm = match (&table.last_modified, &input.last_modified) {
        (Some(column), Some(field)) => {
            let ty = field.ty;
            quote! {
                #column => ::core::option::Option::Some(::occ_core::repository::sql::ColumnDecl {
                    sql_type: ::std::string::String::new(),
                    rust_type: ::core::any::type_name::<#ty>(),
                }),
            }
        }
        _ => TokenStream::new(),
    };
    let bind_scope = input.scope.as_ref().map(|field| {
        let ty = field.ty;
        let message = format!(
            "the scope's value does not fit `{}`, the type of `{}`",
            quote::ToTokens::to_token_stream(ty),
            field.ident
        );
        quote! {
            fn bind_scope(
                value: &::occ_core::repository::ScopeValue,
                args: &mut <__OccDb as #sqlx::Database>::Arguments,
            ) -> ::core::result::Result<(), #sqlx::error::BoxDynError> {
                match <#ty as ::occ_core::repository::ScopeField>::from_scope_value(value) {
                    ::core::option::Option::Some(value) => #sqlx::Arguments::add(args, value),
                    ::core::option::Option::None => ::core::result::Result::Err(#message.into()),
                }
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics ::occ_core::repository::sql::SqlModel<__OccDb> for #ident #ty_generics
        where
            #(#predicates,)*
        {
            const TABLE: &'static str = #table_name;
            const ID_COLUMN: &'static str = #id_column;
            const VERSION_COLUMN: &'static str = #version_column;
            const DATA_COLUMNS: &'static [&'static str] = &[#(#data_columns),*];
            const LAST_MODIFIED_COLUMN: ::core::option::Option<&'static str> = #lm_column;
            const TOMBSTONE_TABLE: ::core::option::Option<&'static str> = #tombstones;
            const FIELD_VERSION_COLUMNS: ::core::option::Option<&'static [&'static str]> = #field_versions;
            const DATA_MEMBERS: &'static [&'static str] = &[#(#data_members),*];

            fn bind_id(
                id: &Self::Id,
                args: &mut <__OccDb as #sqlx::Database>::Arguments,
            ) -> ::core::result::Result<(), #sqlx::error::BoxDynError> {
                #sqlx::Arguments::add(args, id)
            }

            fn bind_data(
                &self,
                args: &mut <__OccDb as #sqlx::Database>::Arguments,
            ) -> ::core::result::Result<(), #sqlx::error::BoxDynError> {
                #(#binds)*
                ::core::result::Result::Ok(())
            }

            fn column_type(
                column: &str,
                column_type: &<__OccDb as #sqlx::Database>::TypeInfo,
            ) -> ::core::option::Option<::occ_core::repository::sql::ColumnFit> {
                match column {
                    #(#type_arms)*
                    _ => ::core::option::Option::None,
                }
            }

            fn column_decl(
                column: &str,
            ) -> ::core::option::Option<::occ_core::repository::sql::ColumnDecl> {
                match column {
                    #(#decl_arms)*
                    #lm_arm
                    _ => ::core::option::Option::None,
                }
            }

            #bind_scope
            #bind_member
        }
    }
}

/// The JSON member of each data column, in order; none when serde's
/// naming is one the derive does not model (the column names are used).
fn data_members(input: &Input<'_>, table: &Table<'_>) -> Vec<String> {
    let Some(rename_all) = serde_names::container(input.attrs) else {
        return Vec::new();
    };
    let rule = rename_all.as_deref();
    let mut members = Vec::with_capacity(table.data.len());
    for (field, _) in &table.data {
        match serde_names::field(field.attrs, field.ident, rule) {
            Member::Named(names) | Member::CustomValue(names) if !names.is_empty() => {
                members.push(names[0].clone());
            }
            _ => return Vec::new(),
        }
    }
    members
}

/// `SqlModel::bind_member`: each member serde reads maps to its column,
/// the id's member must repeat the id, the version's merges in the
/// application, the modification time's is ignored (the database sets
/// it), a field the table does not hold cannot be patched, an unknown
/// member is refused. A member whose value serde reads its own way (`with`,
/// `deserialize_with`, `default`) merges in the application. Nothing when
/// serde's reading of the struct, or of a field's name, is one the derive
/// does not model (`flatten`, say): the trait's default then merges in
/// the application.
fn bind_member(
    input: &Input<'_>,
    table: &Table<'_>,
    predicates: &mut Vec<TokenStream>,
) -> TokenStream {
    let Some(rename_all) = serde_names::container(input.attrs) else {
        return TokenStream::new();
    };
    let private = quote!(::occ_core::__private);
    let binding = quote!(::occ_core::repository::sql::MemberBinding);
    let rule = rename_all.as_deref();
    let member = |field: &FieldRef<'_>| serde_names::field(field.attrs, field.ident, rule);
    let every = table
        .data
        .iter()
        .map(|(f, _)| f)
        .chain([&input.id, &input.version])
        .chain(&input.last_modified)
        .chain(&table.unwritten);
    for field in every {
        if matches!(member(field), Member::Custom) {
            // A member the derive cannot name would be refused as unknown.
            return TokenStream::new();
        }
    }
    // The member names of a field, and whether serde reads its value its
    // own way.
    let names = |field: &FieldRef<'_>| match member(field) {
        Member::Named(names) => Some((names, false)),
        Member::CustomValue(names) => Some((names, true)),
        Member::Skipped | Member::Custom => None,
    };
    let mut arms = Vec::new();
    // The scope's member, under any of its names: ignored, whatever its
    // value (the repository fills the field from the request's scope).
    if let Some(scope) = &input.scope {
        arms.extend(names(scope).map(|(names, _)| quote!(#(#names)|* => #binding::Unchanged,)));
    }
    for (field, column) in &table.data {
        if input.scope.as_ref().is_some_and(|s| s.ident == field.ident) {
            continue;
        }
        let ty = field.ty;
        predicates.push(quote!(#ty: #private::serde::de::DeserializeOwned));
        arms.extend(names(field).map(|(names, custom)| {
            if custom {
                quote!(#(#names)|* => #binding::Unsupported,)
            } else {
                quote!(#(#names)|* => #private::bind_member_value::<__OccDb, #ty>(member, value, args, #column),)
            }
        }));
    }
    let id_ty = input.id.ty;
    predicates.push(quote!(#id_ty: #private::serde::de::DeserializeOwned));
    arms.extend(names(&input.id).map(|(names, custom)| {
        if custom {
            quote!(#(#names)|* => #binding::Unsupported,)
        } else {
            quote!(#(#names)|* => #private::id_member::<Self>(member, value, id),)
        }
    }));
    arms.extend(
        names(&input.version).map(|(names, _)| quote!(#(#names)|* => #binding::Unsupported,)),
    );
    // Whatever its value, and however serde reads it: the store sets it.
    arms.extend(
        input
            .last_modified
            .as_ref()
            .and_then(names)
            .map(|(names, _)| quote!(#(#names)|* => #binding::Unchanged,)),
    );
    for field in &table.unwritten {
        let message = format!("`{}` is not stored and cannot be patched", field.ident);
        arms.extend(names(field).map(|(names, _)| {
            quote!(#(#names)|* => #binding::Invalid(::std::string::String::from(#message)),)
        }));
    }
    quote! {
        fn bind_member(
            id: &Self::Id,
            member: &str,
            value: &#private::serde_json::Value,
            args: &mut <__OccDb as ::occ_core::repository::sql::sqlx::Database>::Arguments,
        ) -> #binding {
            match member {
                #(#arms)*
                _ => #private::unknown_member(member),
            }
        }
    }
}
