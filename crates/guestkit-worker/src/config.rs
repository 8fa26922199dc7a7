//! The worker's settings: command-line flags, environment variables
//! (`GUESTKIT_…`) and a TOML file, in that order of precedence, over the
//! defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use thiserror::Error;

/// Why the settings are unusable.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event.
    Json,
}

/// Encoding of OTLP/HTTP trace exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OtlpProtocol {
    /// `application/x-protobuf`, what collectors expect by default.
    #[default]
    HttpProtobuf,
    /// `application/json`.
    HttpJson,
}

/// Where the worker sends its spans (the `otlp` cargo feature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`
    /// (`/v1/traces` is added to a base URL that lacks it).
    pub traces_url: String,
    pub protocol: OtlpProtocol,
}

/// Flags and environment variables of `guestkit-worker`. Every value is
/// optional here: what is missing comes from `--config`, then the
/// defaults.
#[derive(Debug, Parser, Default)]
#[command(
    name = "guestkit-worker",
    version,
    about = "Runs guestkit jobs (job protocol v1.0) dropped into a directory"
)]
pub struct Args {
    /// TOML file with any of the settings below (flags and environment win).
    #[arg(long, env = "GUESTKIT_CONFIG")]
    pub config: Option<PathBuf>,
    /// This worker's id (default: worker-<hostname>).
    #[arg(long, env = "GUESTKIT_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Directory watched for job files (default ./jobs).
    #[arg(long, env = "GUESTKIT_JOBS_DIR")]
    pub jobs_dir: Option<PathBuf>,
    /// Directory results are written to (default ./results).
    #[arg(long, env = "GUESTKIT_RESULTS_DIR")]
    pub results_dir: Option<PathBuf>,
    /// Directory for the worker's state (default ./state).
    #[arg(long, env = "GUESTKIT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Job store: a SQLite file path or `sqlite:PATH` (default
    /// STATE_DIR/worker.db), or a PostgreSQL URL
    /// (`postgres://user:password@host:port/database`) shared by many workers.
    #[arg(long, env = "GUESTKIT_STORE")]
    pub store: Option<String>,
    /// Seconds a claimed job stays ours without a heartbeat (renewed every
    /// third of it; default 30). After it, any worker may take the job back.
    #[arg(long, env = "GUESTKIT_LEASE_SECONDS")]
    pub lease_seconds: Option<u64>,
    /// Seconds a worker that stopped heartbeating (crashed, killed) stays
    /// listed in the registry before any worker removes it (default 3600;
    /// 0 keeps such workers listed).
    #[arg(long, env = "GUESTKIT_WORKER_RETENTION_SECONDS")]
    pub worker_retention_seconds: Option<u64>,
    /// Jobs run at once (default 4).
    #[arg(long, env = "GUESTKIT_MAX_CONCURRENT")]
    pub max_concurrent: Option<usize>,
    /// Serve Prometheus metrics.
    #[arg(long, env = "GUESTKIT_METRICS_ENABLED")]
    pub metrics_enabled: Option<bool>,
    /// Address of the metrics endpoint (default 0.0.0.0:9090).
    #[arg(long, env = "GUESTKIT_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// A directory images may be read from (repeatable). Jobs naming an
    /// image elsewhere are rejected.
    #[arg(
        long = "image-root",
        env = "GUESTKIT_IMAGE_ROOTS",
        value_delimiter = ':'
    )]
    pub image_roots: Vec<PathBuf>,
    /// A directory job outputs may be written to besides the results
    /// directory (repeatable).
    #[arg(
        long = "output-root",
        env = "GUESTKIT_OUTPUT_ROOTS",
        value_delimiter = ':'
    )]
    pub output_roots: Vec<PathBuf>,
    /// Worker pool this worker serves (jobs routed to another pool are
    /// not taken).
    #[arg(long, env = "GUESTKIT_WORKER_POOL")]
    pub pool: Option<String>,
    /// Extra capability this worker advertises (repeatable).
    #[arg(
        long = "capability",
        env = "GUESTKIT_CAPABILITIES",
        value_delimiter = ','
    )]
    pub capabilities: Vec<String>,
    /// Seconds running jobs get to finish after SIGTERM (default 30).
    #[arg(long, env = "GUESTKIT_GRACE_SECONDS")]
    pub grace_seconds: Option<u64>,
    /// Milliseconds between rescans of the jobs directory (default 2000).
    #[arg(long, env = "GUESTKIT_RESCAN_MS")]
    pub rescan_ms: Option<u64>,
    /// First retry delay in milliseconds, doubled per attempt (default 1000).
    #[arg(long, env = "GUESTKIT_RETRY_BACKOFF_MS")]
    pub retry_backoff_ms: Option<u64>,
    /// Log format.
    #[arg(long, env = "GUESTKIT_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Send spans to this OpenTelemetry collector over OTLP/HTTP, e.g.
    /// http://127.0.0.1:4318 (needs a build with the `otlp` feature).
    #[arg(long, env = "GUESTKIT_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// OTLP/HTTP encoding (default http-protobuf).
    #[arg(long, env = "GUESTKIT_OTLP_PROTOCOL", value_enum)]
    pub otlp_protocol: Option<OtlpProtocol>,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Flags of the REST API (`--api-…`).
#[derive(Debug, clap::Args, Default)]
pub struct ApiArgs {
    /// Serve the REST API (`--api-enabled` alone means true).
    #[arg(long, env = "GUESTKIT_API_ENABLED", num_args = 0..=1, default_missing_value = "true")]
    pub api_enabled: Option<bool>,
    /// Address of the REST API (default 0.0.0.0:8080).
    #[arg(long, env = "GUESTKIT_API_ADDR")]
    pub api_addr: Option<SocketAddr>,
    /// Largest request body in bytes (default 1048576).
    #[arg(long, env = "GUESTKIT_API_BODY_LIMIT")]
    pub api_body_limit: Option<usize>,
    /// File of API tokens, one `ROLE TOKEN` a line (roles `read` and
    /// `submit`; submit implies read; `#` starts a comment).
    #[arg(long, env = "GUESTKIT_API_TOKENS_FILE")]
    pub api_tokens: Option<PathBuf>,
    /// API tokens as `ROLE:TOKEN,ROLE:TOKEN` (prefer the environment
    /// variable: a command line is visible to every local user).
    #[arg(long, env = "GUESTKIT_API_TOKENS", hide_env_values = true)]
    pub api_token_list: Option<String>,
    /// Serve the API without tokens (every request may read, submit and
    /// cancel). Without tokens and without this flag the worker refuses
    /// to start the API.
    #[arg(long, env = "GUESTKIT_API_INSECURE_NO_AUTH", num_args = 0..=1, default_missing_value = "true")]
    pub api_insecure_no_auth: Option<bool>,
    /// Requests per second allowed per token, 0 for no limit (default 50).
    #[arg(long, env = "GUESTKIT_API_RATE_LIMIT")]
    pub api_rate_limit: Option<f64>,
    /// Requests a token may make at once above the rate (default: twice
    /// the rate, at least 1).
    #[arg(long, env = "GUESTKIT_API_RATE_BURST")]
    pub api_rate_burst: Option<u32>,
    /// PEM certificate chain: serve the API over TLS (with --api-tls-key).
    #[arg(long, env = "GUESTKIT_API_TLS_CERT")]
    pub api_tls_cert: Option<PathBuf>,
    /// PEM private key of --api-tls-cert.
    #[arg(long, env = "GUESTKIT_API_TLS_KEY")]
    pub api_tls_key: Option<PathBuf>,
}

/// The TOML file: the same settings, snake_case keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub worker_id: Option<String>,
    pub jobs_dir: Option<PathBuf>,
    pub results_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub store: Option<String>,
    pub lease_seconds: Option<u64>,
    pub worker_retention_seconds: Option<u64>,
    pub max_concurrent: Option<usize>,
    pub metrics_enabled: Option<bool>,
    pub metrics_addr: Option<SocketAddr>,
    #[serde(default)]
    pub image_roots: Vec<PathBuf>,
    #[serde(default)]
    pub output_roots: Vec<PathBuf>,
    pub pool: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub grace_seconds: Option<u64>,
    pub rescan_ms: Option<u64>,
    pub retry_backoff_ms: Option<u64>,
    pub log_format: Option<LogFormat>,
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: Option<OtlpProtocol>,
    pub api_enabled: Option<bool>,
    pub api_addr: Option<SocketAddr>,
    pub api_body_limit: Option<usize>,
    pub api_tokens: Option<PathBuf>,
    pub api_insecure_no_auth: Option<bool>,
    pub api_rate_limit: Option<f64>,
    pub api_rate_burst: Option<u32>,
    pub api_tls_cert: Option<PathBuf>,
    pub api_tls_key: Option<PathBuf>,
}

/// Settings of the REST API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    pub addr: SocketAddr,
    pub body_limit: usize,
    /// File of `ROLE TOKEN` lines.
    pub tokens_file: Option<PathBuf>,
    /// `ROLE:TOKEN,…` (from the environment).
    pub token_list: Option<String>,
    pub insecure_no_auth: bool,
    /// Requests per second per token; 0: unlimited.
    pub rate_limit: f64,
    pub rate_burst: u32,
    /// Certificate chain and key (PEM): TLS when set.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Default `--api-body-limit`: 1 MiB.
pub const DEFAULT_API_BODY_LIMIT: usize = 1 << 20;

/// The settings in force.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub worker_id: String,
    pub jobs_dir: PathBuf,
    pub results_dir: PathBuf,
    pub state_dir: PathBuf,
    /// The job store.
    pub store: StoreLocation,
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How long a silent worker stays in the registry; `None` keeps it.
    pub worker_retention: Option<Duration>,
    pub max_concurrent: usize,
    pub metrics_enabled: bool,
    pub metrics_addr: SocketAddr,
    pub image_roots: Vec<PathBuf>,
    pub output_roots: Vec<PathBuf>,
    pub pool: Option<String>,
    pub extra_capabilities: Vec<String>,
    pub grace: Duration,
    pub rescan: Duration,
    pub retry_backoff: Duration,
    pub log_format: LogFormat,
    /// OpenTelemetry export, when an endpoint is given.
    pub otlp: Option<OtlpSettings>,
    /// The REST API, when enabled.
    pub api: Option<ApiSettings>,
}

/// Where the job store is.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file (one machine).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (many workers).
    Postgres(String),
}

/// Shown without the password.
impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&crate::store::redact_url(url)),
        }
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Most jobs at once: more would only queue on two cores' worth of I/O.
const MAX_CONCURRENT_LIMIT: usize = 1024;

fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "local".into());
    format!("worker-{host}")
}

impl FileConfig {
    /// Reads a TOML settings file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

impl WorkerConfig {
    /// Flags and environment over the file named by `--config` over the
    /// defaults.
    pub fn resolve(args: Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        Self::merge(args, file)
    }

    /// `args` over `file` over the defaults.
    pub fn merge(args: Args, file: FileConfig) -> Result<Self, ConfigError> {
        let api = api_settings(args.api, &file)?;
        let state_dir = args
            .state_dir
            .or(file.state_dir)
            .unwrap_or_else(|| PathBuf::from("state"));
        let store = match args.store.or(file.store) {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                StoreLocation::Postgres(s)
            }
            Some(s) => {
                let path = s.strip_prefix("sqlite:").unwrap_or(&s);
                if path.contains("://") {
                    return Err(ConfigError::Invalid {
                        field: "store",
                        message: format!("{}: a SQLite file (path or sqlite:PATH) or a postgres:// URL is expected", crate::store::redact_url(&s)),
                    });
                }
                StoreLocation::Sqlite(PathBuf::from(path))
            }
            None => StoreLocation::Sqlite(state_dir.join("worker.db")),
        };
        let lease_seconds = args.lease_seconds.or(file.lease_seconds).unwrap_or(30);
        let max_lease = crate::store::MAX_LEASE.as_secs();
        if lease_seconds == 0 || lease_seconds > max_lease {
            return Err(ConfigError::Invalid {
                field: "lease_seconds",
                message: format!("{lease_seconds} (1 to {max_lease} accepted)"),
            });
        }
        let max_concurrent = args.max_concurrent.or(file.max_concurrent).unwrap_or(4);
        if max_concurrent == 0 || max_concurrent > MAX_CONCURRENT_LIMIT {
            return Err(ConfigError::Invalid {
                field: "max_concurrent",
                message: format!("{max_concurrent} (1 to {MAX_CONCURRENT_LIMIT} accepted)"),
            });
        }
        let pick = |a: Vec<PathBuf>, f: Vec<PathBuf>| if a.is_empty() { f } else { a };
        Ok(WorkerConfig {
            worker_id: args
                .worker_id
                .or(file.worker_id)
                .unwrap_or_else(default_worker_id),
            jobs_dir: args
                .jobs_dir
                .or(file.jobs_dir)
                .unwrap_or_else(|| PathBuf::from("jobs")),
            results_dir: args
                .results_dir
                .or(file.results_dir)
                .unwrap_or_else(|| PathBuf::from("results")),
            state_dir,
            store,
            lease: Duration::from_secs(lease_seconds),
            worker_retention: match args
                .worker_retention_seconds
                .or(file.worker_retention_seconds)
                .unwrap_or(3600)
            {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
            max_concurrent,
            metrics_enabled: args
                .metrics_enabled
                .or(file.metrics_enabled)
                .unwrap_or(false),
            metrics_addr: args
                .metrics_addr
                .or(file.metrics_addr)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 9090))),
            image_roots: pick(args.image_roots, file.image_roots),
            output_roots: pick(args.output_roots, file.output_roots),
            pool: args.pool.or(file.pool),
            extra_capabilities: if args.capabilities.is_empty() {
                file.capabilities
            } else {
                args.capabilities
            },
            grace: Duration::from_secs(args.grace_seconds.or(file.grace_seconds).unwrap_or(30)),
            rescan: Duration::from_millis(
                args.rescan_ms.or(file.rescan_ms).unwrap_or(2000).max(10),
            ),
            retry_backoff: Duration::from_millis(
                args.retry_backoff_ms
                    .or(file.retry_backoff_ms)
                    .unwrap_or(1000),
            ),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            otlp: otlp_settings(
                args.otlp_endpoint.or(file.otlp_endpoint),
                args.otlp_protocol
                    .or(file.otlp_protocol)
                    .unwrap_or_default(),
            )?,
            api,
        })
    }
}

/// The OTLP settings for `endpoint` (none without one): an `http://` URL,
/// completed with the traces path.
fn otlp_settings(
    endpoint: Option<String>,
    protocol: OtlpProtocol,
) -> Result<Option<OtlpSettings>, ConfigError> {
    let Some(endpoint) = endpoint.filter(|e| !e.trim().is_empty()) else {
        return Ok(None);
    };
    let base = endpoint.trim().trim_end_matches('/');
    let host = base.strip_prefix("http://").unwrap_or_default();
    if host.is_empty() || host.starts_with('/') {
        return Err(ConfigError::Invalid {
            field: "otlp_endpoint",
            message: format!(
                "{endpoint:?} is not an http:// URL of an OTLP/HTTP collector \
                 (https: send to a local collector that forwards with TLS)"
            ),
        });
    }
    let traces_url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    Ok(Some(OtlpSettings {
        traces_url,
        protocol,
    }))
}

/// The API settings of `args` over `file`; `None` when the API is off.
fn api_settings(args: ApiArgs, file: &FileConfig) -> Result<Option<ApiSettings>, ConfigError> {
    if !args.api_enabled.or(file.api_enabled).unwrap_or(false) {
        return Ok(None);
    }
    let invalid = |field, message: String| ConfigError::Invalid { field, message };
    let body_limit = args
        .api_body_limit
        .or(file.api_body_limit)
        .unwrap_or(DEFAULT_API_BODY_LIMIT);
    if body_limit == 0 {
        return Err(invalid("api_body_limit", "0 bytes admits no job".into()));
    }
    let rate_limit = args.api_rate_limit.or(file.api_rate_limit).unwrap_or(50.0);
    if !rate_limit.is_finite() || rate_limit < 0.0 {
        return Err(invalid(
            "api_rate_limit",
            format!("{rate_limit} (requests per second, 0 for no limit)"),
        ));
    }
    let rate_burst = args
        .api_rate_burst
        .or(file.api_rate_burst)
        .unwrap_or_else(|| ((rate_limit * 2.0).ceil() as u32).max(1));
    if rate_burst == 0 {
        return Err(invalid("api_rate_burst", "0 admits no request".into()));
    }
    let tls = match (
        args.api_tls_cert.or_else(|| file.api_tls_cert.clone()),
        args.api_tls_key.or_else(|| file.api_tls_key.clone()),
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                "api_tls_key",
                "missing: --api-tls-cert needs --api-tls-key".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(invalid(
                "api_tls_cert",
                "missing: --api-tls-key needs --api-tls-cert".into(),
            ))
        }
    };
    let tokens_file = args.api_tokens.or_else(|| file.api_tokens.clone());
    let token_list = args.api_token_list.filter(|t| !t.trim().is_empty());
    let insecure_no_auth = args
        .api_insecure_no_auth
        .or(file.api_insecure_no_auth)
        .unwrap_or(false);
    if tokens_file.is_none() && token_list.is_none() && !insecure_no_auth {
        return Err(invalid(
            "api_tokens",
            "the API is enabled without tokens: give --api-tokens FILE or GUESTKIT_API_TOKENS, \
             or --api-insecure-no-auth to serve it to anyone who can reach it"
                .into(),
        ));
    }
    Ok(Some(ApiSettings {
        addr: args
            .api_addr
            .or(file.api_addr)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 8080))),
        body_limit,
        tokens_file,
        token_list,
        insecure_no_auth,
        rate_limit,
        rate_burst,
        tls,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file: FileConfig = toml::from_str(
            "worker_id = \"from-file\"\nmax_concurrent = 3\nimage_roots = [\"/a\", \"/b\"]\npool = \"p\"\n",
        )
        .expect("toml");
        let args = Args::parse_from(["guestkit-worker", "--max-concurrent", "2"]);
        let c = WorkerConfig::merge(args, file).expect("merge");
        assert_eq!(c.worker_id, "from-file");
        assert_eq!(c.max_concurrent, 2);
        assert_eq!(c.image_roots, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.pool.as_deref(), Some("p"));
        assert_eq!(
            c.store,
            StoreLocation::Sqlite(PathBuf::from("state/worker.db"))
        );
        assert_eq!(c.lease, Duration::from_secs(30));
        assert_eq!(c.metrics_addr.to_string(), "0.0.0.0:9090");
    }

    #[test]
    fn bad_values_are_named() {
        let args = Args::parse_from(["guestkit-worker", "--max-concurrent", "0"]);
        let e = WorkerConfig::merge(args, FileConfig::default()).expect_err("zero");
        assert!(e.to_string().contains("max_concurrent"), "{e}");
        let e = toml::from_str::<FileConfig>("nonsense = 1\n").expect_err("unknown key");
        assert!(e.to_string().contains("nonsense"), "{e}");
        let args = Args::parse_from(["guestkit-worker", "--store", "mysql://u:pw@db/x"]);
        let e = WorkerConfig::merge(args, FileConfig::default()).expect_err("mysql");
        assert!(e.to_string().contains("store"), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
        for bad in ["0", "86401"] {
            let args = Args::parse_from(["guestkit-worker", "--lease-seconds", bad]);
            let e = WorkerConfig::merge(args, FileConfig::default()).expect_err("lease");
            assert!(e.to_string().contains("lease_seconds"), "{e}");
        }
    }

    #[test]
    fn otlp_endpoints_are_completed_with_the_traces_path() {
        let merge = |argv: &[&str], toml_text: &str| {
            let file: FileConfig = toml::from_str(toml_text).expect("toml");
            WorkerConfig::merge(Args::parse_from(argv), file).map(|c| c.otlp)
        };
        assert_eq!(merge(&["w"], "").expect("none"), None);
        for (given, url) in [
            ("http://c:4318", "http://c:4318/v1/traces"),
            ("http://c:4318/", "http://c:4318/v1/traces"),
            ("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
            ("http://c/otel", "http://c/otel/v1/traces"),
        ] {
            let otlp = merge(&["w", "--otlp-endpoint", given], "").expect(given);
            assert_eq!(
                otlp,
                Some(OtlpSettings {
                    traces_url: url.into(),
                    protocol: OtlpProtocol::HttpProtobuf
                })
            );
        }
        let from_file = merge(
            &["w"],
            "otlp_endpoint = \"http://c:4318\"\notlp_protocol = \"http-json\"\n",
        )
        .expect("file");
        assert_eq!(from_file.map(|o| o.protocol), Some(OtlpProtocol::HttpJson));
        for bad in ["https://c:4318", "c:4318", "http://", "http:///v1/traces"] {
            let e = merge(&["w", "--otlp-endpoint", bad], "").expect_err(bad);
            assert!(e.to_string().contains("otlp_endpoint"), "{e}");
        }
    }

    #[test]
    fn postgres_urls_and_sqlite_paths_are_told_apart() {
        for (given, want) in [
            (
                "postgres://gk:pw@db:5432/jobs",
                StoreLocation::Postgres("postgres://gk:pw@db:5432/jobs".into()),
            ),
            (
                "postgresql://db/jobs",
                StoreLocation::Postgres("postgresql://db/jobs".into()),
            ),
            (
                "sqlite:/var/lib/gk.db",
                StoreLocation::Sqlite("/var/lib/gk.db".into()),
            ),
            ("jobs.db", StoreLocation::Sqlite("jobs.db".into())),
        ] {
            let args =
                Args::parse_from(["guestkit-worker", "--store", given, "--lease-seconds", "12"]);
            let c = WorkerConfig::merge(args, FileConfig::default()).expect(given);
            assert_eq!(c.store, want);
            assert_eq!(c.lease, Duration::from_secs(12));
        }
        let shown = StoreLocation::Postgres("postgres://gk:pw@db/jobs".into()).to_string();
        assert_eq!(shown, "postgres://gk:***@db/jobs");
        let file: FileConfig =
            toml::from_str("store = \"postgres://db/jobs\"\nlease_seconds = 9\n").expect("toml");
        let c = WorkerConfig::merge(Args::parse_from(["guestkit-worker"]), file).expect("file");
        assert_eq!(
            c.store,
            StoreLocation::Postgres("postgres://db/jobs".into())
        );
        assert_eq!(c.lease, Duration::from_secs(9));
    }

    #[test]
    fn silent_workers_are_kept_an_hour_unless_told_otherwise() {
        let merge = |flags: &[&str], file: &str| {
            let args =
                Args::parse_from(std::iter::once("guestkit-worker").chain(flags.iter().copied()));
            let file: FileConfig = toml::from_str(file).expect("toml");
            WorkerConfig::merge(args, file)
                .expect("config")
                .worker_retention
        };
        assert_eq!(merge(&[], ""), Some(Duration::from_secs(3600)));
        assert_eq!(
            merge(&[], "worker_retention_seconds = 600\n"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            merge(
                &["--worker-retention-seconds", "0"],
                "worker_retention_seconds = 600\n"
            ),
            None,
            "0 keeps silent workers listed"
        );
    }

    #[test]
    fn the_api_needs_tokens_or_an_explicit_insecure_flag() {
        let off = WorkerConfig::merge(Args::parse_from(["w"]), FileConfig::default()).expect("off");
        assert!(off.api.is_none());
        let e = WorkerConfig::merge(
            Args::parse_from(["w", "--api-enabled"]),
            FileConfig::default(),
        )
        .expect_err("no tokens");
        assert!(e.to_string().contains("--api-insecure-no-auth"), "{e}");
        let open = WorkerConfig::merge(
            Args::parse_from(["w", "--api-enabled", "--api-insecure-no-auth"]),
            FileConfig::default(),
        )
        .expect("insecure")
        .api
        .expect("api");
        assert!(open.insecure_no_auth);
        assert_eq!(open.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(open.body_limit, DEFAULT_API_BODY_LIMIT);
        assert_eq!((open.rate_limit, open.rate_burst), (50.0, 100));
        let file: FileConfig = toml::from_str(
            "api_enabled = true\napi_tokens = \"/etc/t\"\napi_addr = \"127.0.0.1:1\"\napi_rate_limit = 0.5\n",
        )
        .expect("toml");
        let api = WorkerConfig::merge(Args::parse_from(["w"]), file)
            .expect("file")
            .api
            .expect("api");
        assert_eq!(api.tokens_file, Some(PathBuf::from("/etc/t")));
        assert_eq!(api.addr.to_string(), "127.0.0.1:1");
        assert_eq!(api.rate_burst, 1);
        let e = WorkerConfig::merge(
            Args::parse_from([
                "w",
                "--api-enabled",
                "true",
                "--api-insecure-no-auth",
                "--api-tls-cert",
                "c.pem",
            ]),
            FileConfig::default(),
        )
        .expect_err("half tls");
        assert!(e.to_string().contains("api_tls_key"), "{e}");
    }
}
