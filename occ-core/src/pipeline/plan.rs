//! What a request's preconditions reduce to: the condition a write's own
//! statement can check ([`WritePlan`]), the versions a conditional read can
//! leave to the store, and the decision on a state read.

use std::time::SystemTime;

use crate::date::DateField;
use crate::entity_tag::{EntityTag, EntityTagRef};
use crate::precondition::{Decision, Failure, Target};
use crate::repository::{KnownVersions, WriteCondition};
use crate::tag_list::{EntityTagList, ListElement, ListKind, MalformedList};
use crate::versioned::Versioned;

use super::rejection::Rejection;
use super::request::Pipeline;

/// How a write can honour a request's preconditions
/// ([`Pipeline::write_plan`]), for a handler with statements of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritePlan<V> {
    /// In the write's own statement: this condition in its `WHERE` clause
    /// ([`condition_sql`](crate::repository::sql::condition_sql) writes
    /// it); a write that touches no row is explained by reading again
    /// ([`Pipeline::swap`] does both).
    Condition(WriteCondition<V>),
    /// `If-None-Match: *` where the request may create: an insert, which
    /// fails if the id is taken.
    CreateOnly,
    /// Read first, evaluate on the state read ([`Pipeline::decide`]), then
    /// write on its version.
    ReadFirst,
}

/// How many times a read-first write reads again after losing a race, as
/// [`merge_by_swap`](crate::repository::merge_by_swap) does: only writes
/// that keep landing between the read and the swap exhaust them.
pub(super) const ATTEMPTS: usize = 8;

/// How a write will run.
pub(super) enum Plan<V> {
    /// One statement, with this condition in it.
    Push(WriteCondition<V>),
    /// `If-None-Match: *` where the request may create: one insert.
    CreateOnly,
    /// Read, evaluate, swap on the version read.
    General,
}

impl<'a> Pipeline<'a> {
    /// Evaluates the preconditions on `current` (PR-1): the state to
    /// proceed on, or why not.
    pub fn decide<M: Versioned, B>(
        &self,
        current: Option<M>,
    ) -> Result<Option<M>, Rejection<M, B>> {
        self.decide_tagged(current)
            .map(|proceed| proceed.map(|(model, _)| model))
    }

    /// [`decide`](Pipeline::decide), with the tag of the state to proceed
    /// on: rendered once, for the evaluation and the response.
    pub(super) fn decide_tagged<M: Versioned, B>(
        &self,
        current: Option<M>,
    ) -> Result<Option<(M, EntityTag)>, Rejection<M, B>> {
        let etag = current.as_ref().map(Versioned::entity_tag);
        let target = match (&current, &etag) {
            (Some(model), Some(etag)) => Target::of(model, etag),
            _ => Target::missing_of::<M>().creatable(self.creatable),
        };
        let decision = self
            .preconditions
            .evaluate(self.method, &target, self.policy);
        match (decision, etag) {
            (Decision::Proceed, etag) => Ok(current.zip(etag)),
            (Decision::NotModified, Some(etag)) => {
                let last_modified = current.as_ref().and_then(Versioned::last_modified);
                Err(Rejection::NotModified {
                    etag,
                    last_modified,
                    // Not known here: a date no later write can pass.
                    as_of: last_modified.unwrap_or(SystemTime::UNIX_EPOCH),
                })
            }
            (Decision::NotFound | Decision::NotModified, _) => Err(Rejection::NotFound),
            (Decision::PreconditionRequired, _) => Err(Rejection::PreconditionRequired),
            (Decision::PreconditionFailed(failure), _) => Err(Rejection::PreconditionFailed {
                failure,
                current: current.map(Box::new),
            }),
        }
    }

    /// How a write can honour this request's preconditions on resource
    /// `id`: a condition for the write's own statement, an insert only, or
    /// a read first.
    pub fn write_plan<M: Versioned>(&self, id: &M::Id) -> WritePlan<M::Version> {
        match self.plan::<M>(id, self.creatable) {
            Plan::Push(condition) => WritePlan::Condition(condition),
            Plan::CreateOnly => WritePlan::CreateOnly,
            Plan::General => WritePlan::ReadFirst,
        }
    }

    /// How a write with these preconditions runs.
    pub(super) fn plan<M: Versioned>(&self, id: &M::Id, creatable: bool) -> Plan<M::Version> {
        let pre = self.preconditions;
        match (pre.if_match(), pre.if_none_match()) {
            (Some(_), Some(_)) => Plan::General,
            (Some(list), None) => Plan::Push(match versions::<M>(id, list, false) {
                Ok((ListKind::Any, _)) => WriteCondition::Exists,
                Ok((ListKind::Tags(_), versions)) => WriteCondition::VersionIn(versions),
                // Fails closed (IM-5): no row matches, and the miss is
                // explained as 404 or 412.
                Err(_) => WriteCondition::VersionIn(Vec::new()),
            }),
            (None, Some(list)) => match versions::<M>(id, list, true) {
                Ok((ListKind::Any, _)) if creatable => Plan::CreateOnly,
                Ok((ListKind::Tags(_), versions)) => {
                    Plan::Push(WriteCondition::VersionNotIn(versions))
                }
                // `*` on an existing resource, or malformed: one read
                // decides between 404 and 412.
                _ => Plan::General,
            },
            (None, None) => match pre.if_unmodified_since() {
                Some(DateField::Valid(since)) if M::HAS_LAST_MODIFIED => {
                    Plan::Push(WriteCondition::UnmodifiedSince(since))
                }
                _ if !self.policy.requires_precondition(self.method) => {
                    Plan::Push(WriteCondition::Unconditional)
                }
                // 404 comes before 428 (EV-2): one read tells which.
                _ => Plan::General,
            },
        }
    }

    /// The condition of a merging write, when merging is on and the
    /// preconditions allow it.
    pub(super) fn merging_condition<M: Versioned>(
        &self,
        id: &M::Id,
    ) -> Option<WriteCondition<M::Version>> {
        let pre = self.preconditions;
        if !self.merging
            || pre.if_none_match().is_some()
            || pre.if_unmodified_since().is_some()
            || pre.if_modified_since().is_some()
        {
            return None;
        }
        let list = pre.if_match()?;
        if !matches!(list.validate(), Ok(ListKind::Tags(_))) {
            return None;
        }
        let mut version = None;
        for element in list.elements() {
            let Ok(ListElement::Tag(tag)) = element else {
                return None;
            };
            let v = M::version_from_tag(id, tag)?;
            match version {
                Some(seen) if seen != v => return None,
                _ => version = Some(v),
            }
        }
        version.map(WriteCondition::UnchangedSince)
    }

    /// The versions a conditional GET can leave to the store, or `None`
    /// when the evaluation needs the whole state.
    /// With the versions, the model's own tags the client named them by.
    #[allow(clippy::type_complexity)]
    pub(super) fn known_versions<M: Versioned>(
        &self,
        id: &M::Id,
    ) -> Option<(
        KnownVersions<M::Version>,
        Vec<(M::Version, EntityTagRef<'a>)>,
    )> {
        let pre = self.preconditions;
        let dated = matches!(pre.if_unmodified_since(), Some(DateField::Valid(_)));
        if pre.if_match().is_some() || (dated && M::HAS_LAST_MODIFIED) {
            return None;
        }
        let list = pre.if_none_match()?;
        match tagged_versions::<M>(id, list, true).ok()? {
            (ListKind::Any, _) => Some((KnownVersions::Any, Vec::new())),
            (ListKind::Tags(_), tags) => {
                let versions = tags.iter().map(|(v, _)| *v).collect();
                Some((KnownVersions::Listed(versions), tags))
            }
        }
    }

    /// The store refused a write whose preconditions hold on the state it
    /// then reported: the state changed between the two. Strict 412 (design
    /// decision 4), blamed on the header that made the request conditional.
    pub(super) fn raced<M: Versioned, B>(&self, current: Option<Box<M>>) -> Rejection<M, B> {
        let pre = self.preconditions;
        let failure = if pre.if_match().is_some() {
            Failure::IfMatchMismatch
        } else if pre.if_none_match().is_some() {
            Failure::IfNoneMatchMatched
        } else if pre.if_unmodified_since().is_some() {
            Failure::IfUnmodifiedSince
        } else {
            Failure::IfMatchMismatch
        };
        Rejection::PreconditionFailed { failure, current }
    }
}

/// The list's kind once it is validated, and the versions of `id` that
/// its tags name, in one pass over the field. `weak`: compare weakly
/// (If-None-Match, INM-1), so `W/"…"` names the same version as `"…"`;
/// otherwise a weak tag names none (IM-1).
fn versions<M: Versioned>(
    id: &M::Id,
    list: &EntityTagList,
    weak: bool,
) -> Result<(ListKind, Vec<M::Version>), MalformedList> {
    let mut versions = Vec::new();
    let kind = list.validate_each(|tag| {
        versions.extend(named_version::<M>(id, tag, weak).map(|(version, _)| version));
    })?;
    Ok((kind, versions))
}

/// [`versions`], each with the model's tag for it (weakness as the model
/// emits it).
#[allow(clippy::type_complexity)]
fn tagged_versions<'l, M: Versioned>(
    id: &M::Id,
    list: &'l EntityTagList,
    weak: bool,
) -> Result<(ListKind, Vec<(M::Version, EntityTagRef<'l>)>), MalformedList> {
    let mut tags = Vec::new();
    let kind = list.validate_each(|tag| tags.extend(named_version::<M>(id, tag, weak)))?;
    Ok((kind, tags))
}

/// The version of `id` that `tag` names, compared weakly or strongly, with
/// the tag in the model's weakness.
fn named_version<'l, M: Versioned>(
    id: &M::Id,
    tag: EntityTagRef<'l>,
    weak: bool,
) -> Option<(M::Version, EntityTagRef<'l>)> {
    let named = |tag: EntityTagRef<'l>| M::version_from_tag(id, tag).map(|v| (v, tag));
    if weak {
        [false, true]
            .into_iter()
            .find_map(|w| named(tag.with_weakness(w)))
    } else {
        named(tag)
    }
}
