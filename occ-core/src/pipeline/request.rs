//! [`Pipeline`]: one request's method and preconditions, and the options
//! it runs under.

use http::Method;

use crate::precondition::{Policy, Preconditions};
use crate::repository::Scope;

/// One request's preconditions, method and policy, ready to run against a
/// [`Repository`](crate::repository::Repository).
#[derive(Debug, Clone, Copy)]
pub struct Pipeline<'a> {
    pub(super) method: &'a Method,
    pub(super) preconditions: &'a Preconditions,
    pub(super) policy: Policy,
    pub(super) creatable: bool,
    pub(super) merging: bool,
    pub(super) scope: Option<&'a Scope>,
}

impl<'a> Pipeline<'a> {
    /// The pipeline of a request with this method and these headers, under
    /// [`Policy::Required`], on a resource the request cannot create.
    pub fn new(method: &'a Method, preconditions: &'a Preconditions) -> Self {
        Self {
            method,
            preconditions,
            policy: Policy::Required,
            creatable: false,
            merging: false,
            scope: None,
        }
    }

    /// Restricts every statement to a row-level [`Scope`]: rows outside it
    /// are 404 for every method, never 412, and none of their state is
    /// read ([`Repository::scoped`](crate::repository::Repository::scoped)).
    pub fn scope(mut self, scope: Option<&'a Scope>) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Whether [`replace`](Pipeline::replace) may create a missing resource
    /// (a PUT on a route that allows it: design decision 3).
    pub fn creatable(mut self, creatable: bool) -> Self {
        self.creatable = creatable;
        self
    }

    /// Merging of disjoint edits (design decision 16; off by default):
    /// in [`merge`](Pipeline::merge), an `If-Match` of this resource's
    /// strong tags naming exactly one version `V` (with no other
    /// precondition header) becomes [`WriteCondition::UnchangedSince`](crate::repository::WriteCondition::UnchangedSince)`(V)`:
    /// the write succeeds when none of the members it sets changed after
    /// `V`, and otherwise fails with
    /// [`RepositoryError::MergeConflict`](crate::repository::RepositoryError::MergeConflict) naming them (in
    /// [`Rejection::Repository`](super::rejection::Rejection::Repository)). `If-Match: *`, `If-None-Match` and the
    /// date preconditions keep their strict meaning.
    pub fn merging(mut self, merging: bool) -> Self {
        self.merging = merging;
        self
    }

    /// The preconditions.
    pub fn preconditions(&self) -> &'a Preconditions {
        self.preconditions
    }

    /// The method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The policy in force.
    pub fn policy_in_force(&self) -> Policy {
        self.policy
    }
}
