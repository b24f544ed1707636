//! What to emit when the input is wrong: the errors, and stub impls so
//! that uses of the type as `Versioned` (and, with `#[occ(table = …)]`,
//! as a `SqlModel`) do not add errors of their own: one mistake, one
//! error.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let sql_model = has_table(input).then(|| sql_model_stub(input));
    quote! {
        #errors

        #sql_model

        #[automatically_derived]
        impl #impl_generics ::occ_core::Versioned for #ident #ty_generics #where_clause {
            type Id = ();
            type Version = u64;

            fn id(&self) -> &Self::Id {
                ::core::unreachable!()
            }

            fn version(&self) -> Self::Version {
                ::core::unreachable!()
            }

            fn set_version(&mut self, _: Self::Version) {
                ::core::unreachable!()
            }

            fn entity_tag_for(_: &Self::Id, _: Self::Version) -> ::occ_core::EntityTag {
                ::core::unreachable!()
            }
        }
    }
}

/// Whether the struct says `#[occ(table = …)]`, however the rest of it
/// reads.
fn has_table(input: &DeriveInput) -> bool {
    input.attrs.iter().any(|attr| {
        attr.path().is_ident("occ")
            && attr.meta.require_list().is_ok_and(|list| {
                list.tokens.clone().into_iter().any(
                |token| matches!(token, proc_macro2::TokenTree::Ident(ident) if ident == "table"),
            )
            })
    })
}

/// A `SqlModel` for every database, where the struct reads rows: the
/// mistake reported is the derive's, not a missing table mapping.
fn sql_model_stub(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let mut generics = input.generics.clone();
    generics
        .params
        .push(syn::parse_quote!(__OccDb: ::occ_core::repository::sql::sqlx::Database));
    let (impl_generics, _, _) = generics.split_for_impl();
    let sqlx = quote!(::occ_core::repository::sql::sqlx);
    let predicates = input
        .generics
        .where_clause
        .iter()
        .flat_map(|w| w.predicates.iter().map(|p| quote!(#p)));
    quote! {
        #[automatically_derived]
        impl #impl_generics ::occ_core::repository::sql::SqlModel<__OccDb> for #ident #ty_generics
        where
            #(#predicates,)*
            Self: for<'__r> #sqlx::FromRow<'__r, <__OccDb as #sqlx::Database>::Row>
                + ::core::marker::Send + ::core::marker::Sync + ::core::marker::Unpin + 'static,
        {
            const TABLE: &'static str = "";
            const ID_COLUMN: &'static str = "";
            const VERSION_COLUMN: &'static str = "";
            const DATA_COLUMNS: &'static [&'static str] = &[];

            fn bind_id(
                _: &Self::Id,
                _: &mut <__OccDb as #sqlx::Database>::Arguments,
            ) -> ::core::result::Result<(), #sqlx::error::BoxDynError> {
                ::core::unreachable!()
            }

            fn bind_data(
                &self,
                _: &mut <__OccDb as #sqlx::Database>::Arguments,
            ) -> ::core::result::Result<(), #sqlx::error::BoxDynError> {
                ::core::unreachable!()
            }
        }
    }
}
