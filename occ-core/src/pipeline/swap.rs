//! [`Pipeline::swap`]: a write of the handler's own SQL under occ's rules.

use crate::repository::WriteCondition;
use crate::versioned::Versioned;

use super::plan::{Plan, ATTEMPTS};
use super::rejection::Rejection;
use super::request::Pipeline;

impl<'a> Pipeline<'a> {
    /// A write of the handler's own, under occ's rules: `write` runs the
    /// handler's statement with the condition it is given in its `WHERE`
    /// clause (first the one the preconditions reduce to, if they do), and
    /// returns the state written, or `None` when it touched no row; `read`
    /// reads the current state (`None`: missing). After a miss, the state
    /// is read and the preconditions evaluated on it again (PR-1): a false
    /// one is the refusal (412 with the current state, 404, 428), a true
    /// one (`If-Match: *`, a date still met) writes again on the version
    /// read, a bounded number of times. So no update is lost and no
    /// request is refused for a race it did not lose.
    ///
    /// The outer error is the handler's own (its database's); the inner
    /// is the refusal. It never creates: a missing resource is 404.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Mutex;
    /// use http::{HeaderMap, Method};
    /// use occ_core::pipeline::{Pipeline, Rejection};
    /// use occ_core::repository::WriteCondition;
    /// use occ_core::{Preconditions, Versioned};
    ///
    /// #[derive(Clone, Debug, Versioned)]
    /// struct Counter { id: u64, #[version] version: u64, value: i64 }
    ///
    /// // The handler's own store: one row.
    /// let row = Mutex::new(Counter { id: 1, version: 3, value: 10 });
    /// let mut headers = HeaderMap::new();
    /// headers.insert("if-match", "*".parse().unwrap());
    /// let pre = Preconditions::from_headers(&headers);
    /// let put = Pipeline::new(&Method::PUT, &pre);
    ///
    /// let saved = put
    ///     .swap(
    ///         &1,
    ///         || async { Ok::<_, String>(Some(row.lock().unwrap().clone())) },
    ///         |condition: WriteCondition<u64>| {
    ///             // `UPDATE … SET value = value + 1, version = version + 1
    ///             //  WHERE id = 1 AND <condition> RETURNING …`
    ///             let mut row = row.lock().unwrap();
    ///             let met = condition.is_met_by(&*row);
    ///             if met {
    ///                 row.value += 1;
    ///                 row.version += 1;
    ///             }
    ///             let written = met.then(|| row.clone());
    ///             async move { Ok(written) }
    ///         },
    ///     )
    ///     .await
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!((saved.version, saved.value), (4, 11));
    /// # });
    /// ```
    pub async fn swap<M, E, R, FR, W, FW>(
        &self,
        id: &M::Id,
        mut read: R,
        mut write: W,
    ) -> Result<Result<M, Rejection<M>>, E>
    where
        M: Versioned,
        R: FnMut() -> FR,
        FR: std::future::Future<Output = Result<Option<M>, E>>,
        W: FnMut(WriteCondition<M::Version>) -> FW,
        FW: std::future::Future<Output = Result<Option<M>, E>>,
    {
        let this = self.creatable(false);
        if let Plan::Push(condition) = this.plan::<M>(id, false) {
            if let Some(saved) = write(condition).await? {
                return Ok(Ok(saved));
            }
        }
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let current = match this.decide::<M, std::convert::Infallible>(read().await?) {
                Ok(Some(current)) => current,
                Ok(None) => return Ok(Err(Rejection::NotFound)),
                Err(rejection) => return Ok(Err(rejection)),
            };
            let condition = WriteCondition::VersionIn(vec![current.version()]);
            match write(condition).await? {
                Some(saved) => return Ok(Ok(saved)),
                // Changed since the read: read and evaluate again.
                None => last = Some(Box::new(current)),
            }
        }
        Ok(Err(this.raced(last)))
    }
}
