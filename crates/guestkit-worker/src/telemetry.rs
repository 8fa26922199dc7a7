//! Logs and traces: the `tracing` subscriber of the worker (human or JSON
//! lines on stderr) and, with the `otlp` cargo feature, the export of every
//! job's span — and the spans inside it — to an OpenTelemetry collector
//! over OTLP/HTTP. A job whose document carries a W3C trace id
//! (`observability.trace_id`, 32 hex digits) is exported inside that trace,
//! as a child of `observability.span_id` when that is a W3C span id.

#[cfg(feature = "otlp")]
mod otlp;

use thiserror::Error;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use guestkit_job_spec::JobDocument;

use crate::config::{LogFormat, OtlpSettings};

/// Why logging or tracing could not start.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// `--otlp-endpoint` was given to a build without the `otlp` feature.
    #[error("--otlp-endpoint {url}: this guestkit-worker was built without OpenTelemetry export; rebuild it with `--features otlp`")]
    NotBuiltIn {
        /// The traces URL asked for.
        url: String,
    },
    /// The OTLP exporter could not be built.
    #[error("OpenTelemetry export to {url}: {detail}")]
    Exporter {
        /// The traces URL.
        url: String,
        /// The exporter's explanation.
        detail: String,
    },
    /// A global subscriber was already installed.
    #[error("installing the log subscriber: {0}")]
    Subscriber(String),
}

/// The running subscriber. Dropping it does nothing; call
/// [`Telemetry::shutdown`] at exit, outside any async runtime, so that
/// spans still buffered reach the collector.
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    export: Option<otlp::Export>,
}

impl Telemetry {
    /// Installs the global subscriber: the `GUESTKIT_LOG` filter (default
    /// `info`), log lines in `format` on stderr, and the OTLP export when
    /// `otlp` is given. Call it before starting an async runtime: the
    /// exporter runs its own thread and HTTP client.
    pub fn init(
        format: LogFormat,
        otlp: Option<&OtlpSettings>,
        worker_id: &str,
    ) -> Result<Telemetry, TelemetryError> {
        let filter =
            EnvFilter::try_from_env("GUESTKIT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
        let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let lines = match format {
            LogFormat::Human => lines.boxed(),
            LogFormat::Json => lines.json().boxed(),
        };
        let registry = tracing_subscriber::registry().with(filter).with(lines);
        #[cfg(feature = "otlp")]
        {
            let export = otlp
                .map(|s| otlp::Export::start(s, worker_id))
                .transpose()?;
            let layer = export.as_ref().map(otlp::Export::layer);
            registry
                .with(layer)
                .try_init()
                .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
            Ok(Telemetry { export })
        }
        #[cfg(not(feature = "otlp"))]
        {
            let _ = worker_id;
            if let Some(s) = otlp {
                return Err(TelemetryError::NotBuiltIn {
                    url: s.traces_url.clone(),
                });
            }
            registry
                .try_init()
                .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
            Ok(Telemetry {})
        }
    }

    /// Sends what is still buffered and stops the exporter (a no-op
    /// without one). Blocking: call it after the runtime has ended.
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(export) = self.export {
            export.shutdown();
        }
    }
}

/// The trace a job belongs to, from its document's `observability`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobTrace {
    /// `observability.trace_id` as given (any text).
    pub trace_id: Option<String>,
    /// `observability.span_id` as given.
    pub span_id: Option<String>,
}

impl JobTrace {
    /// The trace of a job document (empty ids count as none).
    pub fn of(doc: &JobDocument) -> JobTrace {
        let nonempty = |id: &Option<String>| id.clone().filter(|t| !t.is_empty());
        match &doc.observability {
            Some(o) => JobTrace {
                trace_id: nonempty(&o.trace_id),
                span_id: nonempty(&o.span_id),
            },
            None => JobTrace::default(),
        }
    }

    /// Puts `span` (not yet entered) into this trace for the exporter;
    /// `job_id` names the parent span when the document gives none. A
    /// no-op without the `otlp` feature or without a W3C trace id.
    pub fn join(&self, span: &tracing::Span, job_id: &str) {
        #[cfg(feature = "otlp")]
        otlp::join(span, self, job_id);
        #[cfg(not(feature = "otlp"))]
        let _ = (span, job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::JobTrace;
    use guestkit_job_spec::{echo_job, Observability};
    use serde_json::json;

    #[test]
    fn the_trace_is_read_from_observability_only() {
        let mut doc = echo_job(json!({"observability": {"trace_id": "no"}}))
            .trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
            .span_id("00f067aa0ba902b7")
            .build()
            .expect("job");
        assert_eq!(
            JobTrace::of(&doc),
            JobTrace {
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
                span_id: Some("00f067aa0ba902b7".into()),
            }
        );
        doc.observability = None;
        assert_eq!(JobTrace::of(&doc), JobTrace::default());
        doc.observability = Some(Observability {
            trace_id: Some(String::new()),
            ..Observability::default()
        });
        assert_eq!(JobTrace::of(&doc), JobTrace::default());
    }
}
