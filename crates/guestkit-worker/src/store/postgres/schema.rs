//! Connecting: the pool, the optional schema, and the migrations under
//! `migrations/postgres/`, embedded in the binary and run at every connect
//! (sqlx's migration table makes that idempotent; its advisory lock makes
//! concurrent connects take turns).

use std::borrow::Cow;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use sqlx_core::migrate::{Migration, MigrationType, Migrator};

use super::R;
use crate::store::StoreError;

/// Every migration, in order: (version, description, SQL). Append only;
/// never edit a released one (sqlx refuses a changed checksum).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "jobs",
        include_str!("../../../migrations/postgres/0001_jobs.sql"),
    ),
    (
        2,
        "cancels and worker leases",
        include_str!("../../../migrations/postgres/0002_cancels_and_worker_leases.sql"),
    ),
];

/// The schema version this build writes (the newest migration).
pub const PG_SCHEMA_VERSION: i64 = 2;

fn migrator() -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect(),
        ),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

fn db_error(
    store: &str,
    what: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Database {
        store: store.to_owned(),
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// A schema name the store accepts: a plain lower-case SQL identifier.
pub(super) fn check_schema_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "{name:?} is not a plain schema name (a-z, 0-9, _, not starting with a digit, at most 63 bytes)"
        ));
    }
    Ok(())
}

/// Opens the pool, creates `schema` when given (and makes it every
/// connection's `search_path`), refuses a schema written by a newer build,
/// and runs the missing migrations. The set-up runs on one connection made
/// first, so an unreachable server or a refused login is reported as the
/// server said it (within `connect_timeout`), not as a pool timeout.
pub(super) async fn connect(
    options: PgConnectOptions,
    schema: Option<&str>,
    max_connections: u32,
    connect_timeout: std::time::Duration,
    store: &str,
) -> R<PgPool> {
    // The migrations' "already exists, skipping" notices are not news.
    let options = options.options([("client_min_messages", "warning")]);
    let options = match schema {
        Some(schema) => options.options([("search_path", schema)]),
        None => options,
    };
    let mut conn =
        match tokio::time::timeout(connect_timeout, PgConnection::connect_with(&options)).await {
            Ok(conn) => conn.map_err(|e| db_error(store, "connect", e))?,
            Err(_) => {
                return Err(StoreError::Database {
                    store: store.to_owned(),
                    what: "connect".to_owned(),
                    source: format!("no answer within {} s", connect_timeout.as_secs_f64()).into(),
                })
            }
        };
    if let Some(schema) = schema {
        // Checked by the caller: a plain identifier, safe to quote as is.
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await;
        match created {
            Ok(_) => {}
            // Two processes creating it at once: IF NOT EXISTS does not
            // cover the race, and the loser sees a unique violation (or
            // duplicate_schema). The schema exists either way.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("23505" | "42P06")) => {}
            Err(e) => return Err(db_error(store, &format!("create schema {schema:?}"), e)),
        }
    }
    check_version(&mut conn, store).await?;
    // `run_direct`, not `run`: `run`'s `Acquire` bound makes this future
    // not `Send` for every lifetime, so it could not be spawned.
    migrator()
        .run_direct(&mut conn)
        .await
        .map_err(|e| db_error(store, "migrate the schema", e))?;
    // Best effort: the set-up is done whether or not the goodbye arrives.
    let _ = conn.close().await;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(connect_timeout)
        .connect_lazy_with(options))
}

/// Refuses a database whose newest applied migration is newer than this
/// build's, before touching anything.
async fn check_version(conn: &mut PgConnection, store: &str) -> R<()> {
    let what = "read the schema version (_sqlx_migrations)";
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| db_error(store, what, e))?;
    if table.is_none() {
        return Ok(());
    }
    let found: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| db_error(store, what, e))?;
    match found {
        Some(found) if found > PG_SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            store: store.to_owned(),
            found,
            supported: PG_SCHEMA_VERSION,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        assert!(check_schema_name("gk_test_1").is_ok());
        assert!(check_schema_name("_x").is_ok());
        for bad in ["", "1a", "A", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_newest_migration_is_the_schema_version() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions, (1..=PG_SCHEMA_VERSION).collect::<Vec<_>>());
    }
}
