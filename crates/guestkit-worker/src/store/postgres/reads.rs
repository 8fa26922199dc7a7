//! The queries: one job, its result, history and progress, pages of jobs,
//! counts, and the checksum cache.

use sqlx::PgPool;

use super::rows::{col, job_record, status_col, u32_col, u64_bits, Op, JOB_COLUMNS};
use super::state::{begin, end, exists};
use super::R;
use crate::checksum::FileIdentity;
use crate::status::JobStatus;
use crate::store::rules::invalid;
use crate::store::{
    JobFilter, JobPage, JobRecord, ListCursor, ProgressRecord, StateChange, StatusCounts,
    StoreError, MAX_LIST_LIMIT,
};

pub(super) async fn get(pool: &PgPool, op: &Op<'_>, job_id: &str) -> R<Option<JobRecord>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1");
    let row = sqlx::query(&sql)
        .bind(job_id)
        .fetch_optional(pool)
        .await
        .map_err(|e| op.db(e))?;
    row.map(|row| job_record(op, &row).map(|(_, record)| record))
        .transpose()
}

pub(super) async fn result(pool: &PgPool, op: &Op<'_>, job_id: &str) -> R<Option<String>> {
    let row: Option<Option<String>> =
        sqlx::query_scalar("SELECT result_json::text FROM jobs WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await
            .map_err(|e| op.db(e))?;
    row.ok_or_else(|| StoreError::NotFound {
        job_id: job_id.to_owned(),
    })
}

pub(super) async fn history(pool: &PgPool, op: &Op<'_>, job_id: &str) -> R<Vec<StateChange>> {
    exists(pool, op, job_id).await?;
    let raw = sqlx::query(
        "SELECT from_status, to_status, attempt, worker_id, detail, at FROM job_history
         WHERE job_id = $1 ORDER BY id",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await
    .map_err(|e| op.db(e))?;
    raw.iter()
        .map(|row| {
            let from: Option<String> = col(op, row, "from_status")?;
            let to: String = col(op, row, "to_status")?;
            Ok(StateChange {
                from: from
                    .map(|s| status_col(op, job_id, "job_history.from_status", &s))
                    .transpose()?,
                to: status_col(op, job_id, "job_history.to_status", &to)?,
                attempt: u32_col(op, job_id, "job_history.attempt", col(op, row, "attempt")?)?,
                worker_id: col(op, row, "worker_id")?,
                detail: col(op, row, "detail")?,
                at: col(op, row, "at")?,
            })
        })
        .collect()
}

pub(super) async fn progress(pool: &PgPool, op: &Op<'_>, job_id: &str) -> R<Vec<ProgressRecord>> {
    exists(pool, op, job_id).await?;
    let raw = sqlx::query(
        "SELECT attempt, phase, percent, message, at FROM job_progress
         WHERE job_id = $1 ORDER BY id",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await
    .map_err(|e| op.db(e))?;
    raw.iter()
        .map(|row| {
            let percent: i16 = col(op, row, "percent")?;
            Ok(ProgressRecord {
                attempt: u32_col(op, job_id, "job_progress.attempt", col(op, row, "attempt")?)?,
                phase: col(op, row, "phase")?,
                percent: u8::try_from(percent)
                    .map_err(|_| op.corrupt(job_id, "job_progress.percent", percent.to_string()))?,
                message: col(op, row, "message")?,
                at: col(op, row, "at")?,
            })
        })
        .collect()
}

pub(super) async fn list(pool: &PgPool, op: &Op<'_>, filter: &JobFilter) -> R<JobPage> {
    if !(1..=MAX_LIST_LIMIT).contains(&filter.limit) {
        return Err(invalid(
            "",
            "limit",
            format!("{} is outside 1-{MAX_LIST_LIMIT}", filter.limit),
        ));
    }
    let before = filter
        .before
        .map(|c| {
            chrono::DateTime::from_timestamp_millis(c.created_ms)
                .map(|t| (t, c.seq))
                .ok_or_else(|| invalid("", "before", format!("cursor {c} is out of range")))
        })
        .transpose()?;
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR operation = $2)
           AND ($3::timestamptz IS NULL OR (created_at, seq) < ($3, $4))
         ORDER BY created_at DESC, seq DESC
         LIMIT $5"
    );
    // One more than asked tells whether a next page exists.
    let raw = sqlx::query(&sql)
        .bind(filter.status.map(JobStatus::as_str))
        .bind(&filter.operation)
        .bind(before.map(|(t, _)| t))
        .bind(before.map_or(0, |(_, seq)| seq))
        .bind(i64::from(filter.limit).saturating_add(1))
        .fetch_all(pool)
        .await
        .map_err(|e| op.db(e))?;
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let more = raw.len() > limit;
    let mut jobs = Vec::with_capacity(limit.min(raw.len()));
    let mut next = None;
    for row in raw.iter().take(limit) {
        let (seq, record) = job_record(op, row)?;
        next = Some(ListCursor {
            created_ms: record.created_at.timestamp_millis(),
            seq,
        });
        jobs.push(record);
    }
    Ok(JobPage {
        jobs,
        next: if more { next } else { None },
    })
}

pub(super) async fn counts_by_status(pool: &PgPool, op: &Op<'_>) -> R<StatusCounts> {
    let raw = sqlx::query("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        .fetch_all(pool)
        .await
        .map_err(|e| op.db(e))?;
    let mut counts: StatusCounts = JobStatus::ALL.into_iter().map(|s| (s, 0)).collect();
    for row in &raw {
        let status: String = col(op, row, "status")?;
        let n: i64 = col(op, row, "n")?;
        let status = status
            .parse::<JobStatus>()
            .map_err(|e| StoreError::Corrupt {
                store: op.store.to_owned(),
                what: "jobs.status".to_owned(),
                detail: e.to_string(),
            })?;
        counts.insert(status, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

pub(super) async fn queue_depth(pool: &PgPool, op: &Op<'_>) -> R<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'queued'")
        .fetch_one(pool)
        .await
        .map_err(|e| op.db(e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(super) async fn cached_checksum(
    pool: &PgPool,
    op: &Op<'_>,
    file: &FileIdentity,
) -> R<Option<[u8; 32]>> {
    let blob: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT sha256 FROM file_checksums
         WHERE device = $1 AND inode = $2 AND size = $3 AND mtime_ns = $4",
    )
    .bind(u64_bits(file.device))
    .bind(u64_bits(file.inode))
    .bind(u64_bits(file.size))
    .bind(file.mtime_ns)
    .fetch_optional(pool)
    .await
    .map_err(|e| op.db(e))?;
    blob.map(|b| {
        <[u8; 32]>::try_from(b.as_slice()).map_err(|_| StoreError::Corrupt {
            store: op.store.to_owned(),
            what: format!("file_checksums row of {}", file.path.display()),
            detail: format!("digest of {} bytes, expected 32", b.len()),
        })
    })
    .transpose()
}

pub(super) async fn store_checksum(
    pool: &PgPool,
    op: &Op<'_>,
    file: &FileIdentity,
    digest: [u8; 32],
) -> R<()> {
    let path = file.path.to_string_lossy();
    let mut tx = begin(pool, op).await?;
    let out: R<()> = async {
        let now = op.now(&mut tx).await?;
        // The file at this path changed: its old identities are of no more use.
        sqlx::query("DELETE FROM file_checksums WHERE path = $1")
            .bind(path.as_ref())
            .execute(&mut *tx)
            .await
            .map_err(|e| op.db(e))?;
        sqlx::query(
            "INSERT INTO file_checksums (device, inode, size, mtime_ns, path, sha256, stored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (device, inode, size, mtime_ns) DO UPDATE
             SET path = excluded.path, sha256 = excluded.sha256, stored_at = excluded.stored_at",
        )
        .bind(u64_bits(file.device))
        .bind(u64_bits(file.inode))
        .bind(u64_bits(file.size))
        .bind(file.mtime_ns)
        .bind(path.as_ref())
        .bind(digest.as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| op.db(e))?;
        Ok(())
    }
    .await;
    end(tx, op, out).await
}
