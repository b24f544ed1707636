//! The impls generated from the model.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::parse::{FieldRef, Input, Part};
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
    let start = if input.weak {
        quote!(::occ_core::EntityTagBuilder::weak())
    } else {
        quote!(::occ_core::EntityTagBuilder::strong())
    };
    let parts = input.template.iter().map(|part| match part {
        Part::Literal(text) => quote!(.literal(#text)),
        // Spanned on the id type: a type without `Display` is reported there.
        Part::Id => quote_spanned!(id_ty.span()=> .value(id)),
        Part::Version => quote_spanned!(version_ty.span()=> .version(version)),
    });
    let last_modified = input.last_modified.as_ref().map(|field| {
        let name = field.ident;
        let lm =
            quote_spanned!(field.ty.span()=> ::occ_core::Timestamp::to_system_time(&self.#name));
        quote! {
            const HAS_LAST_MODIFIED: bool = true;

            fn last_modified(&self) -> ::core::option::Option<::std::time::SystemTime> {
                #lm
            }
        }
    });
    let read_version =
        quote_spanned!(version_ty.span()=> ::occ_core::__private::version_of(&self.#version));
    quote! {
        #[automatically_derived]
        impl #impl_generics ::occ_core::Versioned for #ident #ty_generics #where_clause {
            type Id = #id_ty;
            type Version = #version_ty;

            #last_modified

            fn id(&self) -> &Self::Id {
                &self.#id
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
        }
    }
}

fn sql_model(input: &Input<'_>) -> TokenStream {
    let Some((table, data)) = &input.table else {
        return TokenStream::new();
    };
    let ident = input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let mut generics = input.generics.clone();
    generics
        .params
        .push(syn::parse_quote!(__OccDb: ::occ_core::repository::sql::sqlx::Database));
    let (impl_generics, _, _) = generics.split_for_impl();
    let sqlx = quote!(::occ_core::repository::sql::sqlx);
    let id_ty = input.id.ty;
    let data_tys = data.iter().map(|f| f.ty);
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
    let id_column = column(input.id.ident);
    let version_column = column(input.version.ident);
    let data_columns = data.iter().map(|f| column(f.ident));
    let binds = data.iter().map(|f| {
        let name = f.ident;
        quote!(#sqlx::Arguments::add(args, &self.#name)?;)
    });
    let bind_member = bind_member(input, data, &mut predicates);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::occ_core::repository::sql::SqlModel<__OccDb> for #ident #ty_generics
        where
            #(#predicates,)*
        {
            const TABLE: &'static str = #table;
            const ID_COLUMN: &'static str = #id_column;
            const VERSION_COLUMN: &'static str = #version_column;
            const DATA_COLUMNS: &'static [&'static str] = &[#(#data_columns),*];

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

            #bind_member
        }
    }
}

/// `SqlModel::bind_member`: each member serde reads maps to its column,
/// the id's member must repeat the id, the version's merges in the
/// application, an unknown member is refused. Nothing when serde's reading
/// of the struct is one the derive does not model: the trait's default
/// then merges in the application.
fn bind_member(
    input: &Input<'_>,
    data: &[FieldRef<'_>],
    predicates: &mut Vec<TokenStream>,
) -> TokenStream {
    let Some(rename_all) = serde_names::container(input.attrs) else {
        return TokenStream::new();
    };
    let private = quote!(::occ_core::__private);
    let binding = quote!(::occ_core::repository::sql::MemberBinding);
    let rule = rename_all.as_deref();
    let mut arms = Vec::new();
    let mut arm = |field: &FieldRef<'_>, body: TokenStream| {
        if let Member::Named(names) = serde_names::field(field.attrs, field.ident, rule) {
            arms.push(quote!(#(#names)|* => #body,));
        }
    };
    for field in data {
        let ty = field.ty;
        let column = column(field.ident);
        predicates.push(quote!(#ty: #private::serde::de::DeserializeOwned));
        arm(
            field,
            quote!(#private::bind_member_value::<__OccDb, #ty>(member, value, args, #column)),
        );
    }
    let id_ty = input.id.ty;
    predicates.push(quote!(#id_ty: #private::serde::de::DeserializeOwned));
    arm(
        &input.id,
        quote!(#private::id_member::<Self>(member, value, id)),
    );
    arm(&input.version, quote!(#binding::Unsupported));
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

/// The column of a field: its name, without `r#`.
fn column(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").unwrap_or(&name).to_owned()
}
