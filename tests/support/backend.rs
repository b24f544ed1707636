//! Backends as values, and the macros that run one test body on each of
//! them.
//!
//! A test body is an `async fn` taking a fixture: a type of the test's own
//! module with an associated `async fn open(db: Db, test: &str, …) ->
//! Option<Self>` that prepares the backend `db` for the test named `test`
//! (its tables, its rows, a guard that drops its schema or database), or
//! returns `None` when the backend's URL is unset, after
//! [`postgres_url`](crate::postgres_url) or [`mysql_url`](crate::mysql_url)
//! has said that the test is skipped.
//!
//! ```text
//! occ_tests::on_every_backend!(Backend => ims_1, ius_2);
//! // mod ims_1 { #[tokio::test] async fn memory() … sqlite() … postgres() … mariadb() }
//! ```

/// A store the same tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Db {
    /// `MemoryRepository`: no database.
    Memory,
    /// A SQLite file of the test's own.
    Sqlite,
    /// PostgreSQL, in a schema of the test's own
    /// (`OCC_TEST_POSTGRES_URL`).
    Postgres,
    /// MariaDB or MySQL, in a database of the test's own
    /// (`OCC_TEST_MYSQL_URL`).
    MariaDb,
}

impl Db {
    /// Every backend.
    pub const ALL: [Self; 4] = [Self::Memory, Self::Sqlite, Self::Postgres, Self::MariaDb];

    /// The SQL backends.
    pub const SQL: [Self; 3] = [Self::Sqlite, Self::Postgres, Self::MariaDb];

    /// Its name in messages: `memory`, `sqlite`, `postgres`, `mariadb`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MariaDb => "mariadb",
        }
    }
}

impl std::fmt::Display for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One test per backend for each test body named: the body `async fn
/// ims_1(backend: Backend)` becomes the tests `ims_1::memory`,
/// `ims_1::sqlite`, `ims_1::postgres` and `ims_1::mariadb`, each on a
/// runtime of two worker threads. A database whose URL is not set shows
/// as ignored, with the reason (see `build.rs`).
///
/// - `on_every_backend!(Fixture => a, b)`: each body gets the fixture
///   `Fixture::open(db, "a").await` by value; `&Fixture => …` lends it.
/// - `b(x, y)` passes `x, y` on to `open` after the test's name:
///   `Fixture::open(db, "b", x, y)`.
/// - `[sqlite, postgres, mysql] Fixture => …`: those backends only, the
///   tests named as given (`mysql` and `mariadb` are the same backend).
/// - `by backend: Fixture => a, b`: the tests `memory::a`, `memory::b`,
///   `sqlite::a`, … (one module per backend rather than per body), the
///   backends named as above if given (`by backend: [sqlite, mysql] …`).
#[macro_export]
macro_rules! on_every_backend {
    (by backend: [$($backend:ident),+ $(,)?] $($rest:tt)*) => {
        $crate::__on_backends!(@split by_backend [$($backend),+] $($rest)*);
    };
    (by backend: $($rest:tt)*) => {
        $crate::__on_backends!(@split by_backend [memory, sqlite, postgres, mariadb] $($rest)*);
    };
    ([$($backend:ident),+ $(,)?] $($rest:tt)*) => {
        $crate::__on_backends!(@split by_test [$($backend),+] $($rest)*);
    };
    ($($rest:tt)*) => {
        $crate::__on_backends!(@split by_test [memory, sqlite, postgres, mariadb] $($rest)*);
    };
}

/// [`on_every_backend!`] on SQLite, PostgreSQL and MariaDB only: the tests
/// `<body>::sqlite`, `<body>::postgres`, `<body>::mariadb`.
#[macro_export]
macro_rules! on_every_sql_backend {
    ($($rest:tt)*) => {
        $crate::on_every_backend!([sqlite, postgres, mariadb] $($rest)*);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __on_backends {
    (@split $layout:ident $backends:tt & $fixture:ty => $($tests:tt)*) => {
        $crate::__on_backends!(@$layout $backends [&] [$fixture] ($($tests)*));
    };
    (@split $layout:ident $backends:tt $fixture:ty => $($tests:tt)*) => {
        $crate::__on_backends!(@$layout $backends [] [$fixture] ($($tests)*));
    };
    (@by_test $backends:tt $amp:tt $fixture:tt
        ($($test:ident $(($($arg:expr),* $(,)?))?),* $(,)?)) => {$(
        mod $test {
            #[allow(unused_imports)]
            use super::*;
            $crate::__on_backends!(@each $backends $amp $fixture $test [$($($arg),*)?]);
        }
    )*};
    (@each [$($backend:ident),+] $amp:tt $fixture:tt $test:ident $args:tt) => {$(
        $crate::__backend_test!($backend $backend $amp $fixture $test $args);
    )+};
    (@by_backend [$($backend:ident),+] $amp:tt $fixture:tt $tests:tt) => {$(
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $crate::__on_backends!(@tests $backend $amp $fixture $tests);
        }
    )+};
    (@tests $backend:ident $amp:tt $fixture:tt
        ($($test:ident $(($($arg:expr),* $(,)?))?),* $(,)?)) => {$(
        $crate::__backend_test!($backend $test $amp $fixture $test [$($($arg),*)?]);
    )*};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __backend_test {
    (memory $($rest:tt)*) => {
        $crate::__backend_test!(@test [] $crate::Db::Memory; $($rest)*);
    };
    (sqlite $($rest:tt)*) => {
        $crate::__backend_test!(@test [] $crate::Db::Sqlite; $($rest)*);
    };
    (postgres $($rest:tt)*) => {
        $crate::__backend_test!(
            @test [cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
            $crate::Db::Postgres; $($rest)*
        );
    };
    (mariadb $($rest:tt)*) => {
        $crate::__backend_test!(
            @test [cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
            $crate::Db::MariaDb; $($rest)*
        );
    };
    (mysql $($rest:tt)*) => {
        $crate::__backend_test!(
            @test [cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
            $crate::Db::MariaDb; $($rest)*
        );
    };
    (@test [$($attr:meta)?] $db:expr; $name:ident [$($amp:tt)?] [$fixture:ty] $test:ident
        [$($arg:expr),*]) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])?
        async fn $name() {
            let Some(fixture) = <$fixture>::open($db, stringify!($test) $(, $arg)*).await else {
                return;
            };
            super::$test($($amp)? fixture).await;
        }
    };
}
