//! Errors collected over the whole input, so that every misuse is reported
//! in one go.

use syn::spanned::Spanned;

/// Collects errors so that all of them are reported in one go.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds `error` to those collected.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds an error with `message`, spanned on `span`.
    pub(crate) fn at(&mut self, span: impl Spanned, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span.span(), message));
    }

    /// Every error so far, if there is one; none are left behind.
    pub(crate) fn take(&mut self) -> Option<syn::Error> {
        self.0.take()
    }

    /// `Err` with every error so far, if there is one.
    pub(crate) fn check(&mut self) -> syn::Result<()> {
        self.take().map_or(Ok(()), Err)
    }
}
