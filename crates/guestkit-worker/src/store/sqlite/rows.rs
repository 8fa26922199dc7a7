//! Between Rust values and SQLite columns: timestamps as unix milliseconds,
//! statuses as their wire names, unsigned numbers range-checked both ways.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::Row;

use crate::status::JobStatus;
use crate::store::{JobRecord, StoreError};

/// What an operation needs to build its errors and timestamps.
pub(super) struct Env<'a> {
    /// `sqlite:<path>`.
    pub store: &'a str,
    /// The operation and its subject.
    pub what: &'a str,
    /// The store's clock, read once per operation.
    pub now: DateTime<Utc>,
}

impl Env<'_> {
    /// A driver error of this operation.
    pub fn db(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Database {
            store: self.store.to_owned(),
            what: self.what.to_owned(),
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

    /// `now` as stored.
    pub fn now_ms(&self) -> i64 {
        to_ms(self.now)
    }
}

/// Unix milliseconds, truncated toward the past (also before 1970).
/// `DateTime<Utc>` spans about ±262,000 years, well inside `i64`
/// milliseconds.
pub(super) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`to_ms`]; `None` when out of `DateTime<Utc>`'s range.
pub(super) fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// A `u64` stored bit for bit (device and inode numbers use the full range).
pub(super) fn u64_bits(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The columns [`RawJob::read`] expects, in order.
pub(super) const JOB_COLUMNS: &str = "seq, job_id, operation, status, attempt, max_attempts, \
     priority, worker_id, created_at, updated_at, started_at, finished_at, not_before, \
     idempotency_key, timeout_seconds, deadline, required_capabilities, worker_pool, \
     result_path, error_code, detail, document_json, lease_expires_at";

/// A `jobs` row as SQLite hands it out, before validation.
pub(super) struct RawJob {
    pub seq: i64,
    job_id: String,
    operation: String,
    status: String,
    attempt: i64,
    max_attempts: i64,
    priority: i64,
    worker_id: Option<String>,
    pub created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    not_before: Option<i64>,
    idempotency_key: Option<String>,
    timeout_seconds: Option<i64>,
    deadline: Option<i64>,
    required_capabilities: String,
    worker_pool: Option<String>,
    result_path: Option<String>,
    error_code: Option<String>,
    detail: Option<String>,
    document_json: String,
    lease_expires_at: Option<i64>,
}

impl RawJob {
    /// Reads a row selected with [`JOB_COLUMNS`].
    pub fn read(row: &Row<'_>) -> rusqlite::Result<RawJob> {
        Ok(RawJob {
            seq: row.get(0)?,
            job_id: row.get(1)?,
            operation: row.get(2)?,
            status: row.get(3)?,
            attempt: row.get(4)?,
            max_attempts: row.get(5)?,
            priority: row.get(6)?,
            worker_id: row.get(7)?,
            created_at: row.get(8)?,
            updated_at: row.get(9)?,
            started_at: row.get(10)?,
            finished_at: row.get(11)?,
            not_before: row.get(12)?,
            idempotency_key: row.get(13)?,
            timeout_seconds: row.get(14)?,
            deadline: row.get(15)?,
            required_capabilities: row.get(16)?,
            worker_pool: row.get(17)?,
            result_path: row.get(18)?,
            error_code: row.get(19)?,
            detail: row.get(20)?,
            document_json: row.get(21)?,
            lease_expires_at: row.get(22)?,
        })
    }

    /// Validates every column into a [`JobRecord`].
    pub fn into_record(self, env: &Env<'_>) -> Result<JobRecord, StoreError> {
        let id = self.job_id.as_str();
        let time = |column: &str, ms: i64| time_col(env, id, column, ms);
        let opt_time = |column: &str, ms: Option<i64>| ms.map(|ms| time(column, ms)).transpose();
        Ok(JobRecord {
            status: status_col(env, id, "status", &self.status)?,
            attempt: u32_col(env, id, "attempt", self.attempt)?,
            max_attempts: u32_col(env, id, "max_attempts", self.max_attempts)?,
            priority: u8::try_from(self.priority)
                .map_err(|_| env.corrupt(id, "priority", format!("{}", self.priority)))?,
            created_at: time("created_at", self.created_at)?,
            updated_at: time("updated_at", self.updated_at)?,
            started_at: opt_time("started_at", self.started_at)?,
            finished_at: opt_time("finished_at", self.finished_at)?,
            not_before: opt_time("not_before", self.not_before)?,
            lease_expires_at: opt_time("lease_expires_at", self.lease_expires_at)?,
            deadline: opt_time("deadline", self.deadline)?,
            timeout_seconds: self
                .timeout_seconds
                .map(|s| {
                    u64::try_from(s).map_err(|_| env.corrupt(id, "timeout_seconds", s.to_string()))
                })
                .transpose()?,
            required_capabilities: serde_json::from_str::<BTreeSet<String>>(
                &self.required_capabilities,
            )
            .map_err(|e| {
                env.corrupt(
                    id,
                    "required_capabilities",
                    format!("not a JSON array of strings: {e}"),
                )
            })?,
            operation: self.operation,
            worker_id: self.worker_id,
            idempotency_key: self.idempotency_key,
            worker_pool: self.worker_pool,
            result_path: self.result_path,
            error_code: self.error_code,
            detail: self.detail,
            document_json: self.document_json,
            job_id: self.job_id,
        })
    }
}

/// A status column.
pub(super) fn status_col(
    env: &Env<'_>,
    job_id: &str,
    column: &str,
    text: &str,
) -> Result<JobStatus, StoreError> {
    text.parse()
        .map_err(|e: crate::status::UnknownStatus| env.corrupt(job_id, column, e.to_string()))
}

/// An attempt-like column (1 or more in practice, never negative).
pub(super) fn u32_col(
    env: &Env<'_>,
    job_id: &str,
    column: &str,
    v: i64,
) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| env.corrupt(job_id, column, format!("{v} is not a u32")))
}

/// A timestamp column.
pub(super) fn time_col(
    env: &Env<'_>,
    job_id: &str,
    column: &str,
    ms: i64,
) -> Result<DateTime<Utc>, StoreError> {
    from_ms(ms).ok_or_else(|| {
        env.corrupt(
            job_id,
            column,
            format!("{ms} ms since 1970 is out of range"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_round_trip_truncates_toward_the_past() {
        let t = DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert_eq!(
            from_ms(to_ms(t)).unwrap().timestamp_nanos_opt(),
            Some(1_700_000_000_123_000_000)
        );
        let before_1970 = DateTime::from_timestamp_nanos(-1_500_000);
        assert_eq!(to_ms(before_1970), -2);
        assert_eq!(from_ms(-2).unwrap().timestamp_nanos_opt(), Some(-2_000_000));
        assert!(from_ms(i64::MAX).is_none());
        assert!(from_ms(i64::MIN).is_none());
    }

    #[test]
    fn u64_bits_round_trip() {
        for v in [0, 1, u64::MAX, 1 << 63] {
            let stored = u64_bits(v);
            assert_eq!(u64::from_ne_bytes(stored.to_ne_bytes()), v);
        }
    }
}
