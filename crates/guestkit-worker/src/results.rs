//! Result files: `<results>/<job_id>-result.json` (and `.yaml` when the
//! job asks for YAML) and a job's own output destination, each written
//! atomically (a temporary file in the same directory, synced, then
//! renamed), so a reader never sees half a result.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;

use guestkit_job_spec::{result_file_name, JobResult, OutputFormat};

use crate::metrics::Metrics;
use serde_json::Value;

/// Writes results into one directory.
pub struct ResultSink {
    dir: PathBuf,
    written: AtomicU64,
    metrics: Option<Arc<Metrics>>,
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn encode(value: &impl serde::Serialize, format: OutputFormat) -> std::io::Result<Vec<u8>> {
    match format {
        OutputFormat::Json => {
            let mut v = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
            v.push(b'\n');
            Ok(v)
        }
        OutputFormat::Yaml => serde_yaml_ng::to_string(value)
            .map(String::into_bytes)
            .map_err(std::io::Error::other),
    }
}

impl ResultSink {
    /// A sink writing into `dir` (which must exist).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResultSink {
            dir: dir.into(),
            written: AtomicU64::new(0),
            metrics: None,
        }
    }

    /// The same sink, counting written bytes in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, bytes: usize) {
        self.written.fetch_add(bytes as u64, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.wrote(bytes as u64);
        }
    }

    /// The results directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the result of `job_id` goes.
    pub fn path_for(&self, job_id: &str) -> PathBuf {
        self.dir.join(result_file_name(job_id))
    }

    /// Bytes of results and outputs written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Writes the result as JSON, and as YAML beside it when `yaml`.
    pub fn write(&self, result: &JobResult, yaml: bool) -> std::io::Result<PathBuf> {
        let path = self.path_for(&result.job_id);
        let json = encode(result, OutputFormat::Json)?;
        write_atomic(&path, &json)?;
        self.count(json.len());
        if yaml {
            let y = encode(result, OutputFormat::Yaml)?;
            write_atomic(&path.with_extension("yaml"), &y)?;
            self.count(y.len());
        }
        Ok(path)
    }

    /// Writes a job's output (`data`) to its checked destination.
    pub fn write_output(
        &self,
        destination: &Path,
        data: &Value,
        format: OutputFormat,
    ) -> std::io::Result<u64> {
        let bytes = encode(data, format)?;
        write_atomic(destination, &bytes)?;
        self.written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.len() as u64)
    }

    /// The stored result of `job_id`, if its file exists.
    pub fn read(&self, job_id: &str) -> Option<JobResult> {
        let text = std::fs::read(self.path_for(job_id)).ok()?;
        serde_json::from_slice(&text).ok()
    }
}
