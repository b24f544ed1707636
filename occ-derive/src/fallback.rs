//! What to emit when the input is wrong: the errors, and a stub impl so
//! that uses of the type as `Versioned` do not add errors of their own.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #errors

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
