//! OTLP/HTTP export of the worker's spans (the `otlp` cargo feature): an
//! OpenTelemetry SDK tracer with a batch exporter (its own thread and
//! blocking HTTP client), bridged from `tracing` by `tracing-opentelemetry`.

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

use super::{JobTrace, TelemetryError};
use crate::config::{OtlpProtocol, OtlpSettings};

/// The SDK's tracer provider, exporting to one collector.
pub(super) struct Export {
    provider: SdkTracerProvider,
    url: String,
}

impl Export {
    /// Builds the exporter for `settings`; spans carry the service name
    /// `guestkit-worker`, its version and `worker_id` as the instance.
    pub(super) fn start(
        settings: &OtlpSettings,
        worker_id: &str,
    ) -> Result<Export, TelemetryError> {
        let url = settings.traces_url.clone();
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(match settings.protocol {
                OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
                OtlpProtocol::HttpJson => Protocol::HttpJson,
            })
            .with_endpoint(url.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        let resource = Resource::builder()
            .with_service_name("guestkit-worker")
            .with_attributes([
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("service.instance.id", worker_id.to_owned()),
            ])
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Export { provider, url })
    }

    /// The `tracing` layer that turns spans into exported ones.
    pub(super) fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("guestkit-worker"))
    }

    /// Flushes and stops the exporter; a collector that cannot be reached
    /// is reported on stderr (the subscriber may be gone by now).
    pub(super) fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!(
                "guestkit-worker: flushing spans to {} failed: {e}",
                self.url
            );
        }
    }
}

/// See [`JobTrace::join`].
pub(super) fn join(span: &tracing::Span, trace: &JobTrace, job_id: &str) {
    let Some(trace_id) = trace.trace_id.as_deref().and_then(w3c_trace_id) else {
        return;
    };
    let parent = trace
        .span_id
        .as_deref()
        .and_then(w3c_span_id)
        .unwrap_or_else(|| span_id_for(job_id));
    let remote = SpanContext::new(
        trace_id,
        parent,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::new().with_remote_span_context(remote);
    if let Err(e) = span.set_parent(cx) {
        tracing::debug!(error = %e, "the job's span could not join its trace");
    }
}

/// A W3C trace id: 32 lower- or upper-case hex digits, not all zero.
fn w3c_trace_id(text: &str) -> Option<TraceId> {
    (text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| TraceId::from_hex(text).ok())
        .flatten()
        .filter(|id| *id != TraceId::INVALID)
}

/// A W3C span id: 16 hex digits, not all zero.
fn w3c_span_id(text: &str) -> Option<SpanId> {
    (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| SpanId::from_hex(text).ok())
        .flatten()
        .filter(|id| *id != SpanId::INVALID)
}

/// A stable, non-zero span id for the submission of `job_id` (FNV-1a), the
/// parent of its job span when the document names none.
fn span_id_for(job_id: &str) -> SpanId {
    let hash = job_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    SpanId::from_bytes(hash.max(1).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_w3c_ids_join_a_trace() {
        assert!(w3c_trace_id("4bf92f3577b34da6a3ce929d0e0e4736").is_some());
        assert!(w3c_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").is_some());
        assert!(w3c_trace_id("00000000000000000000000000000000").is_none());
        assert!(w3c_trace_id("+bf92f3577b34da6a3ce929d0e0e4736").is_none());
        assert!(w3c_trace_id("trace-1").is_none());
        assert!(w3c_span_id("00f067aa0ba902b7").is_some());
        assert!(w3c_span_id("0000000000000000").is_none());
        assert!(w3c_span_id("00f067aa0ba902b").is_none());
        assert_eq!(span_id_for("job-1"), span_id_for("job-1"));
        assert_ne!(span_id_for("job-1"), span_id_for("job-2"));
    }
}
