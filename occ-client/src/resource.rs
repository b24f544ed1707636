//! A collection of conditional resources, and what a client does to its
//! members: read, change, create, delete.

use std::fmt::Display;
use std::marker::PhantomData;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LAST_MODIFIED};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use occ_core::wire::{IDEMPOTENCY_KEY, READ_AFTER};
use occ_core::{EntityTag, IdSource, Versioned};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::cache::{forbids_storing, Entry};
use crate::client::{Client, Count};
use crate::error::{Conflict, Error};
use crate::merge_patch::changed_members;
use crate::problem::Problem;
use crate::send::{new_key, Answer};
use crate::tagged::Tagged;

const JSON: HeaderValue = HeaderValue::from_static(occ_core::wire::JSON);
const MERGE_PATCH: HeaderValue = HeaderValue::from_static(occ_core::wire::MERGE_PATCH_JSON);
const ANY: HeaderValue = HeaderValue::from_static("*");

/// The collection at one path of a service (`/documents`), whose members
/// `/documents/{id}` have the representation `M`: the model type the
/// server derives [`Versioned`] on, shared, so that ids, versions and
/// tags mean the same on both sides.
///
/// Every write is conditional and carries an `Idempotency-Key`; see the
/// [crate docs](crate) for what each method sends and when it tries again.
#[derive(Debug)]
pub struct Resource<M> {
    pub(crate) client: Client,
    pub(crate) collection: Url,
    pub(crate) model: PhantomData<fn() -> M>,
}

impl<M> Clone for Resource<M> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            collection: self.collection.clone(),
            model: PhantomData,
        }
    }
}

// Here rather than in `client`: a resource holds its client, and the
// client does not need to know resources.
impl Client {
    /// The collection at `path` under the base URL (`"/profiles"`), whose
    /// members are `{path}/{id}` and have the representation `M`.
    pub fn resource<M>(&self, path: &str) -> Resource<M> {
        let mut collection = self.inner.base.clone();
        if let Ok(mut segments) = collection.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(path.split('/').filter(|s| !s.is_empty()));
        }
        Resource {
            client: self.clone(),
            collection,
            model: PhantomData,
        }
    }
}

/// A write's precondition header.
type Precondition = Option<(HeaderName, HeaderValue)>;

impl<M> Resource<M>
where
    M: Versioned + Serialize + DeserializeOwned,
    M::Id: Display,
{
    /// The URL of member `id` (the id percent-encoded as one segment).
    pub fn url(&self, id: &M::Id) -> Url {
        let mut url = self.collection.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(&id.to_string());
        }
        url
    }

    /// The last state of `id` this client knows (from a read, a write, or
    /// a 412), without asking the server: it may be stale.
    pub fn cached(&self, id: &M::Id) -> Option<Tagged<M>> {
        self.known(&self.url(id))
    }

    /// Forgets what this client knows of `id`.
    pub fn forget(&self, id: &M::Id) {
        self.client.inner.cache.remove(self.url(id).as_str());
    }

    /// `GET` member `id`: its state and tags. With a cached state the read
    /// is conditional (`If-None-Match`), and a 304 is answered from the
    /// cache; within a `max-age` the server gave, no request is sent.
    pub async fn get(&self, id: &M::Id) -> Result<Tagged<M>, Error<M>> {
        self.read(&self.url(id)).await
    }

    /// Reads member `id` (from the cache when this client knows it), applies
    /// `change`, and `PUT`s the result with `If-Match`. On 412, after a
    /// jittered wait, `change` is applied again to the current state and
    /// sent again, up to the policy's attempts. After the first 412 the
    /// current state is the one the refusal carries (occ's `current`);
    /// after later ones, whose waits are longer, others have likely written
    /// since, and a read conditional on that state's tag (304 when they
    /// have not) gives a fresher one, as it does after a refusal without
    /// the state. Each attempt is a new logical write with a new
    /// `Idempotency-Key`; a lost answer is sent again with the same one.
    ///
    /// `change` may run several times, each time on a fresh value: keep it
    /// free of effects other than the change.
    pub async fn update<F>(&self, id: &M::Id, mut change: F) -> Result<Tagged<M>, Error<M>>
    where
        F: FnMut(&mut M),
    {
        let url = self.url(id);
        let mut base = self.base(&url).await?;
        let mut attempt = 1;
        loop {
            let if_match = Some((IF_MATCH, base.etag().to_header_value()));
            let mut value = base.into_value();
            change(&mut value);
            let body = serde_json::to_vec(&value)?;
            let answer = self
                .write(Method::PUT, &url, if_match, Some((JSON, body)))
                .await?;
            let conflict = match answer.status {
                status if status.is_success() => return self.written(&url, answer),
                StatusCode::PRECONDITION_FAILED => self.conflict(&url, answer, attempt),
                _ => return Err(self.refused(&url, answer)),
            };
            base = self.again(&url, conflict, attempt).await?;
            attempt += 1;
        }
    }

    /// `PATCH` member `id` with the JSON merge patch `patch` (RFC 7396),
    /// with `If-Match` the tag this client knows (read first when it knows
    /// none). On 412 it is sent again, after a jittered wait, with the tag
    /// of the state the refusal carries, only when none of the members it
    /// sets differ between the state it was written against and that one.
    /// Otherwise, when the server names `conflicts` (a merging route), or
    /// when the refusal carries no state to compare, the 412 is returned,
    /// with the changed members in [`Conflict::conflicts`].
    pub async fn patch<P>(&self, id: &M::Id, patch: &P) -> Result<Tagged<M>, Error<M>>
    where
        P: Serialize + ?Sized,
    {
        let url = self.url(id);
        let patch = serde_json::to_value(patch)?;
        let body = serde_json::to_vec(&patch)?;
        let inner = &self.client.inner;
        let mut base = self.base(&url).await?;
        let mut attempt = 1;
        loop {
            let if_match = Some((IF_MATCH, base.etag().to_header_value()));
            let content = Some((MERGE_PATCH, body.clone()));
            let answer = self.write(Method::PATCH, &url, if_match, content).await?;
            let mut conflict = match answer.status {
                status if status.is_success() => return self.written(&url, answer),
                StatusCode::PRECONDITION_FAILED => self.conflict(&url, answer, attempt),
                _ => return Err(self.refused(&url, answer)),
            };
            if conflict.conflicts.is_empty() {
                if let Some(current) = &conflict.current {
                    // As the server sent them: members the model drops or
                    // skips count too.
                    let was: Value = serde_json::from_slice(base.json())?;
                    let is: Value = serde_json::from_slice(current.json())?;
                    conflict.conflicts = changed_members(&patch, &was, &is);
                }
            }
            let current = match conflict.current.take() {
                Some(current)
                    if conflict.conflicts.is_empty() && attempt < inner.policy.max_attempts =>
                {
                    current
                }
                current => {
                    conflict.current = current;
                    return Err(Error::PreconditionFailed(Box::new(conflict)));
                }
            };
            inner.counters.count(Count::Conflict);
            tracing::debug!(%url, attempt, current = %current.etag(),
                "412: the members the patch sets did not change; sending it again");
            tokio::time::sleep(inner.policy.wait(attempt)).await;
            base = current;
            attempt += 1;
        }
    }

    /// `POST` `value` to the collection: a new member. When the server
    /// assigns ids (`#[occ(generated)]`), the id member is left out of the
    /// body, as the server requires. Sent again with the same key when its
    /// answer is lost, so it creates one resource however often it is
    /// sent.
    pub async fn create(&self, value: &M) -> Result<Tagged<M>, Error<M>> {
        let mut body = serde_json::to_value(value)?;
        if let (IdSource::Generated { client_may_choose }, Some(member), Value::Object(members)) =
            (M::ID_SOURCE, M::MEMBERS.id, &mut body)
        {
            if !client_may_choose {
                members.remove(member);
            }
        }
        let body = serde_json::to_vec(&body)?;
        let collection = self.collection.clone();
        let answer = self
            .write(Method::POST, &collection, None, Some((JSON, body)))
            .await?;
        if !answer.status.is_success() {
            return Err(self.refused(&collection, answer));
        }
        let replayed = answer.replayed;
        let created = self.tagged(answer.body, &answer.headers, answer.status)?;
        self.client
            .inner
            .cache
            .put(self.url(created.id()).as_str(), entry_of(&created));
        self.client.inner.counters.count(Count::Committed);
        Ok(created.replayed(replayed))
    }

    /// `PUT` `value` at its id with `If-None-Match: *`: created once, or
    /// refused with 412 (and the state that exists) when a resource has
    /// that id already. The route must allow creating with PUT, or the
    /// answer is 404.
    pub async fn create_once(&self, value: &M) -> Result<Tagged<M>, Error<M>> {
        let url = self.url(value.id());
        let body = serde_json::to_vec(value)?;
        let precondition = Some((IF_NONE_MATCH, ANY));
        let answer = self
            .write(Method::PUT, &url, precondition, Some((JSON, body)))
            .await?;
        match answer.status {
            status if status.is_success() => self.written(&url, answer),
            StatusCode::PRECONDITION_FAILED => Err(Error::PreconditionFailed(Box::new(
                self.conflict(&url, answer, 1),
            ))),
            _ => Err(self.refused(&url, answer)),
        }
    }

    /// `DELETE` member `id` with `If-Match` the tag this client knows;
    /// when it knows none it reads first, and the delete is conditional on
    /// what that read saw. To delete only a state the caller holds, use
    /// [`delete_state`](Self::delete_state).
    pub async fn delete(&self, id: &M::Id) -> Result<(), Error<M>> {
        let url = self.url(id);
        let base = self.base(&url).await?;
        self.delete_at(&url, base.etag()).await
    }

    /// `DELETE` the resource `state` is of, with `If-Match` its tag: it is
    /// deleted only if it is still in that state. A 412 is returned, with
    /// the current state, and not tried again: whether to delete a state
    /// the caller has not seen is the caller's decision.
    pub async fn delete_state(&self, state: &Tagged<M>) -> Result<(), Error<M>> {
        self.delete_at(&self.url(state.id()), state.etag()).await
    }

    async fn delete_at(&self, url: &Url, etag: &EntityTag) -> Result<(), Error<M>> {
        let if_match = Some((IF_MATCH, etag.to_header_value()));
        let answer = self.write(Method::DELETE, url, if_match, None).await?;
        match answer.status {
            status if status.is_success() => {
                self.client.inner.cache.remove(url.as_str());
                self.client.inner.counters.count(Count::Committed);
                Ok(())
            }
            StatusCode::PRECONDITION_FAILED => Err(Error::PreconditionFailed(Box::new(
                self.conflict(url, answer, 1),
            ))),
            _ => Err(self.refused(url, answer)),
        }
    }

    /// The state a write starts from: the cached one, else a read.
    async fn base(&self, url: &Url) -> Result<Tagged<M>, Error<M>> {
        match self.known(url) {
            Some(known) => Ok(known),
            None => self.read(url).await,
        }
    }

    /// After a 412 at `attempt`: the state to apply the change to next,
    /// after the policy's wait, or the refusal when the attempts are spent.
    async fn again(
        &self,
        url: &Url,
        conflict: Conflict<M>,
        attempt: u32,
    ) -> Result<Tagged<M>, Error<M>> {
        let inner = &self.client.inner;
        if attempt >= inner.policy.max_attempts {
            return Err(Error::PreconditionFailed(Box::new(conflict)));
        }
        inner.counters.count(Count::Conflict);
        tracing::debug!(%url, attempt, current = ?conflict.problem.current_etag,
            "412: applying the change again to the current state");
        tokio::time::sleep(inner.policy.wait(attempt)).await;
        match conflict.current {
            // Fresh enough: what the first 412 carried is at most the
            // shortest wait old.
            Some(current) if attempt == 1 => Ok(current),
            // After a longer wait, others have likely written since: a read
            // (conditional on the 412's tag, so a 304 when they have not)
            // gives the change a state a round trip old, not a wait old.
            _ => self.read(url).await,
        }
    }

    /// A read of `url`, conditional when the state is cached.
    async fn read(&self, url: &Url) -> Result<Tagged<M>, Error<M>> {
        let inner = &self.client.inner;
        let cached = inner.cache.get(url.as_str());
        if let Some(entry) = cached.as_ref().filter(|e| e.is_fresh()) {
            if let Ok(fresh) = entry.state() {
                inner.counters.count(Count::Fresh);
                return Ok(fresh);
            }
        }
        let mut request = inner.http.get(url.clone()).header(ACCEPT, JSON);
        if let Some(entry) = &cached {
            request = request.header(IF_NONE_MATCH, entry.etag.to_header_value());
        }
        if let Some(position) = inner.read_after() {
            request = request.header(READ_AFTER, position);
        }
        let answer = inner.send(built(request)?).await?;
        let sent = cached.as_ref().map(|entry| entry.etag.clone());
        match (answer.status, cached) {
            (StatusCode::NOT_MODIFIED, Some(entry)) => {
                inner.counters.count(Count::NotModified);
                let known = entry.state()?;
                let entry = entry.fresh_for(&answer.headers);
                inner
                    .cache
                    .put_unless_changed(url.as_str(), entry, sent.as_ref());
                Ok(known)
            }
            (StatusCode::NOT_MODIFIED, None) => Err(Error::Protocol(
                "a 304 to a read that sent no If-None-Match".to_owned(),
            )),
            (StatusCode::OK, _) => {
                let read = self.tagged(answer.body.clone(), &answer.headers, answer.status)?;
                if forbids_storing(&answer.headers) {
                    inner.cache.remove(url.as_str());
                } else {
                    let entry = entry_of(&read).fresh_for(&answer.headers);
                    inner
                        .cache
                        .put_unless_changed(url.as_str(), entry, sent.as_ref());
                }
                Ok(read)
            }
            _ => Err(self.refused(url, answer)),
        }
    }

    /// One logical write: `method url` with `precondition` and `content`,
    /// under a fresh `Idempotency-Key`, sent until answered. An answer
    /// still without an outcome when the sends run out is
    /// [`Error::Unconfirmed`].
    async fn write(
        &self,
        method: Method,
        url: &Url,
        precondition: Precondition,
        content: Option<(HeaderValue, Vec<u8>)>,
    ) -> Result<Answer, Error<M>> {
        if let Some((IF_MATCH, tag)) = &precondition {
            if tag.as_bytes().starts_with(b"W/") {
                // If-Match compares strongly (IM-1): it could never pass.
                return Err(Error::Protocol(format!(
                    "the server tags {url} weakly ({tag:?}): a weak tag cannot make a write \
                     conditional"
                )));
            }
        }
        let inner = &self.client.inner;
        let key = new_key();
        let mut request = inner
            .http
            .request(method, url.clone())
            .header(ACCEPT, JSON)
            .header(IDEMPOTENCY_KEY, key.clone());
        if let Some((name, value)) = precondition {
            request = request.header(name, value);
        }
        if let Some((media_type, body)) = content {
            request = request.header(CONTENT_TYPE, media_type).body(body);
        }
        let key = || String::from_utf8_lossy(key.as_bytes()).into_owned();
        match inner.send(built(request)?).await {
            Ok(answer) if answer.inconclusive => Err(Error::Unconfirmed {
                key: key(),
                problem: Some(Box::new(Problem::from_answer(answer.status, &answer.body))),
                source: None,
            }),
            Ok(answer) => Ok(answer),
            Err(unanswered) => Err(Error::Unconfirmed {
                key: key(),
                problem: None,
                source: Some(unanswered.source),
            }),
        }
    }

    /// A write's success: its state, remembered for the next write.
    fn written(&self, url: &Url, answer: Answer) -> Result<Tagged<M>, Error<M>> {
        let written = self.tagged(answer.body, &answer.headers, answer.status)?;
        self.client
            .inner
            .cache
            .put(url.as_str(), entry_of(&written));
        self.client.inner.counters.count(Count::Committed);
        Ok(written.replayed(answer.replayed))
    }

    /// The cached state of `url`, if it still reads as an `M`.
    fn known(&self, url: &Url) -> Option<Tagged<M>> {
        self.client.inner.cache.get(url.as_str())?.state().ok()
    }

    /// A representation answer: body, `ETag` and `Last-Modified`.
    fn tagged(
        &self,
        body: Bytes,
        headers: &HeaderMap,
        status: StatusCode,
    ) -> Result<Tagged<M>, Error<M>> {
        let etag = headers
            .get(ETAG)
            .and_then(|v| EntityTag::parse_bytes(v.as_bytes()).ok())
            .ok_or_else(|| {
                Error::Protocol(format!("a {} answer without a valid ETag", status.as_u16()))
            })?;
        let last_modified = headers
            .get(LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        Ok(Tagged::decode(body, etag, last_modified)?)
    }

    /// What a 412 said, its current state remembered: a 412 brings what a
    /// read would have.
    fn conflict(&self, url: &Url, answer: Answer, attempt: u32) -> Conflict<M> {
        let conflict = conflict_of(Problem::from_answer(answer.status, &answer.body), attempt);
        match &conflict.current {
            Some(current) => self.client.inner.cache.put(url.as_str(), entry_of(current)),
            None => self.client.inner.cache.remove(url.as_str()),
        }
        conflict
    }

    /// Any other refusal, typed.
    fn refused(&self, url: &Url, answer: Answer) -> Error<M> {
        let problem = Box::new(Problem::from_answer(answer.status, &answer.body));
        match answer.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                self.client.inner.cache.remove(url.as_str());
                Error::NotFound(problem)
            }
            StatusCode::PRECONDITION_REQUIRED => Error::PreconditionRequired(problem),
            StatusCode::PRECONDITION_FAILED => {
                Error::PreconditionFailed(Box::new(conflict_of(*problem, 1)))
            }
            _ => Error::Refused(problem),
        }
    }
}

/// What a 412's `problem` says, after `attempts` attempts: its current
/// state, when `current` and `current_etag` read as an `M` at a valid
/// tag, and the members it names.
fn conflict_of<M>(problem: Problem, attempts: u32) -> Conflict<M>
where
    M: Versioned + DeserializeOwned,
{
    let current = (|| {
        let etag = EntityTag::parse_bytes(problem.current_etag.as_ref()?.as_bytes()).ok()?;
        let json = serde_json::to_vec(problem.current.as_ref()?).ok()?;
        Tagged::decode(json.into(), etag, None).ok()
    })();
    Conflict {
        conflicts: problem.conflicts.clone(),
        problem,
        current,
        attempts,
    }
}

/// The cache entry of a state.
fn entry_of<M>(state: &Tagged<M>) -> Entry {
    Entry::new(
        state.etag().clone(),
        state.last_modified(),
        state.json().clone(),
    )
}

/// The request `builder` describes; one it cannot build was never sent.
fn built<M>(builder: reqwest::RequestBuilder) -> Result<reqwest::Request, Error<M>> {
    builder
        .build()
        .map_err(|source| Error::Transport { sends: 0, source })
}
