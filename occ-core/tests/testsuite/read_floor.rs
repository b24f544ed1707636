//! A GET decided on the state itself (`If-Match`, `If-Unmodified-Since`,
//! `If-Modified-Since` alone) reads the primary even without occ-axum's
//! `ReadFloorLayer`: a replica's older state would answer 412, or 200 with
//! a state older than the one the client named. A GET with no
//! precondition, or one decided by `If-None-Match` (whose floor is the
//! tag's version), may still go to a replica.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use http::{HeaderMap, HeaderValue, Method};
use occ_core::pipeline::Pipeline;
use occ_core::repository::floor::{ReadFloor, WalPosition};
use occ_core::repository::{
    KnownVersions, MemoryRepository, Page, Repository, RepositoryError, Snapshot, WriteCondition,
};
use occ_core::Preconditions;
use occ_core::Versioned;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Versioned)]
#[occ(etag = "n-{id}-v{version}")]
struct Note {
    id: u64,
    #[version]
    version: u64,
}

/// A memory repository that notes, for each `read`, the floor it ran
/// under: (primary only, the position).
#[derive(Default)]
struct Watching {
    inner: MemoryRepository<Note>,
    floors: Mutex<Vec<(bool, Option<WalPosition>)>>,
}

#[async_trait]
impl Repository<Note> for Watching {
    async fn get(&self, id: &u64) -> Result<Note, RepositoryError<Note>> {
        self.inner.get(id).await
    }

    async fn read(
        &self,
        id: &u64,
        known: &KnownVersions<u64>,
    ) -> Result<Snapshot<Note>, RepositoryError<Note>> {
        let floor = ReadFloor::current();
        self.floors.lock().unwrap().push((
            floor.as_ref().is_some_and(|f| f.is_primary_only()),
            floor.and_then(|f| f.position()),
        ));
        self.inner.read(id, known).await
    }

    async fn create(&self, note: Note) -> Result<Note, RepositoryError<Note>> {
        self.inner.create(note).await
    }

    async fn update(
        &self,
        note: Note,
        condition: &WriteCondition<u64>,
    ) -> Result<Note, RepositoryError<Note>> {
        self.inner.update(note, condition).await
    }

    async fn delete(
        &self,
        id: &u64,
        condition: &WriteCondition<u64>,
    ) -> Result<Note, RepositoryError<Note>> {
        self.inner.delete(id, condition).await
    }

    async fn list(
        &self,
        after: Option<&u64>,
        limit: u32,
    ) -> Result<Page<Note>, RepositoryError<Note>> {
        self.inner.list(after, limit).await
    }
}

/// The floor of the one read a GET with `headers` did.
async fn floor_of_get(headers: &[(&'static str, &'static str)]) -> (bool, Option<WalPosition>) {
    let repo = Watching::default();
    repo.create(Note { id: 1, version: 3 }).await.unwrap();
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_static(value));
    }
    let preconditions = Preconditions::from_headers(&map);
    let _ = Pipeline::new(&Method::GET, &preconditions)
        .read(&repo, &1)
        .await;
    let floors = repo.floors.lock().unwrap().clone();
    assert_eq!(floors.len(), 1, "one read: {floors:?}");
    floors[0]
}

#[tokio::test]
async fn a_get_decided_on_the_state_reads_the_primary() {
    for headers in [
        &[("if-match", "\"n-1-v3\"")][..],
        &[("if-match", "\"n-1-v2\"")],
        &[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")],
        &[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")],
    ] {
        assert!(floor_of_get(headers).await.0, "{headers:?}");
    }
}

#[tokio::test]
async fn a_get_without_a_state_precondition_may_read_a_replica() {
    for headers in [
        &[][..],
        &[("if-none-match", "\"n-1-v3\"")],
        &[
            ("if-none-match", "\"n-1-v2\""),
            ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ],
    ] {
        assert_eq!(floor_of_get(headers).await, (false, None), "{headers:?}");
    }
}

#[tokio::test]
async fn the_primary_read_keeps_the_requests_write_floor() {
    let position: WalPosition = "16/B374D848".parse().unwrap();
    let floor = Arc::new(ReadFloor::new().after(Some(position)));
    let seen = floor
        .scope(floor_of_get(&[("if-match", "\"n-1-v3\"")]))
        .await;
    assert_eq!(seen, (true, Some(position)));
}
