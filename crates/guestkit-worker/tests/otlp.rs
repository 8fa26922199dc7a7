//! OpenTelemetry export (`--features otlp`): the real worker sends its job
//! spans over OTLP/HTTP to a collector run by the test, in JSON and in
//! protobuf; a job with a W3C trace id is exported inside that trace, as a
//! child of its span id. Without the feature, asking for an export is a
//! clear start-up error.

#[cfg(feature = "otlp")]
mod process;

use std::process::Command;

#[cfg(feature = "otlp")]
mod export {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::Duration;

    use guestkit_job_spec::{echo_job, JobStatus};
    use serde_json::{json, Value};

    use crate::process::Worker;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

    /// One request the collector received.
    #[derive(Debug, Clone)]
    struct Export {
        path: String,
        content_type: String,
        body: Vec<u8>,
    }

    /// A minimal OTLP/HTTP collector: takes every POST, keeps it, answers
    /// 200 with an empty export response.
    struct Collector {
        port: u16,
        received: Arc<Mutex<Vec<Export>>>,
    }

    impl Collector {
        fn start() -> Collector {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let received = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&received);
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let sink = Arc::clone(&sink);
                    thread::spawn(move || serve(stream, &sink));
                }
            });
            Collector { port, received }
        }

        fn endpoint(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        fn received(&self) -> Vec<Export> {
            self.received.lock().expect("lock").clone()
        }
    }

    /// HTTP/1.1 with keep-alive and Content-Length bodies, as the exporter
    /// sends them.
    fn serve(stream: TcpStream, sink: &Mutex<Vec<Export>>) {
        let mut out = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    match name.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        "content-type" => content_type = value.trim().to_owned(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let answer: &[u8] = if content_type.contains("json") {
                b"{}"
            } else {
                b""
            };
            sink.lock().expect("lock").push(Export {
                path,
                content_type: content_type.clone(),
                body,
            });
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            );
            if out.write_all(head.as_bytes()).is_err() || out.write_all(answer).is_err() {
                return;
            }
        }
    }

    /// Runs a traced and an untraced echo job through a worker exporting
    /// with `protocol`, stops it (which flushes), returns what arrived.
    fn run_jobs(protocol: &str) -> (Vec<Export>, String, String) {
        let collector = Collector::start();
        let mut w = Worker::start(&[
            "--otlp-endpoint",
            &collector.endpoint(),
            "--otlp-protocol",
            protocol,
        ]);
        let traced = echo_job(json!("traced"))
            .trace_id(TRACE_ID)
            .span_id(PARENT_SPAN_ID)
            .build()
            .expect("job");
        let plain = echo_job(json!("plain")).build().expect("job");
        w.drop_job(&traced);
        w.drop_job(&plain);
        for job in [&traced, &plain] {
            assert_eq!(
                w.wait_result(&job.job_id, Duration::from_secs(60)).status,
                JobStatus::Completed
            );
        }
        w.signal("TERM");
        assert!(
            w.wait_exit(Duration::from_secs(30)).success(),
            "{}",
            w.log()
        );
        let received = collector.received();
        assert!(
            !received.is_empty(),
            "nothing reached the collector; log:\n{}",
            w.log()
        );
        (received, traced.job_id, plain.job_id)
    }

    fn attribute<'a>(attributes: &'a Value, key: &str) -> Option<&'a str> {
        attributes.as_array()?.iter().find(|kv| kv["key"] == key)?["value"]["stringValue"].as_str()
    }

    #[test]
    fn job_spans_reach_the_collector_as_json_inside_the_jobs_trace() {
        let (received, traced, plain) = run_jobs("http-json");
        let mut job_spans = Vec::new();
        for export in &received {
            assert_eq!(export.path, "/v1/traces");
            assert!(export.content_type.starts_with("application/json"));
            let doc: Value = serde_json::from_slice(&export.body).expect("OTLP JSON");
            for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
                let resource = &rs["resource"]["attributes"];
                assert_eq!(attribute(resource, "service.name"), Some("guestkit-worker"));
                assert_eq!(
                    attribute(resource, "service.instance.id"),
                    Some("test-worker")
                );
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for span in ss["spans"].as_array().into_iter().flatten() {
                        if span["name"] == "job" {
                            job_spans.push(span.clone());
                        }
                    }
                }
            }
        }
        let span_of = |id: &str| {
            job_spans
                .iter()
                .find(|s| attribute(&s["attributes"], "job_id") == Some(id))
                .unwrap_or_else(|| panic!("no job span for {id} in {job_spans:#?}"))
        };
        let t = span_of(&traced);
        assert_eq!(
            t["traceId"].as_str().map(str::to_lowercase).as_deref(),
            Some(TRACE_ID)
        );
        assert_eq!(
            t["parentSpanId"].as_str().map(str::to_lowercase).as_deref(),
            Some(PARENT_SPAN_ID)
        );
        assert_eq!(
            attribute(&t["attributes"], "operation"),
            Some("system.echo")
        );
        assert_eq!(attribute(&t["attributes"], "trace_id"), Some(TRACE_ID));
        let p = span_of(&plain);
        let plain_trace = p["traceId"].as_str().unwrap_or_default();
        assert_eq!(plain_trace.len(), 32, "{p:#}");
        assert_ne!(plain_trace.to_lowercase(), TRACE_ID);
    }

    #[test]
    fn job_spans_reach_the_collector_as_protobuf() {
        let (received, traced, plain) = run_jobs("http-protobuf");
        let bodies: Vec<u8> = received
            .iter()
            .inspect(|e| {
                assert_eq!(e.path, "/v1/traces");
                assert_eq!(e.content_type, "application/x-protobuf");
            })
            .flat_map(|e| e.body.clone())
            .collect();
        let contains = |needle: &[u8]| bodies.windows(needle.len()).any(|w| w == needle);
        // Strings travel verbatim in protobuf, ids as raw bytes.
        assert!(contains(traced.as_bytes()) && contains(plain.as_bytes()));
        assert!(contains(b"guestkit-worker"));
        let raw_trace: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).expect("hex"))
            .collect();
        assert!(
            contains(&raw_trace),
            "the job's trace id is not in the export"
        );
    }
}

#[cfg(not(feature = "otlp"))]
#[test]
fn asking_for_an_export_without_the_feature_is_a_startup_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_guestkit-worker"))
        .current_dir(dir.path())
        .args(["--otlp-endpoint", "http://127.0.0.1:4318"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("http://127.0.0.1:4318/v1/traces") && stderr.contains("--features otlp"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("jobs").exists(),
        "nothing started: {stderr}"
    );
}

#[test]
fn an_endpoint_that_is_not_http_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_guestkit-worker"))
        .args(["--otlp-endpoint", "https://collector.example:4318"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("otlp_endpoint"), "{stderr}");
}
