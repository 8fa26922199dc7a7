//! Both stores (SQLite in a file, PostgreSQL in a schema of its own):
//! progress, results, listing, counts, the checksum cache; and each one's
//! schema on disk.

#[macro_use]
mod common;

use common::{job, Backend, ManualClock, TestDb};
use guestkit_worker::store::{PgStoreOptions, PG_SCHEMA_VERSION, SCHEMA_VERSION};
use guestkit_worker::{
    ClaimFilter, FileIdentity, JobFilter, JobStatus, JobStore, ListCursor, SqliteStore, StoreError,
};

async fn progress_is_recorded_in_order_for_active_jobs_only(b: Backend) {
    let clock = ManualClock::at(50_000);
    let store = b.open_with(&clock).await;
    store.submit(job("j", 5, 1_000)).await.unwrap();
    assert!(matches!(
        store.record_progress("j", 1, "open", 0, None).await,
        Err(StoreError::NotActive {
            status: JobStatus::Queued,
            ..
        })
    ));
    store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap();
    store
        .record_progress("j", 1, "open_image", 0, Some("qcow2"))
        .await
        .unwrap();
    store
        .transition("j", 1, JobStatus::Running, None)
        .await
        .unwrap();
    clock.advance_ms(250);
    store
        .record_progress("j", 1, "inspect", 60, None)
        .await
        .unwrap();
    let err = store
        .record_progress("j", 1, "inspect", 101, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidInput {
                field: "percent",
                ..
            }
        ),
        "{err}"
    );

    let progress = store.progress("j").await.unwrap();
    let rows: Vec<_> = progress
        .iter()
        .map(|p| (p.attempt, p.phase.as_str(), p.percent, p.message.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "open_image", 0, Some("qcow2")),
            (1, "inspect", 60, None)
        ]
    );
    assert_eq!(progress[0].at, common::ms(50_000));
    assert_eq!(progress[1].at, common::ms(50_250));
    assert_eq!(
        store.get("j").await.unwrap().unwrap().updated_at,
        common::ms(50_250)
    );
    assert!(matches!(
        store.progress("missing").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn finish_stores_the_result_index(b: Backend) {
    let store = b.open().await;
    store.submit(job("j", 5, 1_000)).await.unwrap();
    assert_eq!(store.result("j").await.unwrap(), None);
    store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap();
    store
        .transition("j", 1, JobStatus::Running, None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .finish("j", 1, JobStatus::Running, "{}", None, None)
            .await,
        Err(StoreError::NotTerminal { .. })
    ));
    assert!(matches!(
        store
            .finish("j", 1, JobStatus::Completed, "not json", None, None)
            .await,
        Err(StoreError::InvalidInput {
            field: "result_json",
            ..
        })
    ));
    let result = r#"{"job_id":"j","status":"completed","data":{"os":"debian"}}"#;
    store
        .finish(
            "j",
            1,
            JobStatus::Completed,
            result,
            Some("/results/j-result.json"),
            None,
        )
        .await
        .unwrap();
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Completed);
    assert_eq!(
        record.result_path.as_deref(),
        Some("/results/j-result.json")
    );
    assert_eq!(record.worker_id.as_deref(), Some("w"));
    assert!(record.finished_at.is_some());
    assert_eq!(store.result("j").await.unwrap().as_deref(), Some(result));
    assert!(matches!(
        store.result("missing").await,
        Err(StoreError::NotFound { job_id }) if job_id == "missing"
    ));

    // A queued job can be failed before it runs, with its error code.
    store.submit(job("rejected", 5, 2_000)).await.unwrap();
    store
        .finish(
            "rejected",
            1,
            JobStatus::Failed,
            r#"{"error":{"code":"image_not_found"}}"#,
            None,
            Some("image_not_found"),
        )
        .await
        .unwrap();
    let record = store.get("rejected").await.unwrap().unwrap();
    assert_eq!(record.error_code.as_deref(), Some("image_not_found"));
}

async fn release_and_cancel_through_transition(b: Backend) {
    let store = b.open().await;
    store.submit(job("released", 5, 1_000)).await.unwrap();
    store.submit(job("cancelled", 1, 1_000)).await.unwrap();
    store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap();
    // Assigned -> Queued: the claim is given back, same attempt, no worker.
    store
        .transition("released", 1, JobStatus::Queued, Some("shutting down"))
        .await
        .unwrap();
    let record = store.get("released").await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempt, record.worker_id),
        (JobStatus::Queued, 1, None)
    );
    store
        .transition("cancelled", 1, JobStatus::Cancelled, Some("user request"))
        .await
        .unwrap();
    let record = store.get("cancelled").await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    assert_eq!(record.detail.as_deref(), Some("user request"));

    // Running -> Queued through transition is a retry without delay.
    let claimed = store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job_id, "released");
    store
        .transition("released", 1, JobStatus::Running, None)
        .await
        .unwrap();
    store
        .transition("released", 1, JobStatus::Queued, None)
        .await
        .unwrap();
    assert_eq!(store.get("released").await.unwrap().unwrap().attempt, 2);
}

async fn list_pages_newest_first_with_filters(b: Backend) {
    let store = b.open().await;
    // Two share a created_at: insertion order breaks the tie.
    let created = [1_000, 5_000, 3_000, 3_000, 2_000, 4_000, 6_000];
    for (i, at) in created.iter().enumerate() {
        store.submit(job(&format!("j{i}"), 5, *at)).await.unwrap();
    }
    let mut inspect = job("inspect-1", 5, 3_500);
    inspect.operation = "guestkit.inspect".into();
    store.submit(inspect).await.unwrap();

    let mut seen = vec![];
    let mut filter = JobFilter {
        limit: 3,
        ..Default::default()
    };
    let mut pages = 0;
    loop {
        let page = store.list(&filter).await.unwrap();
        pages += 1;
        assert!(page.jobs.len() <= 3);
        seen.extend(page.jobs.iter().map(|j| j.job_id.clone()));
        match page.next {
            // The cursor survives its text form.
            Some(next) => filter.before = Some(next.to_string().parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["j6", "j1", "j5", "inspect-1", "j3", "j2", "j4", "j0"]
    );

    let only_inspect = store
        .list(&JobFilter {
            operation: Some("guestkit.inspect".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only_inspect.jobs.len(), 1);
    assert_eq!(only_inspect.next, None);

    store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap();
    let assigned = store
        .list(&JobFilter {
            status: Some(JobStatus::Assigned),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(assigned.jobs.len(), 1);
    // Full pages end with a cursor, an exact fit does not.
    let exact = store
        .list(&JobFilter {
            limit: 8,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((exact.jobs.len(), exact.next), (8, None));

    assert!(matches!(
        store
            .list(&JobFilter {
                limit: 0,
                ..Default::default()
            })
            .await,
        Err(StoreError::InvalidInput { field: "limit", .. })
    ));
    let bad = "12345".parse::<ListCursor>().unwrap_err();
    assert!(bad.to_string().contains("\"12345\""), "{bad}");
}

async fn counts_and_queue_depth(b: Backend) {
    let store = b.open().await;
    for i in 0..5 {
        store.submit(job(&format!("j{i}"), 5, 1_000)).await.unwrap();
    }
    let a = store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap()
        .unwrap();
    let b = store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap()
        .unwrap();
    store
        .transition(&b.job_id, 1, JobStatus::Running, None)
        .await
        .unwrap();
    store
        .finish(
            &b.job_id,
            1,
            JobStatus::TimedOut,
            "{}",
            None,
            Some("timeout"),
        )
        .await
        .unwrap();
    let counts = store.counts_by_status().await.unwrap();
    assert_eq!(counts.len(), JobStatus::ALL.len());
    assert_eq!(counts[&JobStatus::Queued], 3);
    assert_eq!(counts[&JobStatus::Assigned], 1);
    assert_eq!(counts[&JobStatus::TimedOut], 1);
    assert_eq!(counts[&JobStatus::Running], 0);
    assert_eq!(store.queue_depth().await.unwrap(), 3);
    assert_eq!(
        store.get(&a.job_id).await.unwrap().unwrap().status,
        JobStatus::Assigned
    );
}

async fn checksum_cache_through_the_trait(b: Backend) {
    let file = FileIdentity {
        device: u64::MAX,
        inode: 1 << 63,
        size: 42,
        mtime_ns: 1_700_000_000_000_000_001,
        path: "/srv/images/image.qcow2".into(),
    };
    {
        let store = b.open().await;
        assert_eq!(store.cached_checksum(&file).await.unwrap(), None);
        store.store_checksum(&file, [7; 32]).await.unwrap();
    }
    let store = b.open().await;
    assert_eq!(store.cached_checksum(&file).await.unwrap(), Some([7; 32]));
    // The path is not part of the key (hard links share content)...
    let mut linked = file.clone();
    linked.path = "/srv/images/link.qcow2".into();
    assert_eq!(store.cached_checksum(&linked).await.unwrap(), Some([7; 32]));
    // ...but every other field is.
    let mut touched = file.clone();
    touched.mtime_ns += 1;
    assert_eq!(store.cached_checksum(&touched).await.unwrap(), None);
    // A new version at the same path replaces the old entry.
    store.store_checksum(&touched, [8; 32]).await.unwrap();
    assert_eq!(
        store.cached_checksum(&touched).await.unwrap(),
        Some([8; 32])
    );
    assert_eq!(store.cached_checksum(&file).await.unwrap(), None);
}

#[tokio::test]
async fn database_is_wal_and_a_newer_schema_is_refused_untouched() {
    let db = TestDb::new();
    {
        let store = db.open();
        store.submit(job("kept", 5, 1_000)).await.unwrap();
    }
    let raw = rusqlite::Connection::open(&db.path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);

    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = SqliteStore::open(&db.path).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported, .. }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&db.path.display().to_string()),
        "{message}"
    );
    assert!(message.contains("newer"), "{message}");

    // Put the version back: nothing was lost.
    raw.pragma_update(None, "user_version", SCHEMA_VERSION)
        .unwrap();
    drop(raw);
    let store = db.open();
    assert_eq!(
        store.get("kept").await.unwrap().unwrap().status,
        JobStatus::Queued
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_an_error_naming_it() {
    let db = TestDb::new();
    std::fs::write(
        &db.path,
        b"this is not SQLite, just text that is long enough........",
    )
    .unwrap();
    let err = SqliteStore::open(&db.path).unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err}");
    assert!(
        err.to_string().contains(&db.path.display().to_string()),
        "{err}"
    );
    // The file is left as it was.
    assert!(std::fs::read(&db.path)
        .unwrap()
        .starts_with(b"this is not SQLite"));
}

async fn timestamps_are_kept_to_the_millisecond(b: Backend) {
    let store = b.open().await;
    let mut new = job("j", 5, 0);
    new.created_at = chrono::DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
    new.deadline = Some(common::ms(1_800_000_000_000));
    new.timeout_seconds = Some(600);
    store.submit(new).await.unwrap();
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        record.created_at.timestamp_nanos_opt(),
        Some(1_700_000_000_123_000_000)
    );
    assert_eq!(record.deadline, Some(common::ms(1_800_000_000_000)));
    let claimed = store
        .claim_next("w", &ClaimFilter::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.timeout_seconds, Some(600));
    assert_eq!(claimed.deadline, record.deadline);
    // Records serialise with RFC 3339 times for the REST API.
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["created_at"], "2023-11-14T22:13:20.123Z");
    assert_eq!(json["deadline"], "2027-01-15T08:00:00Z");
    assert_eq!(json["started_at"], serde_json::Value::Null);
    assert_eq!(json["status"], "queued");
}

both_stores!(
    progress_is_recorded_in_order_for_active_jobs_only,
    finish_stores_the_result_index,
    release_and_cancel_through_transition,
    list_pages_newest_first_with_filters,
    counts_and_queue_depth,
    checksum_cache_through_the_trait,
    timestamps_are_kept_to_the_millisecond,
);

/// The version-1 schema as released (before leases and the worker
/// registry), for the upgrade test.
const SQLITE_V1: &str = "
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'assigned',
        'running', 'completed', 'failed', 'cancelled', 'timed_out')),
    priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    worker_id TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    started_at INTEGER, finished_at INTEGER, not_before INTEGER,
    idempotency_key TEXT UNIQUE, timeout_seconds INTEGER CHECK (timeout_seconds >= 0),
    deadline INTEGER,
    required_capabilities TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(required_capabilities)),
    worker_pool TEXT, document_json TEXT NOT NULL, result_json TEXT, result_path TEXT,
    error_code TEXT, detail TEXT
) STRICT;
CREATE INDEX jobs_queue  ON jobs (status, priority DESC, created_at, seq);
CREATE INDEX jobs_newest ON jobs (created_at DESC, seq DESC);
CREATE INDEX jobs_worker ON jobs (worker_id) WHERE worker_id IS NOT NULL;
CREATE TABLE job_history (
    id INTEGER PRIMARY KEY, job_id TEXT NOT NULL REFERENCES jobs (job_id),
    attempt INTEGER NOT NULL, from_status TEXT, to_status TEXT NOT NULL, worker_id TEXT,
    detail TEXT, at INTEGER NOT NULL
) STRICT;
CREATE INDEX job_history_job ON job_history (job_id, id);
CREATE TABLE job_progress (
    id INTEGER PRIMARY KEY, job_id TEXT NOT NULL REFERENCES jobs (job_id),
    attempt INTEGER NOT NULL, phase TEXT NOT NULL,
    percent INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100), message TEXT,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX job_progress_job ON job_progress (job_id, id);
CREATE TABLE file_checksums (
    device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, path TEXT NOT NULL,
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32), stored_at INTEGER NOT NULL,
    PRIMARY KEY (device, inode, size, mtime_ns)
) STRICT, WITHOUT ROWID;
CREATE INDEX file_checksums_path ON file_checksums (path);
INSERT INTO jobs (job_id, operation, status, priority, attempt, max_attempts, worker_id,
                  created_at, updated_at, document_json)
VALUES ('old-running', 'system.echo', 'running', 5, 1, 3, 'w-old', 1000, 50000, '{}'),
       ('old-queued', 'system.echo', 'queued', 5, 1, 3, NULL, 2000, 2000, '{}');
PRAGMA user_version = 1;
";

#[tokio::test]
async fn a_version_1_sqlite_file_is_upgraded_and_its_running_jobs_get_a_lease() {
    let db = TestDb::new();
    rusqlite::Connection::open(&db.path)
        .unwrap()
        .execute_batch(SQLITE_V1)
        .unwrap();
    let clock = ManualClock::at(60_000);
    let store = db.open_with(&clock);
    let version: i64 = rusqlite::Connection::open(&db.path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, SCHEMA_VERSION), (3, 3));

    // The running job's lease is 30 s from its last change (50 s).
    let running = store.get("old-running").await.unwrap().unwrap();
    assert_eq!(running.lease_expires_at, Some(common::ms(80_000)));
    assert_eq!(
        store
            .get("old-queued")
            .await
            .unwrap()
            .unwrap()
            .lease_expires_at,
        None
    );
    assert!(store.reclaim_expired().await.unwrap().requeued.is_empty());
    clock.advance_ms(20_000);
    assert_eq!(
        store.reclaim_expired().await.unwrap().requeued,
        vec![("old-running".to_string(), 2)]
    );
    // The registry exists and works; so do cancel requests (version 3).
    assert!(store.list_workers().await.unwrap().is_empty());
    assert!(store.cancel_requests("w-old").await.unwrap().is_empty());
    // Opening again changes nothing.
    drop(store);
    let store = db.open();
    assert_eq!(store.get("old-running").await.unwrap().unwrap().attempt, 2);
}

#[tokio::test]
async fn postgres_migrations_are_idempotent_and_concurrent_connects_take_turns() {
    let Some(pg) = common::PgSchema::new("store_queries::postgres_migrations") else {
        return;
    };
    let opens = (0..4).map(|_| {
        let options = pg.options();
        async move { options.connect().await.unwrap() }
    });
    let stores = futures_join_all(opens).await;
    stores[0].submit(job("j", 5, 1_000)).await.unwrap();
    // Every store sees the one set of tables.
    for store in &stores {
        assert_eq!(store.queue_depth().await.unwrap(), 1);
    }
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(stores[0].pool())
            .await
            .unwrap();
    assert_eq!(applied, [(1, true), (2, true)]);
    assert_eq!(PG_SCHEMA_VERSION, 2);
    // A schema of its own: the tables are not in public.
    let schema: String = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'jobs' \
         AND table_schema = current_schema()",
    )
    .fetch_one(stores[0].pool())
    .await
    .unwrap();
    assert_eq!(schema, pg.schema);
}

#[tokio::test]
async fn postgres_newer_schema_is_refused_untouched() {
    let Some(pg) = common::PgSchema::new("store_queries::postgres_newer_schema") else {
        return;
    };
    let store = pg.open().await;
    store.submit(job("kept", 5, 1_000)).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99, 'from the future', true, '\\x00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let err = pg.options().connect().await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, supported, .. } if supported == PG_SCHEMA_VERSION),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(&pg.schema), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
    // Nothing was lost.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 99")
        .execute(store.pool())
        .await
        .unwrap();
    let store = pg.open().await;
    assert_eq!(
        store.get("kept").await.unwrap().unwrap().status,
        JobStatus::Queued
    );
}

#[tokio::test]
async fn postgres_errors_name_the_store_without_its_password() {
    // Nothing listens on port 1: the refusal comes back at once.
    let err = PgStoreOptions::new("postgres://gk:hunter2@127.0.0.1:1/jobs")
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("postgres://gk:***@127.0.0.1:1/jobs"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("connect"), "{message}");

    let err = PgStoreOptions::new("postgres://h/d")
        .schema("Robert'); DROP TABLE jobs;--")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidInput {
                field: "schema",
                ..
            }
        ),
        "{err}"
    );
}

/// `join_all` without the futures crate: the opens run concurrently.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The server's certificate on a Debian PostgreSQL (`ssl = on` by default):
/// self-signed, for `localhost`.
const SNAKEOIL_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[tokio::test]
async fn postgres_speaks_tls_when_the_url_asks_and_verifies_the_server() {
    let Some(pg) = common::PgSchema::new("store_queries::postgres_tls") else {
        return;
    };
    if !std::path::Path::new(SNAKEOIL_CERT).exists() {
        eprintln!("SKIP (no {SNAKEOIL_CERT}): store_queries::postgres_tls");
        return;
    }
    let sep = if pg.url.contains('?') { '&' } else { '?' };
    let host = pg.url.replacen("127.0.0.1", "localhost", 1);
    let ssl_of = |store: &guestkit_worker::store::PgStore| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // Asked not to, the store speaks plain text.
    let plain = PgStoreOptions::new(format!("{host}{sep}sslmode=disable"))
        .schema(&pg.schema)
        .connect()
        .await
        .unwrap();
    assert!(!ssl_of(&plain).await);
    let verified = format!("{host}{sep}sslmode=verify-full&sslrootcert={SNAKEOIL_CERT}");
    let store = PgStoreOptions::new(&verified)
        .schema(&pg.schema)
        .connect()
        .await;
    let store = match store {
        Ok(store) => store,
        // A server without TLS says so; anything else is a failure.
        Err(e) if e.to_string().contains("does not support TLS") => {
            eprintln!("SKIP (server without TLS: {e}): store_queries::postgres_tls");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(ssl_of(&store).await, "the connection is not encrypted");
    store.submit(job("over-tls", 5, 1)).await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 1);

    // A certificate that does not vouch for the server: refused, and the
    // error names the store without its password.
    let wrong_root = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong_root.path(), include_str!("fixtures/other-ca.pem")).unwrap();
    let refused = format!(
        "{host}{sep}sslmode=verify-full&sslrootcert={}",
        wrong_root.path().display()
    );
    let err = PgStoreOptions::new(&refused)
        .schema(&pg.schema)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("postgres://"), "{text}");
}
