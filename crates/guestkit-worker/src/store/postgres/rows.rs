//! Between Rust values and PostgreSQL columns: the operation context that
//! builds errors, timestamps truncated to milliseconds, statuses as their
//! wire names, unsigned numbers range-checked both ways.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::status::JobStatus;
use crate::store::rules::invalid;
use crate::store::{JobRecord, StoreError};

use super::R;

/// One operation: the store's name and what is being done (for errors),
/// and the time override of a test clock.
pub(super) struct Op<'a> {
    /// The store, without its password.
    pub store: &'a str,
    /// The operation and its subject.
    pub what: String,
    /// The store's clock read once for this operation (truncated to
    /// milliseconds); `None`: the database server's clock.
    pub now: Option<DateTime<Utc>>,
}

impl Op<'_> {
    /// A driver error of this operation.
    pub fn db(&self, source: sqlx::Error) -> StoreError {
        StoreError::Database {
            store: self.store.to_owned(),
            what: self.what.clone(),
            source: Box::new(source),
        }
    }

    /// A stored value that does not read back.
    pub fn corrupt(&self, job_id: &str, column: &str, detail: String) -> StoreError {
        StoreError::Corrupt {
            store: self.store.to_owned(),
            what: format!("job {job_id:?}, column {column}"),
            detail,
        }
    }

    /// "Now" for a transaction: the test clock, or the server's transaction
    /// time truncated to milliseconds.
    pub async fn now(&self, conn: &mut PgConnection) -> R<DateTime<Utc>> {
        if let Some(now) = self.now {
            return Ok(now);
        }
        sqlx::query_scalar::<_, DateTime<Utc>>("SELECT date_trunc('milliseconds', now())")
            .fetch_one(conn)
            .await
            .map_err(|e| self.db(e))
    }
}

/// `now` in single statements: `$N` is the optional clock override.
pub(super) fn now_sql(param: u8) -> String {
    format!("COALESCE(${param}::timestamptz, date_trunc('milliseconds', now()))")
}

/// Truncated toward the past to whole milliseconds, as every store keeps
/// time.
pub(super) fn trunc_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Oldest year a `timestamptz` holds (4713 BC).
const PG_MIN_YEAR: i32 = -4712;

/// A timestamp from the caller, truncated to milliseconds and checked to fit
/// PostgreSQL's range.
pub(super) fn time_in(job_id: &str, field: &'static str, t: DateTime<Utc>) -> R<DateTime<Utc>> {
    if t.year() < PG_MIN_YEAR {
        return Err(invalid(
            job_id,
            field,
            format!("{t} is before 4713 BC, the oldest time PostgreSQL keeps"),
        ));
    }
    Ok(trunc_ms(t))
}

/// A `u64` stored bit for bit in a `bigint` (device and inode numbers use
/// the full range).
pub(super) fn u64_bits(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The columns [`job_record`] expects, in order.
pub(super) const JOB_COLUMNS: &str = "seq, job_id, operation, status, attempt, max_attempts, \
     priority, worker_id, created_at, updated_at, started_at, finished_at, not_before, \
     idempotency_key, timeout_seconds, deadline, required_capabilities, worker_pool, \
     result_path, error_code, detail, document_json::text, lease_expires_at";

/// A status column.
pub(super) fn status_col(op: &Op<'_>, job_id: &str, column: &str, text: &str) -> R<JobStatus> {
    text.parse()
        .map_err(|e: crate::status::UnknownStatus| op.corrupt(job_id, column, e.to_string()))
}

/// An attempt-like column (a `u32` kept in a `bigint`).
pub(super) fn u32_col(op: &Op<'_>, job_id: &str, column: &str, v: i64) -> R<u32> {
    u32::try_from(v).map_err(|_| op.corrupt(job_id, column, format!("{v} is not a u32")))
}

pub(super) fn priority_col(op: &Op<'_>, job_id: &str, v: i16) -> R<u8> {
    u8::try_from(v).map_err(|_| op.corrupt(job_id, "priority", v.to_string()))
}

pub(super) fn timeout_col(op: &Op<'_>, job_id: &str, v: Option<i64>) -> R<Option<u64>> {
    v.map(|s| u64::try_from(s).map_err(|_| op.corrupt(job_id, "timeout_seconds", s.to_string())))
        .transpose()
}

/// Reads one column, naming it when it does not decode.
pub(super) fn col<'r, T>(op: &Op<'_>, row: &'r PgRow, name: &str) -> R<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get::<T, _>(name).map_err(|e| op.db(e))
}

/// A `jobs` row selected with [`JOB_COLUMNS`], validated; with its `seq`.
pub(super) fn job_record(op: &Op<'_>, row: &PgRow) -> R<(i64, JobRecord)> {
    let job_id: String = col(op, row, "job_id")?;
    let id = job_id.as_str();
    let status: String = col(op, row, "status")?;
    let caps: Vec<String> = col(op, row, "required_capabilities")?;
    let record = JobRecord {
        status: status_col(op, id, "status", &status)?,
        operation: col(op, row, "operation")?,
        attempt: u32_col(op, id, "attempt", col(op, row, "attempt")?)?,
        max_attempts: u32_col(op, id, "max_attempts", col(op, row, "max_attempts")?)?,
        priority: priority_col(op, id, col(op, row, "priority")?)?,
        worker_id: col(op, row, "worker_id")?,
        created_at: col(op, row, "created_at")?,
        updated_at: col(op, row, "updated_at")?,
        started_at: col(op, row, "started_at")?,
        finished_at: col(op, row, "finished_at")?,
        not_before: col(op, row, "not_before")?,
        lease_expires_at: col(op, row, "lease_expires_at")?,
        idempotency_key: col(op, row, "idempotency_key")?,
        timeout_seconds: timeout_col(op, id, col(op, row, "timeout_seconds")?)?,
        deadline: col(op, row, "deadline")?,
        required_capabilities: caps.into_iter().collect::<BTreeSet<String>>(),
        worker_pool: col(op, row, "worker_pool")?,
        result_path: col(op, row, "result_path")?,
        error_code: col(op, row, "error_code")?,
        detail: col(op, row, "detail")?,
        document_json: col(op, row, "document_json")?,
        job_id: job_id.clone(),
    };
    Ok((col(op, row, "seq")?, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_range() {
        let t = DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
        assert_eq!(
            trunc_ms(t).timestamp_nanos_opt(),
            Some(1_700_000_000_123_000_000)
        );
        let before_1970 = DateTime::from_timestamp_nanos(-1_500_000);
        assert_eq!(trunc_ms(before_1970).timestamp_millis(), -2);
        assert!(time_in("j", "created_at", DateTime::<Utc>::MIN_UTC).is_err());
        assert!(time_in("j", "created_at", DateTime::<Utc>::MAX_UTC).is_ok());
        assert_eq!(u64_bits(u64::MAX), -1);
        assert_eq!(
            now_sql(3),
            "COALESCE($3::timestamptz, date_trunc('milliseconds', now()))"
        );
    }
}
