//! Retry a read-modify-write on conflict, the shape of Kubernetes'
//! `RetryOnConflict`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::condition::WriteCondition;
use super::contract::Repository;
use super::error::RepositoryError;
use crate::versioned::Versioned;

/// How often and how patiently [`retry_on_conflict`] retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each retry, with jitter.
    pub initial_backoff: Duration,
    /// Upper bound of one delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 10 ms doubling up to 1 s (as Kubernetes' default).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
        }
    }
}

/// Reads the resource, lets `modify` change it, and writes it back on the
/// condition that the version is still the one read; on a conflict, waits
/// (exponential backoff with jitter) and starts over, up to
/// `policy.max_attempts` times. `modify` may refuse by returning an error,
/// which ends the loop.
///
/// `modify` always gets the state as stored when its attempt starts: the
/// first attempt reads it; a retry starts from the state the conflict
/// carried (`PreconditionFailed { current }`, read by the store right
/// after the write that beat it, design decision 16), so it costs no
/// second read. Never the copy a failed attempt changed, nor a state older
/// than the write that beat it. `modify` may thus run more than once, and
/// should only compute from the state it is given.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use occ_core::repository::{retry_on_conflict, MemoryRepository, Repository, RetryPolicy};
/// use occ_core::Versioned;
///
/// #[derive(Clone, Versioned)]
/// struct Counter { id: u32, #[version] version: u64, value: i64 }
///
/// let repo = MemoryRepository::new();
/// repo.create(Counter { id: 1, version: 1, value: 0 }).await?;
/// let saved = retry_on_conflict(&repo, &1, RetryPolicy::default(), |c| {
///     c.value += 1;
///     Ok(())
/// })
/// .await?;
/// assert_eq!((saved.value, saved.version), (1, 2));
/// # Ok::<(), occ_core::repository::RepositoryError<Counter>>(())
/// # }).unwrap();
/// ```
pub async fn retry_on_conflict<M, R, F>(
    repo: &R,
    id: &M::Id,
    policy: RetryPolicy,
    mut modify: F,
) -> Result<M, RepositoryError<M>>
where
    M: Versioned + Send + Sync + 'static,
    R: Repository<M> + ?Sized,
    F: FnMut(&mut M) -> Result<(), RepositoryError<M>>,
{
    let mut backoff = policy.initial_backoff;
    let mut attempt = 1;
    let mut model = repo.get(id).await?;
    loop {
        let read = model.version();
        modify(&mut model)?;
        match repo
            .update(model, &WriteCondition::VersionIn(vec![read]))
            .await
        {
            Err(RepositoryError::PreconditionFailed { current })
                if attempt < policy.max_attempts =>
            {
                tokio::time::sleep(jitter(backoff)).await;
                backoff = (backoff * 2).min(policy.max_backoff);
                attempt += 1;
                model = *current;
            }
            result => return result,
        }
    }
}

/// A delay between half and all of `backoff`, so that writers who collided
/// do not collide again in lockstep.
fn jitter(backoff: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // xorshift of the clock's low bits: spread enough for backoff.
    let mut x = nanos ^ 0x9E37_79B9;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    backoff / 2 + backoff.mul_f64(f64::from(x % 1000) / 2000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failure is the test failing

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::repository::memory::MemoryRepository;
    use crate::repository::snapshot::Page;

    #[derive(Debug, Clone, PartialEq)]
    struct Item {
        id: u32,
        version: u64,
        tags: Vec<String>,
    }

    crate::testing::versioned_by_id!(Item);

    /// A store where another writer lands between the first read and the
    /// first write.
    struct Racing {
        inner: MemoryRepository<Item>,
        raced: AtomicBool,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl Repository<Item> for Racing {
        async fn get(&self, id: &u32) -> Result<Item, RepositoryError<Item>> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get(id).await
        }
        async fn create(&self, item: Item) -> Result<Item, RepositoryError<Item>> {
            self.inner.create(item).await
        }
        async fn update(
            &self,
            item: Item,
            condition: &WriteCondition<u64>,
        ) -> Result<Item, RepositoryError<Item>> {
            if !self.raced.swap(true, Ordering::SeqCst) {
                let mut other = self.inner.get(&item.id).await?;
                other.tags.push("other".into());
                let read = other.version;
                self.inner
                    .update(other, &WriteCondition::VersionIn(vec![read]))
                    .await?;
            }
            self.inner.update(item, condition).await
        }
        async fn delete(
            &self,
            id: &u32,
            condition: &WriteCondition<u64>,
        ) -> Result<Item, RepositoryError<Item>> {
            self.inner.delete(id, condition).await
        }
        async fn list(
            &self,
            after: Option<&u32>,
            limit: u32,
        ) -> Result<Page<Item>, RepositoryError<Item>> {
            self.inner.list(after, limit).await
        }
    }

    #[tokio::test]
    async fn modify_always_gets_the_state_read_for_its_attempt() {
        let repo = Racing {
            inner: MemoryRepository::new(),
            raced: AtomicBool::new(false),
            gets: AtomicUsize::new(0),
        };
        repo.create(Item {
            id: 1,
            version: 1,
            tags: vec![],
        })
        .await
        .unwrap();
        let seen = Mutex::new(Vec::new());
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let saved = retry_on_conflict(&repo, &1, policy, |item| {
            seen.lock().unwrap().push(item.clone());
            item.tags.push("mine".into());
            Ok(())
        })
        .await
        .unwrap();
        let seen = seen.into_inner().unwrap();
        // First attempt: version 1 as created. Second: the other writer's
        // version 2, as the conflict carried it, without the first
        // attempt's change.
        assert_eq!(
            seen,
            vec![
                Item {
                    id: 1,
                    version: 1,
                    tags: vec![]
                },
                Item {
                    id: 1,
                    version: 2,
                    tags: vec!["other".into()]
                },
            ]
        );
        assert_eq!(saved.version, 3);
        // One read: the retry started from the state the 412 carried.
        assert_eq!(repo.gets.load(Ordering::SeqCst), 1);
        assert_eq!(saved.tags, vec!["other".to_owned(), "mine".to_owned()]);
        assert_eq!(repo.get(&1).await.unwrap(), saved);
    }
}
