//! The operations of the generated routes: each method's parameters,
//! responses and summary, and OPTIONS.

use http::StatusCode;
use occ_core::Policy;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, Required};

use super::describer::{Describer, Op};
use super::parameters::{
    idempotency_key, if_match, if_modified_since, if_none_match, if_none_match_on_read,
    if_unmodified_since,
};
use super::responses::{
    accept_patch_header, etag_header, idempotent_replayed_header, not_modified_response,
    precondition_failed_response, precondition_required_response, problem_response,
    retry_after_header, text_header,
};
use super::syntax::TAG_PATTERN;
use crate::headers::{shown, JSON};
use crate::routes::PutMode;

impl Describer {
    pub(super) fn policy_note(&self) -> &'static str {
        match self.shape.policy {
            Policy::Required if self.has_last_modified => {
                " A precondition is required: If-Match, If-Unmodified-Since or If-None-Match (OpenAPI \
                 cannot say \"one of\", so each is marked optional); without one, 428."
            }
            Policy::Required => {
                " A precondition is required: If-Match or If-None-Match (OpenAPI cannot say \"one \
                 of\", so each is marked optional); without one, 428."
            }
            Policy::Optional => "",
        }
    }

    pub(super) fn parameters(&self, op: Op) -> Vec<Parameter> {
        let mut parameters = Vec::new();
        if matches!(
            op,
            Op::GetItem | Op::HeadItem | Op::Put | Op::Patch | Op::Delete
        ) {
            parameters.push(self.id_parameter());
        }
        if matches!(op, Op::List | Op::HeadList) {
            parameters.push(
                ParameterBuilder::new()
                    .name("after")
                    .parameter_in(ParameterIn::Query)
                    .description(Some(
                        "The id after which the page starts (the `next_after` of the page \
                         before); the first page without it",
                    ))
                    .schema(Some(self.id_in_url()))
                    .build(),
            );
            parameters.push(
                ParameterBuilder::new()
                    .name("limit")
                    .parameter_in(ParameterIn::Query)
                    .description(Some(format!(
                        "The most items to return, between 1 and {} (larger is taken as {0}, 0 \
                         as 1). Any other query parameter is 400.",
                        self.shape.page_limit
                    )))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0))
                            .maximum(Some(u32::MAX)),
                    ))
                    .build(),
            );
        }
        match op {
            Op::GetItem | Op::HeadItem => {
                parameters.push(if_none_match_on_read());
                if self.has_last_modified {
                    parameters.push(if_modified_since());
                }
                parameters.push(if_match(false));
                if self.has_last_modified {
                    parameters.push(if_unmodified_since());
                }
            }
            Op::List | Op::HeadList => {
                parameters.push(if_none_match_on_read());
                parameters.push(if_match(false));
            }
            Op::Put | Op::Patch | Op::Delete => {
                parameters.push(if_match(false));
                parameters.push(if_none_match());
                if self.has_last_modified {
                    parameters.push(if_unmodified_since());
                }
            }
            Op::Post => {}
        }
        if op.is_write() && self.shape.keeps_keys {
            parameters.push(idempotency_key());
        }
        parameters
    }

    pub(super) fn responses(&self, op: Op) -> Vec<(StatusCode, Response)> {
        let head = op.is_head();
        let mut out = Vec::new();
        let problem = |text: &str| {
            if head {
                ResponseBuilder::new()
                    .description(format!("{text} (HEAD: no body)"))
                    .build()
            } else {
                problem_response(text)
            }
        };
        match op {
            Op::GetItem | Op::HeadItem => {
                out.push((
                    StatusCode::OK,
                    self.representation("The representation", op, false),
                ));
                out.push((
                    StatusCode::NOT_MODIFIED,
                    not_modified_response(self.has_last_modified),
                ));
            }
            Op::Put => {
                out.push((
                    StatusCode::OK,
                    self.representation("Written: the new representation", op, false),
                ));
                if self.shape.creating_put {
                    out.push((
                        StatusCode::CREATED,
                        self.representation(
                            "Created (If-None-Match: *, the resource did not exist)",
                            op,
                            true,
                        ),
                    ));
                }
            }
            Op::Patch => out.push((
                StatusCode::OK,
                self.representation("Written: the new representation", op, false),
            )),
            Op::Delete => out.push((
                StatusCode::NO_CONTENT,
                ResponseBuilder::new()
                    .description("Deleted. No body.")
                    .header(shown::IDEMPOTENT_REPLAYED, idempotent_replayed_header())
                    .build(),
            )),
            Op::Post => out.push((
                StatusCode::CREATED,
                self.representation("Created: the new representation", op, true),
            )),
            Op::List | Op::HeadList => {
                let mut ok = ResponseBuilder::new()
                    .description("A page of the collection")
                    .header(
                        shown::ETAG,
                        HeaderBuilder::new()
                            .schema(Some(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .pattern(Some(TAG_PATTERN)),
                            ))
                            .description(Some(
                                "The page's weak entity tag, for If-None-Match: it changes when \
                                 an item of the page changes",
                            ))
                            .build(),
                    );
                if !head {
                    ok = ok.content(
                        JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(self.page_name())))
                            .build(),
                    );
                }
                out.push((StatusCode::OK, ok.build()));
                out.push((
                    StatusCode::NOT_MODIFIED,
                    ResponseBuilder::new()
                        .description(
                            "Not Modified: If-None-Match names the page's current tag. No body.",
                        )
                        .header(shown::ETAG, etag_header())
                        .build(),
                ));
            }
        }
        let bad_request = match op {
            Op::List | Op::HeadList => "Bad Request: a query parameter is not valid or not known",
            Op::Post => {
                "Bad Request: the body is not JSON, or the Idempotency-Key is not a valid sf-string"
            }
            Op::Put | Op::Patch => {
                "Bad Request: the id in the URL is not valid, the body is not JSON, or the \
                 Idempotency-Key is not a valid sf-string"
            }
            Op::Delete => {
                "Bad Request: the id in the URL is not valid, or the Idempotency-Key is not a \
                 valid sf-string"
            }
            Op::GetItem | Op::HeadItem => "Bad Request: the id in the URL is not valid",
        };
        out.push((StatusCode::BAD_REQUEST, problem(bad_request)));
        if matches!(
            op,
            Op::GetItem | Op::HeadItem | Op::Put | Op::Patch | Op::Delete
        ) {
            let text = if op == Op::Put && self.shape.creating_put {
                "Not Found: no resource with this id (a PUT creates one only with If-None-Match: *)"
            } else {
                "Not Found: no resource with this id"
            };
            out.push((StatusCode::NOT_FOUND, problem(text)));
        }
        if op.is_write() {
            let text = if op == Op::Post {
                "Conflict: a resource with this id exists already, or a request with this \
                 Idempotency-Key is still being processed (then with Retry-After)"
            } else if op == Op::Delete {
                "Conflict: a request with this Idempotency-Key is still being processed (with \
                 Retry-After)"
            } else if op == Op::Put && self.shape.creating_put {
                "Conflict: a request with this Idempotency-Key is still being processed (with \
                 Retry-After), the resource's version counter is exhausted, or (If-None-Match: \
                 *) the id is taken by a resource outside the caller's scope"
            } else {
                "Conflict: a request with this Idempotency-Key is still being processed (with \
                 Retry-After), or the resource's version counter is exhausted"
            };
            let mut conflict = problem_response(text);
            conflict
                .headers
                .insert(shown::RETRY_AFTER.to_owned(), retry_after_header().into());
            out.push((StatusCode::CONFLICT, conflict));
        }
        out.push((
            StatusCode::PRECONDITION_FAILED,
            precondition_failed_response(
                head,
                // A page has no representation to send back but itself.
                (self.shape.current_in_412 && !matches!(op, Op::List | Op::HeadList))
                    .then(|| self.model_ref()),
                self.shape.merging && matches!(op, Op::Put | Op::Patch),
            ),
        ));
        if matches!(op, Op::Put | Op::Patch | Op::Post) {
            out.push((
                StatusCode::PAYLOAD_TOO_LARGE,
                problem_response(&format!(
                    "Content Too Large: the body is larger than {} bytes",
                    self.shape.body_limit
                )),
            ));
            let mut unsupported = problem_response(if op == Op::Patch {
                "Unsupported Media Type: send the body as application/merge-patch+json"
            } else {
                "Unsupported Media Type: send the body as application/json"
            });
            if op == Op::Patch {
                unsupported
                    .headers
                    .insert(shown::ACCEPT_PATCH.to_owned(), accept_patch_header().into());
            }
            out.push((StatusCode::UNSUPPORTED_MEDIA_TYPE, unsupported));
        }
        if op.is_write() {
            let text = if op == Op::Delete {
                "Unprocessable Content: this Idempotency-Key was used for a different request"
            } else {
                "Unprocessable Content: the body does not describe a valid resource (or names \
                 another id than the URL, or is refused by the service's checks), or this \
                 Idempotency-Key was used for a different request"
            };
            out.push((StatusCode::UNPROCESSABLE_ENTITY, problem_response(text)));
        }
        if matches!(op, Op::Put | Op::Patch | Op::Delete) && self.shape.policy == Policy::Required {
            out.push((
                StatusCode::PRECONDITION_REQUIRED,
                precondition_required_response(),
            ));
        }
        out.push((
            StatusCode::INTERNAL_SERVER_ERROR,
            problem("Internal Server Error"),
        ));
        out.push((
            StatusCode::SERVICE_UNAVAILABLE,
            problem("Service Unavailable: the storage backend is unavailable; retry later"),
        ));
        out
    }

    pub(super) fn operation(&self, op: Op) -> Operation {
        let name = &self.name;
        let (id, summary, description) = match op {
            Op::GetItem => (
                "get",
                format!("Read a {name}"),
                "The representation with its ETag; 304 when If-None-Match (or If-Modified-Since) \
                 says the client's copy is current."
                    .to_owned(),
            ),
            Op::HeadItem => (
                "head",
                format!("The validators of a {name}"),
                "As GET, without a body.".to_owned(),
            ),
            Op::Put => (
                "put",
                format!("Replace a {name}"),
                format!(
                    "{} the resource, with a compare-and-swap on the preconditions.{}{}",
                    match self.shape.put_mode {
                        PutMode::Replace => "Replaces",
                        PutMode::Merge => "Merges the body's members into",
                    },
                    if self.shape.creating_put {
                        " With If-None-Match: * it creates the resource if it does not exist \
                         (201)."
                    } else {
                        ""
                    },
                    self.policy_note(),
                ),
            ),
            Op::Patch => (
                "patch",
                format!("Change members of a {name}"),
                format!(
                    "Applies a JSON merge patch atomically.{}{}",
                    if self.shape.merging {
                        " Disjoint edits merge: an If-Match naming an older version still \
                         succeeds when none of the members set changed since; otherwise 412 \
                         naming them in `conflicts`."
                    } else {
                        ""
                    },
                    self.policy_note()
                ),
            ),
            Op::Delete => (
                "delete",
                format!("Delete a {name}"),
                format!("Deletes the resource.{}", self.policy_note()),
            ),
            Op::Post => (
                "create",
                format!("Create a {name}"),
                "Creates a resource: 201 with Location and ETag. Needs no precondition.".to_owned(),
            ),
            Op::List => (
                "list",
                format!("List {name} resources"),
                "Keyset pages in id order; each item carries its entity tag, and the page has a \
                 weak ETag of its own (304 with If-None-Match)."
                    .to_owned(),
            ),
            Op::HeadList => (
                "head_list",
                format!("The validators of a page of {name} resources"),
                "As GET, without a body.".to_owned(),
            ),
        };
        let mut operation = OperationBuilder::new()
            .operation_id(Some(format!("{id}_{}", snake(name))))
            .summary(Some(summary))
            .description(Some(description))
            .tag(name.clone())
            .parameters(Some(self.parameters(op)))
            .request_body(self.request_body(op));
        for (status, response) in self.responses(op) {
            operation = operation.response(status.as_u16().to_string(), response);
        }
        operation.build()
    }

    pub(super) fn options(&self, item: bool) -> Operation {
        let name = &self.name;
        let mut response = ResponseBuilder::new()
            .description("The methods allowed (Allow) and, on an item, the patch format")
            .header(shown::ALLOW, text_header("The methods this URL allows"));
        if item {
            response = response.header(shown::ACCEPT_PATCH, accept_patch_header());
        }
        let operation = OperationBuilder::new()
            .operation_id(Some(format!(
                "{}_{}",
                if item { "options" } else { "options_list" },
                snake(name)
            )))
            .summary(Some("The methods allowed"))
            .tag(name.clone())
            .response("204", response.build());
        let operation = if item {
            // OPTIONS answers for any last segment, an id or not.
            operation.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("Any segment: the answer is the same for every one"))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            )
        } else {
            operation
        };
        operation.build()
    }
}
/// `BlogPost` → `blog_post`, for operation ids.
pub(super) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (n, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if n > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}
