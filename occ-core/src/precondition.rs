//! Parsed precondition headers and their evaluation in the order of
//! RFC 9110 §13.2.2 (PR-1), with the design decisions of docs/design.md.

use std::time::SystemTime;

use http::{header, HeaderMap, Method};

use crate::date::DateField;
use crate::entity_tag::EntityTagRef;
use crate::tag_list::{Comparison, EntityTagList, MalformedList};
use crate::versioned::Versioned;

/// The precondition headers of one request, parsed once.
///
/// Building it never fails: malformed values are kept and decided at
/// evaluation time, where the RFC says what they mean (IM-5, INM-5, IMS-2,
/// IUS-2).
///
/// ```
/// use http::{HeaderMap, Method};
/// use occ_core::{Decision, EntityTag, Policy, Preconditions, Target};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("if-match", "\"prof-42-v7\"".parse()?);
/// let pre = Preconditions::from_headers(&headers);
///
/// let v7: EntityTag = "\"prof-42-v7\"".parse()?;
/// let v8: EntityTag = "\"prof-42-v8\"".parse()?;
/// let put = |current| pre.evaluate(&Method::PUT, &Target::present(current), Policy::Required);
/// assert_eq!(put(&v7), Decision::Proceed);
/// assert!(matches!(put(&v8), Decision::PreconditionFailed(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<EntityTagList>,
    if_none_match: Option<EntityTagList>,
    if_modified_since: Option<DateField>,
    if_unmodified_since: Option<DateField>,
}

impl Preconditions {
    /// Reads `If-Match`, `If-None-Match`, `If-Modified-Since` and
    /// `If-Unmodified-Since` over all their lines (G-12, EV-6). Absence and
    /// presence stay distinct: an empty `If-Match` is present and malformed.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        // The usual request, up to 32 fields each on one line, is read in
        // one pass over its fields: comparing a name with these four costs
        // less than hashing it for a lookup.
        if headers.keys_len() <= 32 && headers.len() == headers.keys_len() {
            let mut pre = Self::default();
            for (name, value) in headers {
                if *name == header::IF_MATCH {
                    pre.if_match = Some(EntityTagList::from_value(value.clone()));
                } else if *name == header::IF_NONE_MATCH {
                    pre.if_none_match = Some(EntityTagList::from_value(value.clone()));
                } else if *name == header::IF_MODIFIED_SINCE {
                    pre.if_modified_since = Some(DateField::parse(value.as_bytes()));
                } else if *name == header::IF_UNMODIFIED_SINCE {
                    pre.if_unmodified_since = Some(DateField::parse(value.as_bytes()));
                }
            }
            return pre;
        }
        Self {
            if_match: EntityTagList::from_lines(headers.get_all(header::IF_MATCH)),
            if_none_match: EntityTagList::from_lines(headers.get_all(header::IF_NONE_MATCH)),
            if_modified_since: DateField::from_lines(headers.get_all(header::IF_MODIFIED_SINCE)),
            if_unmodified_since: DateField::from_lines(
                headers.get_all(header::IF_UNMODIFIED_SINCE),
            ),
        }
    }

    /// The `If-Match` field, if present.
    pub fn if_match(&self) -> Option<&EntityTagList> {
        self.if_match.as_ref()
    }

    /// The `If-None-Match` field, if present.
    pub fn if_none_match(&self) -> Option<&EntityTagList> {
        self.if_none_match.as_ref()
    }

    /// The `If-Modified-Since` field, if present.
    pub fn if_modified_since(&self) -> Option<DateField> {
        self.if_modified_since
    }

    /// The `If-Unmodified-Since` field, if present.
    pub fn if_unmodified_since(&self) -> Option<DateField> {
        self.if_unmodified_since
    }

    /// Sets `If-Match` (for clients and tests).
    pub fn with_if_match(mut self, list: EntityTagList) -> Self {
        self.if_match = Some(list);
        self
    }

    /// Sets `If-None-Match` (for clients and tests).
    pub fn with_if_none_match(mut self, list: EntityTagList) -> Self {
        self.if_none_match = Some(list);
        self
    }

    /// Sets `If-Modified-Since` (for clients and tests).
    pub fn with_if_modified_since(mut self, field: DateField) -> Self {
        self.if_modified_since = Some(field);
        self
    }

    /// Sets `If-Unmodified-Since` (for clients and tests).
    pub fn with_if_unmodified_since(mut self, field: DateField) -> Self {
        self.if_unmodified_since = Some(field);
        self
    }

    /// Whether no precondition header is present at all.
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// Whether a write carrying these headers counts as conditional
    /// (design decision 2, docs/design.md): `If-Match` or `If-None-Match` present, or a valid
    /// `If-Unmodified-Since` where the model tracks modification times. An
    /// `If-Unmodified-Since` the RFC tells us to ignore (IUS-2, IUS-3) does
    /// not count, or it would be a way around 428.
    pub fn is_conditional_write(&self, has_last_modified: bool) -> bool {
        self.if_match.is_some()
            || self.if_none_match.is_some()
            || (has_last_modified && matches!(self.if_unmodified_since, Some(DateField::Valid(_))))
    }

    /// Decides what to do with a request, in the order of RFC 9110 §13.2.2
    /// (PR-1), before any side effect and before the body is read (EV-1).
    ///
    /// The order, with where each step comes from:
    /// 1. methods that select no representation (OPTIONS, TRACE, CONNECT)
    ///    ignore every precondition (EV-3);
    /// 2. a missing resource that the method cannot create is
    ///    [`Decision::NotFound`] whatever the headers (EV-2, S9, S11, S12);
    /// 3. an unconditional unsafe method (PUT, PATCH, DELETE, POST, …)
    ///    under [`Policy::Required`] is [`Decision::PreconditionRequired`]
    ///    (428-1);
    /// 4. `If-Match` (IM-1 … IM-5), else `If-Unmodified-Since` (IUS-*):
    ///    false is 412 (strict, IM-6);
    /// 5. `If-None-Match` (INM-*): false is 304 on GET/HEAD, 412 otherwise;
    /// 6. on GET/HEAD without `If-None-Match`, `If-Modified-Since`
    ///    (IMS-*): false is 304.
    pub fn evaluate(&self, method: &Method, target: &Target<'_>, policy: Policy) -> Decision {
        let kind = MethodKind::of(method);
        if kind == MethodKind::Ignored {
            return Decision::Proceed;
        }
        // DELETE never creates: on a missing resource it is 404 whatever
        // the target says (S11). PUT, PATCH (S10) and POST may.
        let may_create = kind == MethodKind::Write && *method != Method::DELETE;
        if target.current.is_none() && !(may_create && target.creatable) {
            return Decision::NotFound;
        }
        if policy == Policy::Required
            && kind == MethodKind::Write
            && !self.is_conditional_write(target.has_last_modified)
        {
            return Decision::PreconditionRequired;
        }
        let current = target.current.as_ref();
        // Full precision: the date a client holds was rounded so that this
        // comparison never passes a state it did not see (design decision
        // 13, `date::http_last_modified`).
        let last_modified = current.and_then(|c| c.last_modified);

        // Step 1: If-Match.
        if let Some(list) = &self.if_match {
            let failure = match (
                list.matches(current.map(|c| c.etag), Comparison::Strong),
                current,
            ) {
                (Err(malformed), _) => Some(Failure::IfMatchMalformed(malformed)),
                (Ok(_), None) => Some(Failure::IfMatchNoCurrent),
                (Ok(true), Some(_)) => None,
                (Ok(false), Some(_)) => Some(Failure::IfMatchMismatch),
            };
            if let Some(failure) = failure {
                return Decision::PreconditionFailed(failure);
            }
        } else if let (Some(DateField::Valid(since)), Some(lm)) =
            (self.if_unmodified_since, last_modified)
        {
            // Step 2: If-Unmodified-Since, only without If-Match (IUS-1),
            // only valid (IUS-2), only with a modification date (IUS-3).
            if lm > since {
                return Decision::PreconditionFailed(Failure::IfUnmodifiedSince);
            }
        }

        // Step 3: If-None-Match.
        if let Some(list) = &self.if_none_match {
            let matched = match list.matches(current.map(|c| c.etag), Comparison::Weak) {
                // Malformed: ignored for GET/HEAD (INM-5), fails closed for
                // writes (design decision 1, docs/design.md).
                Err(malformed) => {
                    if kind == MethodKind::Read {
                        false
                    } else {
                        return Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(
                            malformed,
                        ));
                    }
                }
                Ok(matched) => matched,
            };
            if matched {
                return if kind == MethodKind::Read {
                    Decision::NotModified
                } else {
                    Decision::PreconditionFailed(Failure::IfNoneMatchMatched)
                };
            }
        } else if kind == MethodKind::Read {
            // Step 4: If-Modified-Since, GET/HEAD only, never with
            // If-None-Match (IMS-1, IMS-2, IMS-3).
            if let (Some(DateField::Valid(since)), Some(lm)) =
                (self.if_modified_since, last_modified)
            {
                if lm <= since {
                    return Decision::NotModified;
                }
            }
        }
        Decision::Proceed
    }
}

/// Whether writes must carry a precondition (design decision 2, docs/design.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Every unsafe method (PUT, PATCH, DELETE, POST, extension methods)
    /// without a precondition gets 428 (the default). A POST that creates
    /// a new member of a collection is evaluated under
    /// [`Optional`](Policy::Optional) by the route that creates.
    #[default]
    Required,
    /// Unconditional writes proceed.
    Optional,
}

impl Policy {
    /// Whether a request with this method must carry a precondition under
    /// this policy (before looking at its headers).
    pub fn requires_precondition(self, method: &Method) -> bool {
        self == Self::Required && MethodKind::of(method) == MethodKind::Write
    }
}

/// The validators of the resource's current representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current<'a> {
    /// The current entity tag.
    pub etag: EntityTagRef<'a>,
    /// The current modification time, if known.
    pub last_modified: Option<SystemTime>,
}

/// The target resource as the evaluation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    current: Option<Current<'a>>,
    creatable: bool,
    has_last_modified: bool,
}

impl<'a> Target<'a> {
    /// A resource that exists with this entity tag.
    pub fn present(etag: &'a crate::entity_tag::EntityTag) -> Self {
        Self {
            current: Some(Current {
                etag: etag.as_tag_ref(),
                last_modified: None,
            }),
            creatable: false,
            has_last_modified: false,
        }
    }

    /// A resource that does not exist.
    pub fn missing() -> Self {
        Self {
            current: None,
            creatable: false,
            has_last_modified: false,
        }
    }

    /// The state of an existing model value; `etag` is its
    /// [`Versioned::entity_tag`], passed in so the caller can reuse it for
    /// the response.
    pub fn of<M: Versioned>(model: &M, etag: &'a crate::entity_tag::EntityTag) -> Self {
        Self::present(etag)
            .with_last_modified(model.last_modified())
            .tracking_last_modified(M::HAS_LAST_MODIFIED)
    }

    /// A missing resource of model `M`.
    pub fn missing_of<M: Versioned>() -> Self {
        Self::missing().tracking_last_modified(M::HAS_LAST_MODIFIED)
    }

    /// Sets the current modification time (and marks the model as tracking
    /// one when `Some`).
    pub fn with_last_modified(mut self, last_modified: Option<SystemTime>) -> Self {
        if let Some(current) = &mut self.current {
            current.last_modified = last_modified;
        }
        self.has_last_modified |= last_modified.is_some();
        self
    }

    /// Whether the model has modification times at all, which decides
    /// whether `If-Unmodified-Since` makes a write conditional.
    pub fn tracking_last_modified(mut self, tracks: bool) -> Self {
        self.has_last_modified = tracks;
        self
    }

    /// Whether an unsafe method may create the resource when it is missing
    /// (PUT on a route that allows it). Otherwise a missing resource is 404.
    pub fn creatable(mut self, creatable: bool) -> Self {
        self.creatable = creatable;
        self
    }

    /// The current validators, if the resource exists.
    pub fn current(&self) -> Option<Current<'a>> {
        self.current
    }
}

/// The outcome of evaluating preconditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Perform the method.
    Proceed,
    /// 304 Not Modified (GET/HEAD only).
    NotModified,
    /// 412 Precondition Failed, and which condition failed.
    PreconditionFailed(Failure),
    /// 428 Precondition Required: a write without any precondition.
    PreconditionRequired,
    /// 404 Not Found: the resource is missing and the method cannot create
    /// it, so preconditions are not evaluated (EV-2).
    NotFound,
}

/// Which condition made a request fail with 412.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `If-Match` could not be parsed (IM-5, design decision 1, docs/design.md).
    IfMatchMalformed(MalformedList),
    /// No current representation for `If-Match` to match (IM-3, S6).
    IfMatchNoCurrent,
    /// No listed tag matches the current one by strong comparison.
    IfMatchMismatch,
    /// The resource was modified after the `If-Unmodified-Since` date.
    IfUnmodifiedSince,
    /// `If-None-Match` could not be parsed, on an unsafe method.
    IfNoneMatchMalformed(MalformedList),
    /// `If-None-Match` matched (or was `*` on an existing resource), on an
    /// unsafe method (INM-6).
    IfNoneMatchMatched,
}

impl Failure {
    /// The header whose condition failed.
    pub fn header(&self) -> http::HeaderName {
        match self {
            Self::IfMatchMalformed(_) | Self::IfMatchNoCurrent | Self::IfMatchMismatch => {
                header::IF_MATCH
            }
            Self::IfUnmodifiedSince => header::IF_UNMODIFIED_SINCE,
            Self::IfNoneMatchMalformed(_) | Self::IfNoneMatchMatched => header::IF_NONE_MATCH,
        }
    }
}

impl Failure {
    /// What went wrong and how to fix it, for a problem's `detail`: a
    /// static text except where a malformed header is quoted.
    pub fn message(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow::{Borrowed, Owned};
        match self {
            Self::IfMatchMalformed(e) => Owned(format!("the If-Match header could not be parsed: {e}")),
            Self::IfMatchNoCurrent => Borrowed(
                "If-Match was given but the resource does not exist; to create it, send If-None-Match: *",
            ),
            Self::IfMatchMismatch => Borrowed(
                "the resource was changed since the entity tag given in If-Match; fetch it again, merge, and retry with the current ETag",
            ),
            Self::IfUnmodifiedSince => Borrowed(
                "the resource was modified after the date given in If-Unmodified-Since",
            ),
            Self::IfNoneMatchMalformed(e) => {
                Owned(format!("the If-None-Match header could not be parsed: {e}"))
            }
            Self::IfNoneMatchMatched => Borrowed(
                "If-None-Match matched the current representation: the resource already exists",
            ),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MethodKind {
    /// GET and HEAD: 304 applies.
    Read,
    /// Every unsafe method: PUT, PATCH, DELETE, POST and extension
    /// methods. 428 applies (a POST that creates a collection member is
    /// evaluated under `Policy::Optional` by its route).
    Write,
    /// OPTIONS, TRACE, CONNECT (EV-3).
    Ignored,
}

impl MethodKind {
    fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD => Self::Read,
            Method::OPTIONS | Method::TRACE | Method::CONNECT => Self::Ignored,
            _ => Self::Write,
        }
    }
}
