//! `#[derive(Versioned)]` for occ. Use it through `occ_core::Versioned`,
//! which re-exports it beside the trait.
//!
//! The input is parsed into a small model of the struct (`parse`), then
//! expanded (`expand`). Every misuse is reported at once, each error
//! spanned on the offending tokens; on error a stub impl is emitted too
//! (`fallback`), so the user sees the real error and not a cascade of
//! "trait not implemented" ones.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attrs;
mod errors;
mod expand;
mod fallback;
mod parse;
mod serde_names;
mod template;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `occ_core::Versioned`. See `occ_core::Versioned` for the
/// attributes: `#[version]`; on fields `#[occ(id)]`, `#[occ(last_modified)]`,
/// `#[occ(generated)]` (or `generated(client_may_choose)`), `#[occ(scope)]`,
/// `#[occ(column = "…")]`; on the struct `#[occ(etag = "…")]`,
/// `#[occ(weak)]`, `#[occ(table = "…")]`, and with `table`
/// `#[occ(tombstones = "…")]` and `#[occ(merge)]`.
#[proc_macro_derive(Versioned, attributes(version, occ))]
pub fn derive_versioned(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match parse::Input::from_syn(&input) {
        Ok(model) => expand::expand(&model).into(),
        Err(error) => fallback::expand(&input, error).into(),
    }
}
