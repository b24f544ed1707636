//! axum's own rejections, as problem details (design decision 10, docs/design.md).

use axum::extract::rejection::{
    BytesRejection, FormRejection, JsonRejection, PathRejection, QueryRejection, StringRejection,
};

use crate::problem::Problem;

macro_rules! from_axum_rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for Problem {
            fn from(rejection: $rejection) -> Self {
                Problem::new(rejection.status()).with_detail(rejection.body_text())
            }
        }
    )*};
}

from_axum_rejection!(
    JsonRejection,
    BytesRejection,
    StringRejection,
    FormRejection,
    PathRejection,
    QueryRejection
);

impl From<std::convert::Infallible> for Problem {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
