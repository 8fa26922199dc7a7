//! Helpers shared by the store tests: a temporary database file, a clock the
//! test moves, and job builders.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use guestkit_worker::store::Clock;
use guestkit_worker::{NewJob, SqliteStore};
use tempfile::TempDir;

/// A clock that only moves when told to, in milliseconds since 1970.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }
    pub fn now(&self) -> DateTime<Utc> {
        ms(self.0.load(Ordering::SeqCst))
    }
    pub fn advance_ms(&self, by: i64) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
    pub fn clock(&self) -> Clock {
        let cell = Arc::clone(&self.0);
        Arc::new(move || ms(cell.load(Ordering::SeqCst)))
    }
}

/// Unix milliseconds as a timestamp.
pub fn ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

/// A fresh database file in its own directory (kept alive by the TempDir).
pub struct TestDb {
    pub dir: TempDir,
    pub path: PathBuf,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        TestDb { dir, path }
    }
    pub fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).unwrap()
    }
    pub fn open_with(&self, clock: &ManualClock) -> SqliteStore {
        SqliteStore::open_with_clock(&self.path, clock.clock()).unwrap()
    }
}

/// A job with a small valid document, created at `created_ms`.
pub fn job(id: &str, priority: u8, created_ms: i64) -> NewJob {
    let mut job = NewJob::new(
        id,
        "system.echo",
        format!(r#"{{"version":"1.0","job_id":"{id}","operation":"system.echo"}}"#),
    );
    job.priority = priority;
    job.created_at = ms(created_ms);
    job
}

// ---------------------------------------------------------------------------
// Both stores: every store test runs on SQLite, and on PostgreSQL where one
// is reachable (GUESTKIT_TEST_PG, or postgres://postgres@127.0.0.1:5432/test).

use std::io::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::Duration;

use guestkit_worker::store::{redact_url, JobStore, PgStore, PgStoreOptions};

/// The server the PostgreSQL variants use unless `GUESTKIT_TEST_PG` names
/// another (or `off` to skip them).
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Test schemas are named `gk_test_<unix seconds>_<pid>_<n>`; ones older
/// than this are left over from killed runs and dropped.
const STALE_SCHEMA_SECS: u64 = 6 * 3600;

/// Runs `f` on a fresh current-thread runtime in its own thread: usable
/// from any test (async or not, any runtime) and from `Drop`.
fn on_own_runtime<T: Send + 'static>(
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
    .join()
    .unwrap()
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The PostgreSQL server the tests use: `Ok(url)`, or `Err(why not)`.
/// Probed once per test binary.
fn pg_server() -> &'static Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| {
        let explicit = std::env::var("GUESTKIT_TEST_PG").ok();
        if explicit
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("off"))
        {
            return Err("GUESTKIT_TEST_PG=off".into());
        }
        let url = explicit.clone().unwrap_or_else(|| DEFAULT_PG_URL.into());
        let probe_url = url.clone();
        let probe = on_own_runtime(move || {
            Box::pin(async move {
                use sqlx::Connection as _;
                let connect = sqlx::PgConnection::connect(&probe_url);
                let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
                    .await
                    .map_err(|_| "no answer within 5 s".to_string())?
                    .map_err(|e| e.to_string())?;
                // Schemas of killed runs.
                let old: Vec<String> = sqlx::query_scalar(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'gk\\_test\\_%'",
                )
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                let cutoff = unix_secs().saturating_sub(STALE_SCHEMA_SECS);
                for name in old {
                    let born = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok());
                    if born.is_some_and(|t| t < cutoff) {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                            .execute(&mut conn)
                            .await;
                    }
                }
                let _ = conn.close().await;
                Ok::<(), String>(())
            })
        });
        let shown = redact_url(&url);
        match probe {
            Ok(()) => Ok(url),
            Err(why) if explicit.is_some() => {
                panic!("GUESTKIT_TEST_PG={shown} is not reachable: {why}")
            }
            Err(why) => Err(format!("PostgreSQL not reachable at {shown}: {why}")),
        }
    })
}

/// A schema of its own for one test, dropped (with everything in it) when
/// this is dropped, even after a failure.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    /// A new, unique schema name on the test server (created by the first
    /// store opened on it); `None`, with a visible SKIP line, when no server
    /// is reachable.
    pub fn new(test: &str) -> Option<Self> {
        static N: AtomicU64 = AtomicU64::new(0);
        match pg_server() {
            Ok(url) => Some(PgSchema {
                url: url.clone(),
                schema: format!(
                    "gk_test_{}_{}_{}",
                    unix_secs(),
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ),
            }),
            Err(why) => {
                // Straight to the terminal: libtest captures only print!
                // and eprint!, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "SKIP ({why}): {test}");
                None
            }
        }
    }

    pub fn options(&self) -> PgStoreOptions {
        PgStoreOptions::new(&self.url)
            .schema(&self.schema)
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(20))
    }

    pub async fn open(&self) -> PgStore {
        self.options().connect().await.unwrap()
    }

    pub async fn open_with(&self, clock: &ManualClock) -> PgStore {
        self.options().clock(clock.clock()).connect().await.unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        on_own_runtime(move || {
            Box::pin(async move {
                if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&url)
                    .await
                {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            })
        });
    }
}

/// One store under test: SQLite in a temporary file, or PostgreSQL in a
/// schema of its own. `open` again for a second connection (or pool) to the
/// same data.
pub enum Backend {
    Sqlite(TestDb),
    Postgres(PgSchema),
}

impl Backend {
    pub fn sqlite() -> Self {
        Backend::Sqlite(TestDb::new())
    }

    /// `None` (after a visible SKIP line naming `test`) when PostgreSQL is
    /// not reachable.
    pub fn postgres(test: &str) -> Option<Self> {
        PgSchema::new(test).map(Backend::Postgres)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    pub async fn open(&self) -> Arc<dyn JobStore> {
        match self {
            Backend::Sqlite(db) => Arc::new(db.open()),
            Backend::Postgres(pg) => Arc::new(pg.open().await),
        }
    }

    pub async fn open_with(&self, clock: &ManualClock) -> Arc<dyn JobStore> {
        match self {
            Backend::Sqlite(db) => Arc::new(db.open_with(clock)),
            Backend::Postgres(pg) => Arc::new(pg.open_with(clock).await),
        }
    }
}

/// For each named `async fn NAME(b: Backend)`, a module `NAME` with two
/// tests: `NAME::sqlite` and `NAME::postgres` (which prints a SKIP line and
/// passes where no PostgreSQL is reachable).
#[allow(unused_macros)]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::common::Backend::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(b) = crate::common::Backend::postgres(concat!(module_path!(), "::postgres")) {
                    super::$name(b).await;
                }
            }
        }
    )*};
}
