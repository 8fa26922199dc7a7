//! The worker registry: who is alive, what it runs, its last heartbeat.

use std::collections::BTreeSet;

use sqlx::PgPool;

use super::rows::{col, now_sql, time_in, Op};
use super::R;
use crate::store::rules::{self, invalid};
use crate::store::{StoreError, WorkerInfo, WorkerRecord};

pub(super) async fn register_worker(pool: &PgPool, op: &Op<'_>, worker: &WorkerInfo) -> R<()> {
    if worker.id.is_empty() {
        return Err(invalid("", "worker id", "must not be empty"));
    }
    let started_at = time_in("", "started_at", worker.started_at)?;
    let caps: Vec<&str> = worker.capabilities.iter().map(String::as_str).collect();
    let lease = rules::lease_ms(worker.lease)?;
    let now = now_sql(6);
    let sql = format!(
        "INSERT INTO workers (worker_id, pool, capabilities, version, started_at, last_heartbeat,
                              active_jobs, lease_ms)
         VALUES ($1, $2, $3, $4, $5, {now}, 0, $7)
         ON CONFLICT (worker_id) DO UPDATE SET
             pool = excluded.pool, capabilities = excluded.capabilities,
             version = excluded.version, started_at = excluded.started_at,
             last_heartbeat = excluded.last_heartbeat, active_jobs = 0,
             lease_ms = excluded.lease_ms"
    );
    sqlx::query(&sql)
        .bind(&worker.id)
        .bind(&worker.pool)
        .bind(&caps)
        .bind(&worker.version)
        .bind(started_at)
        .bind(op.now)
        .bind(lease)
        .execute(pool)
        .await
        .map_err(|e| op.db(e))?;
    Ok(())
}

pub(super) async fn worker_heartbeat(
    pool: &PgPool,
    op: &Op<'_>,
    worker_id: &str,
    active_jobs: u32,
) -> R<()> {
    let now = now_sql(3);
    let sql =
        format!("UPDATE workers SET last_heartbeat = {now}, active_jobs = $2 WHERE worker_id = $1");
    let n = sqlx::query(&sql)
        .bind(worker_id)
        .bind(i64::from(active_jobs))
        .bind(op.now)
        .execute(pool)
        .await
        .map_err(|e| op.db(e))?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::WorkerNotFound {
            worker_id: worker_id.to_owned(),
        });
    }
    Ok(())
}

pub(super) async fn deregister_worker(pool: &PgPool, op: &Op<'_>, worker_id: &str) -> R<bool> {
    let n = sqlx::query("DELETE FROM workers WHERE worker_id = $1")
        .bind(worker_id)
        .execute(pool)
        .await
        .map_err(|e| op.db(e))?
        .rows_affected();
    Ok(n > 0)
}

pub(super) async fn forget_silent_workers(
    pool: &PgPool,
    op: &Op<'_>,
    silence: std::time::Duration,
) -> R<Vec<String>> {
    let now = now_sql(2);
    let sql = format!(
        "DELETE FROM workers
         WHERE last_heartbeat + GREATEST(lease_ms, $1) * interval '1 millisecond' < {now}
         RETURNING worker_id"
    );
    let mut ids: Vec<String> = sqlx::query_scalar(&sql)
        .bind(rules::silence_ms(silence))
        .bind(op.now)
        .fetch_all(pool)
        .await
        .map_err(|e| op.db(e))?;
    ids.sort();
    Ok(ids)
}

pub(super) async fn list_workers(pool: &PgPool, op: &Op<'_>) -> R<Vec<WorkerRecord>> {
    let raw = sqlx::query(
        "SELECT worker_id, pool, capabilities, version, started_at, last_heartbeat, active_jobs,
                lease_ms
         FROM workers ORDER BY worker_id COLLATE \"C\"",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| op.db(e))?;
    raw.iter()
        .map(|row| {
            let id: String = col(op, row, "worker_id")?;
            let caps: Vec<String> = col(op, row, "capabilities")?;
            let active: i64 = col(op, row, "active_jobs")?;
            let lease: i64 = col(op, row, "lease_ms")?;
            let corrupt = |column: &str, detail: String| StoreError::Corrupt {
                store: op.store.to_owned(),
                what: format!("worker {id:?}, column {column}"),
                detail,
            };
            Ok(WorkerRecord {
                pool: col(op, row, "pool")?,
                capabilities: caps.into_iter().collect::<BTreeSet<String>>(),
                version: col(op, row, "version")?,
                started_at: col(op, row, "started_at")?,
                last_heartbeat: col(op, row, "last_heartbeat")?,
                active_jobs: u32::try_from(active)
                    .map_err(|_| corrupt("active_jobs", format!("{active} is not a u32")))?,
                lease: rules::lease_from_ms(lease)
                    .ok_or_else(|| corrupt("lease_ms", format!("{lease} is not a lease")))?,
                id,
            })
        })
        .collect()
}
