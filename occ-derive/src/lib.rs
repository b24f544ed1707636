//! `#[derive(Versioned)]` for occ. Use it through `occ_core::Versioned`.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

/// Derives `occ_core::Versioned`; see that crate for the attributes.
#[proc_macro_derive(Versioned, attributes(version, occ))]
pub fn derive_versioned(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
