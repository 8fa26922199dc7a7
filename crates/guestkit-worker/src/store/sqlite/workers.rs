//! The worker registry: who is alive, what it runs, its last heartbeat.

use std::collections::BTreeSet;

use rusqlite::{params, Connection};

use super::rows::{self, to_ms, Env};
use super::state::{commit, invalid, read_tx, write_tx};
use super::R;
use crate::store::rules;
use crate::store::{StoreError, WorkerInfo, WorkerRecord};

pub(super) fn register_worker(conn: &mut Connection, env: &Env<'_>, worker: &WorkerInfo) -> R<()> {
    if worker.id.is_empty() {
        return Err(invalid("", "worker id", "must not be empty"));
    }
    let caps = serde_json::to_string(&worker.capabilities)
        .map_err(|e| invalid("", "capabilities", e.to_string()))?;
    let lease = rules::lease_ms(worker.lease)?;
    let tx = write_tx(conn, env)?;
    tx.execute(
        "INSERT INTO workers (worker_id, pool, capabilities, version, started_at, last_heartbeat,
                              active_jobs, lease_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)
         ON CONFLICT (worker_id) DO UPDATE SET
             pool = excluded.pool, capabilities = excluded.capabilities,
             version = excluded.version, started_at = excluded.started_at,
             last_heartbeat = excluded.last_heartbeat, active_jobs = 0,
             lease_ms = excluded.lease_ms",
        params![
            worker.id,
            worker.pool,
            caps,
            worker.version,
            to_ms(worker.started_at),
            env.now_ms(),
            lease
        ],
    )
    .map_err(|e| env.db(e))?;
    commit(tx, env)
}

pub(super) fn worker_heartbeat(
    conn: &mut Connection,
    env: &Env<'_>,
    worker_id: &str,
    active_jobs: u32,
) -> R<()> {
    let tx = write_tx(conn, env)?;
    let n = tx
        .execute(
            "UPDATE workers SET last_heartbeat = ?2, active_jobs = ?3 WHERE worker_id = ?1",
            params![worker_id, env.now_ms(), active_jobs],
        )
        .map_err(|e| env.db(e))?;
    if n == 0 {
        return Err(StoreError::WorkerNotFound {
            worker_id: worker_id.to_owned(),
        });
    }
    commit(tx, env)
}

pub(super) fn deregister_worker(conn: &mut Connection, env: &Env<'_>, worker_id: &str) -> R<bool> {
    let tx = write_tx(conn, env)?;
    let n = tx
        .execute("DELETE FROM workers WHERE worker_id = ?1", [worker_id])
        .map_err(|e| env.db(e))?;
    commit(tx, env)?;
    Ok(n > 0)
}

pub(super) fn forget_silent_workers(
    conn: &mut Connection,
    env: &Env<'_>,
    silence: std::time::Duration,
) -> R<Vec<String>> {
    let tx = write_tx(conn, env)?;
    let mut ids = {
        let mut stmt = tx
            .prepare(
                "DELETE FROM workers WHERE last_heartbeat + MAX(lease_ms, ?2) < ?1
                 RETURNING worker_id",
            )
            .map_err(|e| env.db(e))?;
        let rows = stmt
            .query_map(params![env.now_ms(), rules::silence_ms(silence)], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| env.db(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| env.db(e))?
    };
    commit(tx, env)?;
    ids.sort();
    Ok(ids)
}

pub(super) fn list_workers(conn: &mut Connection, env: &Env<'_>) -> R<Vec<WorkerRecord>> {
    let tx = read_tx(conn, env)?;
    let mut stmt = tx
        .prepare(
            "SELECT worker_id, pool, capabilities, version, started_at, last_heartbeat, active_jobs,
                    lease_ms
             FROM workers ORDER BY worker_id",
        )
        .map_err(|e| env.db(e))?;
    let raw = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| env.db(e))?;
    raw.into_iter()
        .map(|(id, pool, caps, version, started, beat, active, lease)| {
            let corrupt = |column: &str, detail: String| StoreError::Corrupt {
                store: env.store.to_owned(),
                what: format!("worker {id:?}, column {column}"),
                detail,
            };
            let time = |column: &str, ms: i64| {
                rows::from_ms(ms)
                    .ok_or_else(|| corrupt(column, format!("{ms} ms since 1970 is out of range")))
            };
            Ok(WorkerRecord {
                capabilities: serde_json::from_str::<BTreeSet<String>>(&caps).map_err(|e| {
                    corrupt("capabilities", format!("not a JSON array of strings: {e}"))
                })?,
                started_at: time("started_at", started)?,
                last_heartbeat: time("last_heartbeat", beat)?,
                active_jobs: u32::try_from(active)
                    .map_err(|_| corrupt("active_jobs", format!("{active} is not a u32")))?,
                lease: rules::lease_from_ms(lease)
                    .ok_or_else(|| corrupt("lease_ms", format!("{lease} is not a lease")))?,
                id,
                pool,
                version,
            })
        })
        .collect()
}
