//! The REST API of the real `guestkit-worker` binary, over plain HTTP/1.1
//! (and TLS once): submissions and their answers (202, 200 for a repeated
//! key, 400 with every problem, 403, 413), tokens and roles (401, 403),
//! rate limits (429), listing with filters and cursors, cancelling queued
//! and running jobs, results, Server-Sent Events, health, readiness, and
//! the OpenAPI document (kept at `docs/openapi.json`; after a change of
//! the API rewrite it with `GUESTKIT_BLESS=1 cargo test -p guestkit-worker
//! --test api openapi`).

mod process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use guestkit_job_spec::{echo_job, JobResult, JobStatus};
use process::{free_port, Worker};
use serde_json::{json, Value};

const SUBMIT: &str = "submit-token-0123456789abcdef";
const READ: &str = "read-token-0123456789abcdef";

/// An answer: status, headers (lower-case names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body is `{error, message, details}` with this `error`.
    fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(
            v.as_object().expect("object").contains_key("details"),
            "{v}"
        );
        v
    }
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        let end = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        raw = raw.get(end + 2..).unwrap_or(&[]);
    }
}

/// Parses a whole HTTP/1.1 answer.
fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// Writes `head` and `body` and reads the answer to the end; the body is
/// written from another thread so a server that answers before reading it
/// all (413) is heard.
fn exchange(mut s: impl Read + Write, head: String, body: &[u8]) -> Answer {
    s.write_all(head.as_bytes()).expect("send head");
    if !body.is_empty() {
        // A server that stops reading (413) makes the write fail: the
        // answer is read all the same.
        let _ = s.write_all(body);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

fn head(method: &str, path: &str, token: Option<&str>, len: usize) -> String {
    let mut h = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {len}\r\n"
    );
    if len > 0 {
        h.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        h.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// A worker with the API on a free port.
struct Api {
    worker: Worker,
    port: u16,
}

impl Api {
    /// A worker with the API and the two test tokens, plus `extra` flags.
    fn start(extra: &[&str]) -> Api {
        let tokens = format!("submit:{SUBMIT},read:{READ}");
        let mut flags = vec!["--api-token-list", tokens.as_str()];
        flags.extend_from_slice(extra);
        Api::start_with(&flags)
    }

    fn start_with(flags: &[&str]) -> Api {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut all = vec!["--api-enabled", "--api-addr", addr.as_str()];
        all.extend_from_slice(flags);
        let worker = Worker::start(&all);
        let api = Api { worker, port };
        api.worker
            .wait_for(Duration::from_secs(20), "the API to answer", |_| {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
        api
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        exchange(s, head(method, path, token, body.len()), body)
    }

    fn get(&self, path: &str) -> Answer {
        self.request("GET", path, Some(READ), b"")
    }

    fn post(&self, body: &Value) -> Answer {
        self.request(
            "POST",
            "/api/v1/jobs",
            Some(SUBMIT),
            body.to_string().as_bytes(),
        )
    }

    fn delete(&self, id: &str) -> Answer {
        self.request("DELETE", &format!("/api/v1/jobs/{id}"), Some(SUBMIT), b"")
    }

    fn job(&self, id: &str) -> Value {
        let a = self.get(&format!("/api/v1/jobs/{id}"));
        assert_eq!(a.status, 200, "{}", a.text());
        a.json()
    }

    /// Polls the job until `done` says so.
    fn wait_job(&self, id: &str, what: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let j = self.job(id);
            if done(&j) {
                return j;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: {j}\n{}",
                self.worker.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn echo(data: Value) -> Value {
    serde_json::to_value(echo_job(data).build().expect("job")).expect("json")
}

/// Submitting: 202, the result 404 before the job ends and 200 after,
/// the job's view, and a repeated idempotency key or job id answered with
/// the existing job.
#[test]
fn submit_then_result_then_repeats() {
    let api = Api::start(&[]);
    let mut job = echo(json!({"delay_ms": 700, "hello": "api"}));
    job["execution"]["idempotency_key"] = json!("key-1");
    let id = job["job_id"].as_str().expect("id").to_string();
    let a = api.post(&job);
    assert_eq!(a.status, 202, "{}", a.text());
    let v = a.json();
    assert_eq!(v["job_id"], id.as_str());
    assert_eq!(v["status"], "queued");
    assert_eq!(v["duplicate"], false);
    assert!(v["submitted_at"].as_str().is_some());
    assert_eq!(
        a.header("location"),
        Some(format!("/api/v1/jobs/{id}").as_str())
    );

    let early = api.get(&format!("/api/v1/jobs/{id}/result"));
    let e = early.assert_error(404, "result_not_ready");
    assert_eq!(e["details"]["job_id"], id.as_str());

    // The same key under another job id: nothing new, the first job.
    let mut again = echo(json!({"other": true}));
    again["execution"]["idempotency_key"] = json!("key-1");
    let a = api.post(&again);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["job_id"], id.as_str());
    assert_eq!(a.json()["duplicate"], true);
    // The same document again.
    let a = api.post(&job);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["job_id"], id.as_str());

    let running = api.wait_job(&id, "the job to run", |j| j["status"] == "running");
    assert_eq!(running["worker_id"], "test-worker");
    let done = api.wait_job(&id, "the job to end", |j| {
        j["status"]
            .as_str()
            .is_some_and(|s| s != "running" && s != "queued" && s != "assigned")
    });
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result_available"], true);
    assert_eq!(done["operation"], "system.echo");
    assert_eq!(done["idempotency_key"], "key-1");
    assert_eq!(done["progress"]["phase"], "echo");
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["outcome"], "completed");
    assert_eq!(attempts[0]["worker_id"], "test-worker");
    for t in ["created_at", "submitted_at", "started_at", "finished_at"] {
        assert!(done[t].as_str().is_some(), "{t} in {done}");
    }

    let r = api.get(&format!("/api/v1/jobs/{id}/result"));
    assert_eq!(r.status, 200, "{}", r.text());
    let result: JobResult = serde_json::from_slice(&r.body).expect("a job result");
    assert_eq!(result.status, JobStatus::Completed);
    assert_eq!(result.data["hello"], "api");
    // The same result as the file.
    let file = api.worker.wait_result(&id, Duration::from_secs(5));
    assert_eq!(file.data, result.data);
    // Nothing of the repeat ran.
    let again_id = again["job_id"].as_str().expect("id");
    api.get(&format!("/api/v1/jobs/{again_id}"))
        .assert_error(404, "not_found");
}

/// Every refusal: its status and a JSON body naming the problems.
#[test]
fn refusals_are_json_with_their_status() {
    let api = Api::start(&[]);
    // Malformed JSON.
    let a = api.request("POST", "/api/v1/jobs", Some(SUBMIT), b"{\"version\": ");
    let v = a.assert_error(400, "validation_failed");
    assert!(v["details"]["problems"][0]["path"].is_string(), "{v}");

    // Several problems at once, each with its path.
    let mut bad = echo(json!({}));
    bad["execution"]["priority"] = json!(99);
    bad["version"] = json!("7.0");
    bad["job_id"] = json!("no spaces allowed");
    let v = api.post(&bad).assert_error(400, "validation_failed");
    let paths: Vec<&str> = v["details"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["path"].as_str())
        .collect();
    for p in ["$.execution.priority", "$.version", "$.job_id"] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }

    // An operation nobody runs.
    let mut unknown = echo(json!({}));
    unknown["operation"] = json!("guestkit.teleport");
    let v = api
        .post(&unknown)
        .assert_error(400, "unsupported_operation");
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("guestkit.teleport"),
        "{v}"
    );

    // A 10 MB body, over the body limit (1 MiB by default).
    let mut big = echo(json!({"filler": "x".repeat(10 << 20)}));
    big["job_id"] = json!("job-too-big");
    let a = api.post(&big);
    let v = a.assert_error(413, "payload_too_large");
    assert_eq!(v["details"]["limit_bytes"], 1 << 20);

    // An image outside the image roots.
    let outside = serde_json::to_value(
        guestkit_job_spec::inspect_job("/etc/passwd")
            .build()
            .expect("job"),
    )
    .expect("json");
    let v = api.post(&outside).assert_error(403, "image_not_allowed");
    assert_eq!(
        v["details"]["problems"][0]["path"],
        "$.payload.data.image.path"
    );

    // Tokens and roles.
    let job = echo(json!({}));
    let body = job.to_string();
    api.request("POST", "/api/v1/jobs", None, body.as_bytes())
        .assert_error(401, "unauthorized");
    let a = api.request("GET", "/api/v1/jobs", None, b"");
    a.assert_error(401, "unauthorized");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    api.request(
        "GET",
        "/api/v1/jobs",
        Some("not-a-token-0123456789abcdef"),
        b"",
    )
    .assert_error(401, "unauthorized");
    api.request("POST", "/api/v1/jobs", Some(READ), body.as_bytes())
        .assert_error(403, "forbidden");
    api.request("DELETE", "/api/v1/jobs/whatever", Some(READ), b"")
        .assert_error(403, "forbidden");
    // Nothing was stored by any of these.
    let list = api.get("/api/v1/jobs").json();
    assert_eq!(list["jobs"].as_array().expect("jobs").len(), 0, "{list}");
    // A submit token may read.
    let a = api.request("GET", "/api/v1/jobs", Some(SUBMIT), b"");
    assert_eq!(a.status, 200);

    // Unknown routes and methods, bad queries.
    api.get("/api/v1/nothing").assert_error(404, "not_found");
    api.request("GET", "/nowhere", None, b"")
        .assert_error(404, "not_found");
    let a = api.request("PUT", "/api/v1/jobs", Some(SUBMIT), b"");
    a.assert_error(405, "method_not_allowed");
    assert!(
        a.header("allow").is_some_and(|h| h.contains("POST")),
        "{a:?}"
    );
    api.get("/api/v1/jobs?limit=abc")
        .assert_error(400, "bad_request");
    api.get("/api/v1/jobs?limit=0")
        .assert_error(400, "bad_request");
    api.get("/api/v1/jobs?status=sleeping")
        .assert_error(400, "bad_request");
    api.get("/api/v1/jobs?cursor=yesterday")
        .assert_error(400, "bad_request");
    api.get("/api/v1/jobs/nope").assert_error(404, "not_found");
    api.get("/api/v1/jobs/nope/result")
        .assert_error(404, "not_found");
    api.get("/api/v1/jobs/nope/events")
        .assert_error(404, "not_found");
    api.delete("nope").assert_error(404, "not_found");
}

/// Filters by status and operation, pages by cursor, newest first.
#[test]
fn list_filters_and_pages_newest_first() {
    let api = Api::start(&[]);
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut j = echo(json!({"n": i}));
        j["created_at"] = json!(format!("2026-01-30T10:00:0{i}Z"));
        assert_eq!(api.post(&j).status, 202);
        ids.push(j["job_id"].as_str().expect("id").to_string());
    }
    let mut inspect = serde_json::to_value(
        guestkit_job_spec::inspect_job("demo/demo.qcow2")
            .build()
            .expect("job"),
    )
    .expect("json");
    inspect["created_at"] = json!("2026-01-30T10:00:09Z");
    assert_eq!(api.post(&inspect).status, 202);
    let inspect_id = inspect["job_id"].as_str().expect("id").to_string();
    for id in ids.iter().chain([&inspect_id]) {
        api.wait_job(id, "the job to complete", |j| j["status"] == "completed");
    }

    // Pages of 2 echo jobs: 2 + 2 + 1, newest first, no repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/jobs?operation=system.echo&limit=2".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api.get(&path);
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        pages += 1;
        for j in page["jobs"].as_array().expect("jobs") {
            assert_eq!(j["operation"], "system.echo");
            seen.push(j["job_id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3);

    let all = api.get("/api/v1/jobs?status=completed").json();
    let all: Vec<&str> = all["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["job_id"].as_str())
        .collect();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0], inspect_id);
    let inspections = api.get("/api/v1/jobs?operation=guestkit.inspect").json();
    assert_eq!(inspections["jobs"].as_array().expect("jobs").len(), 1);
    assert_eq!(inspections["jobs"][0]["job_id"], inspect_id.as_str());
    let none = api.get("/api/v1/jobs?status=failed").json();
    assert_eq!(none["jobs"].as_array().expect("jobs").len(), 0);
    assert!(none["next_cursor"].is_null());
}

/// Reads a Server-Sent Events stream to its end: (event, data) pairs.
fn read_events(api: &Api, id: &str, token: &str) -> (Vec<(String, Value)>, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let t0 = Instant::now();
    s.write_all(head("GET", &format!("/api/v1/jobs/{id}/events"), Some(token), 0).as_bytes())
        .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("the stream ends");
    let took = t0.elapsed();
    let a = parse(&raw);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.header("content-type"), Some("text/event-stream"));
    let mut events = Vec::new();
    for block in a.text().split("\n\n") {
        let mut kind = None;
        let mut data = None;
        for line in block.lines() {
            if let Some(k) = line.strip_prefix("event: ") {
                kind = Some(k.to_string());
            }
            if let Some(d) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str::<Value>(d).expect("event data"));
            }
        }
        if let (Some(k), Some(d)) = (kind, data) {
            events.push((k, d));
        }
    }
    (events, took)
}

/// The event stream of a job: its status, its progress, and a final
/// status event, then the end.
#[test]
fn events_stream_progress_and_status_then_end() {
    let api = Api::start(&[]);
    let job = echo(json!({"delay_ms": 1_500}));
    let id = job["job_id"].as_str().expect("id").to_string();
    assert_eq!(api.post(&job).status, 202);
    let (events, took) = read_events(&api, &id, READ);
    assert!(took < Duration::from_secs(10), "{took:?}");
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"status"), "{events:?}");
    assert!(kinds.contains(&"progress"), "{events:?}");
    let (last_kind, last) = events.last().expect("events");
    assert_eq!(last_kind, "status");
    assert_eq!(last["status"], "completed");
    assert_eq!(last["terminal"], true);
    let progress = events
        .iter()
        .find(|(k, _)| k == "progress")
        .map(|(_, d)| d)
        .expect("progress");
    assert_eq!(progress["phase"], "echo");
    assert_eq!(progress["job_id"], id.as_str());
    // Statuses in order, each once.
    let statuses: Vec<&str> = events
        .iter()
        .filter(|(k, _)| k == "status")
        .filter_map(|(_, d)| d["status"].as_str())
        .collect();
    assert!(statuses.contains(&"running"), "{statuses:?}");
    let mut dedup = statuses.clone();
    dedup.dedup();
    assert_eq!(dedup, statuses);
    // A stream on an ended job: its final status, then the end.
    let (events, _) = read_events(&api, &id, READ);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].1["status"], "completed");
}

/// A stream opened on a job that is running and has reported progress
/// starts with its status, then that progress, and ends with its final
/// status.
#[test]
fn a_stream_opened_mid_job_starts_with_its_status() {
    let api = Api::start(&[]);
    let job = echo(json!({"delay_ms": 1_500}));
    let id = job["job_id"].as_str().expect("id").to_string();
    assert_eq!(api.post(&job).status, 202);
    api.wait_job(&id, "the job to run and report", |j| {
        j["status"] == "running" && !j["progress"].is_null()
    });
    let (events, _) = read_events(&api, &id, READ);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds.get(..2),
        Some(&["status", "progress"][..]),
        "{events:?}"
    );
    assert_eq!(events[0].1["status"], "running");
    let (last_kind, last) = events.last().expect("events");
    assert_eq!(
        (last_kind.as_str(), &last["status"]),
        ("status", &json!("completed"))
    );
}

/// Cancelling: a queued job at once (with its result), a running one
/// within a second, an ended one is a conflict.
#[test]
fn cancel_queued_then_running_then_conflict() {
    let api = Api::start(&["--max-concurrent", "1"]);
    let blocker = echo(json!({"delay_ms": 60_000}));
    let blocker_id = blocker["job_id"].as_str().expect("id").to_string();
    assert_eq!(api.post(&blocker).status, 202);
    api.wait_job(&blocker_id, "the blocker to run", |j| {
        j["status"] == "running"
    });
    let queued = echo(json!({"n": 2}));
    let queued_id = queued["job_id"].as_str().expect("id").to_string();
    assert_eq!(api.post(&queued).status, 202);
    assert_eq!(api.job(&queued_id)["status"], "queued");

    // Queued: cancelled at once, with a result (API and file).
    let t0 = Instant::now();
    let a = api.delete(&queued_id);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(a.json()["status"], "cancelled");
    assert_eq!(api.job(&queued_id)["status"], "cancelled");
    let r = api.get(&format!("/api/v1/jobs/{queued_id}/result"));
    assert_eq!(r.status, 200, "{}", r.text());
    let result: JobResult = serde_json::from_slice(&r.body).expect("result");
    assert_eq!(result.status, JobStatus::Cancelled);
    assert_eq!(
        result.error.as_ref().map(|e| e.code.as_str()),
        Some("cancelled")
    );
    let file = api
        .worker
        .result(&queued_id)
        .expect("a result file for the cancelled queued job");
    assert_eq!(file.status, JobStatus::Cancelled);

    // Running: a stream on it sees it end; the stop takes < 1 s.
    let events = std::thread::scope(|scope| {
        let stream = scope.spawn(|| read_events(&api, &blocker_id, READ).0);
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        let a = api.delete(&blocker_id);
        let took = t0.elapsed();
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["status"], "cancelled", "{}", a.text());
        assert!(took < Duration::from_secs(1), "cancel took {took:?}");
        stream.join().expect("stream")
    });
    let (kind, last) = events.last().expect("events");
    assert_eq!(kind, "status");
    assert_eq!(last["status"], "cancelled");
    let result = api.worker.wait_result(&blocker_id, Duration::from_secs(5));
    assert_eq!(result.status, JobStatus::Cancelled);
    let view = api.job(&blocker_id);
    assert_eq!(view["error_code"], "cancelled");
    assert_eq!(view["attempts"][0]["outcome"], "cancelled");

    // Ended jobs: conflict.
    let v = api.delete(&blocker_id).assert_error(409, "conflict");
    assert_eq!(v["details"]["status"], "cancelled");
    api.delete(&queued_id).assert_error(409, "conflict");
    // The slot is free again.
    let next = echo(json!({"after": "cancel"}));
    let next_id = next["job_id"].as_str().expect("id").to_string();
    assert_eq!(api.post(&next).status, 202);
    api.wait_job(&next_id, "the next job", |j| j["status"] == "completed");
    // A file-dropped job cancelled through the API leaves processing/.
    let long = echo_job(json!({"delay_ms": 60_000})).build().expect("job");
    api.worker.drop_job(&long);
    api.worker
        .wait_for(Duration::from_secs(10), "the file job to be taken", |_| {
            api.get(&format!("/api/v1/jobs/{}", long.job_id)).status == 200
        });
    api.wait_job(&long.job_id, "the file job to run", |j| {
        j["status"] == "running"
    });
    assert_eq!(api.delete(&long.job_id).status, 200);
    api.worker
        .wait_for(Duration::from_secs(5), "the job file in failed/", |w| {
            w.files_in("failed").len() == 1 && w.files_in("processing").is_empty()
        });
}

/// Health, readiness, capabilities and the OpenAPI document (served and
/// committed).
#[test]
fn health_ready_capabilities_and_openapi() {
    let api = Api::start(&[]);
    for path in ["/health", "/api/v1/health"] {
        let a = api.request("GET", path, None, b"");
        assert_eq!(a.status, 200, "{path}: {}", a.text());
        assert_eq!(a.json()["status"], "ok");
        assert_eq!(a.json()["worker_id"], "test-worker");
    }
    let a = api.request("GET", "/ready", None, b"");
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["status"], "ready");
    assert_eq!(a.json()["queue_depth"], 0);

    api.request("GET", "/api/v1/capabilities", None, b"")
        .assert_error(401, "unauthorized");
    // This worker registered itself in the store and heartbeats there.
    api.request("GET", "/api/v1/workers", None, b"")
        .assert_error(401, "unauthorized");
    let workers = api.get("/api/v1/workers").json();
    let list = workers["workers"].as_array().expect("workers");
    assert_eq!(list.len(), 1, "{workers}");
    assert_eq!(list[0]["id"], "test-worker");
    assert_eq!(list[0]["active_jobs"], 0);
    assert!(list[0]["seconds_since_heartbeat"].as_i64().expect("age") < 60);
    assert_eq!(list[0]["alive"], true, "{workers}");
    assert_eq!(list[0]["lease_seconds"], 30.0, "{workers}");
    assert!(list[0]["capabilities"]
        .as_array()
        .expect("caps")
        .contains(&json!("guestkit.inspect")));
    let c = api.get("/api/v1/capabilities").json();
    let ops: Vec<&str> = c["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ops, ["guestkit.inspect", "guestkit.profile", "system.echo"]);
    assert!(c["capabilities"]
        .as_array()
        .expect("caps")
        .contains(&json!("disk.qcow2")));
    assert!(c["features"]
        .as_array()
        .expect("features")
        .contains(&json!("lvm")));
    assert_eq!(c["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(c["protocol_version"], "1.0");

    let a = api.request("GET", "/api/v1/openapi.json", None, b"");
    assert_eq!(a.status, 200);
    let served = a.json();
    assert_eq!(served["openapi"], "3.1.0");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(committed_openapi()).expect("docs/openapi.json"),
    )
    .expect("committed document");
    assert_eq!(
        served, committed,
        "the served OpenAPI document is not docs/openapi.json"
    );
}

fn committed_openapi() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// `docs/openapi.json` is the document the code generates.
#[test]
fn openapi_document_is_current() {
    let generated = guestkit_worker::api::openapi::document_text();
    let path = committed_openapi();
    if std::env::var_os("GUESTKIT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with GUESTKIT_BLESS=1 cargo test -p guestkit-worker --test api openapi",
            path.display()
        )
    });
    assert!(
        committed == generated,
        "{} differs from the document the code generates; if the change is meant, run \
         GUESTKIT_BLESS=1 cargo test -p guestkit-worker --test api openapi",
        path.display()
    );
}

/// A token's requests beyond its burst get 429 with Retry-After; another
/// token has its own bucket.
#[test]
fn rate_limit_per_token() {
    let api = Api::start(&["--api-rate-limit", "0.5", "--api-rate-burst", "3"]);
    let codes: Vec<u16> = (0..4).map(|_| api.get("/api/v1/jobs").status).collect();
    assert_eq!(codes, [200, 200, 200, 429]);
    let a = api.get("/api/v1/jobs");
    a.assert_error(429, "rate_limited");
    let wait: u64 = a
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&wait), "{wait}");
    // The submit token's bucket is full; health is not limited.
    assert_eq!(
        api.request("GET", "/api/v1/jobs", Some(SUBMIT), b"").status,
        200
    );
    assert_eq!(api.request("GET", "/health", None, b"").status, 200);
}

/// Tokens from a file; without any token the API does not start unless
/// --api-insecure-no-auth says so.
#[test]
fn tokens_file_and_the_insecure_switch() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("tokens");
    std::fs::write(
        &file,
        format!("# role token\nread {READ}\n\nsubmit {SUBMIT}\n"),
    )
    .expect("tokens");
    let api = Api::start_with(&["--api-tokens", file.to_str().expect("path")]);
    assert_eq!(api.get("/api/v1/jobs").status, 200);
    assert_eq!(api.post(&echo(json!({}))).status, 202);
    api.request("POST", "/api/v1/jobs", Some(READ), b"{}")
        .assert_error(403, "forbidden");
    drop(api);

    let out = Command::new(env!("CARGO_BIN_EXE_guestkit-worker"))
        .args(["--api-enabled", "--api-addr", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--api-insecure-no-auth"), "{err}");
    let bad = dir.path().join("bad-tokens");
    std::fs::write(&bad, "admin 0123456789abcdef0123\n").expect("tokens");
    let out = Command::new(env!("CARGO_BIN_EXE_guestkit-worker"))
        .args(["--api-enabled", "--api-addr", "127.0.0.1:0", "--api-tokens"])
        .arg(&bad)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--jobs-dir")
        .arg(dir.path().join("jobs"))
        .arg("--results-dir")
        .arg(dir.path().join("results"))
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown role") && err.contains("line 1"),
        "{err}"
    );

    let open = Api::start_with(&["--api-insecure-no-auth"]);
    let a = open.request(
        "POST",
        "/api/v1/jobs",
        None,
        echo(json!({})).to_string().as_bytes(),
    );
    assert_eq!(a.status, 202, "{}", a.text());
    assert_eq!(open.request("GET", "/api/v1/jobs", None, b"").status, 200);
}

/// With a certificate and key the API speaks TLS only.
#[test]
fn tls_with_rustls() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("SKIP tls_with_rustls: the openssl command could not make a test certificate");
        return;
    }
    let api = Api::start(&[
        "--api-tls-cert",
        cert.to_str().expect("path"),
        "--api-tls-key",
        key.to_str().expect("path"),
    ]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&cert).expect("cert"))
        .expect("root");
    let config = std::sync::Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let tls_get = |path: &str, token: Option<&str>| {
        let conn = rustls::ClientConnection::new(
            config.clone(),
            ServerName::try_from("localhost").expect("name"),
        )
        .expect("client");
        let tcp = TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        exchange(
            rustls::StreamOwned::new(conn, tcp),
            head("GET", path, token, 0),
            b"",
        )
    };
    let a = tls_get("/health", None);
    assert_eq!(a.status, 200, "{}", a.text());
    let a = tls_get("/api/v1/jobs", Some(READ));
    assert_eq!(a.status, 200, "{}", a.text());
    tls_get("/api/v1/jobs", None).assert_error(401, "unauthorized");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(("127.0.0.1", api.port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    plain
        .write_all(head("GET", "/health", None, 0).as_bytes())
        .expect("send");
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "plain HTTP was answered");
}

/// SIGTERM: the API refuses new jobs (503) and reports not ready while
/// running jobs drain; an open event stream sees its job cancelled at the
/// end of the grace period and ends; the process exits 0.
#[test]
fn sigterm_drains_then_closes_the_api() {
    let mut api = Api::start(&["--grace-seconds", "1"]);
    let job = echo(json!({"delay_ms": 60_000}));
    let id = job["job_id"].as_str().expect("id").to_string();
    assert_eq!(api.post(&job).status, 202);
    api.wait_job(&id, "the job to run", |j| j["status"] == "running");
    let events = std::thread::scope(|scope| {
        let stream = scope.spawn(|| read_events(&api, &id, READ).0);
        std::thread::sleep(Duration::from_millis(300));
        api.worker.signal("TERM");
        std::thread::sleep(Duration::from_millis(200));
        api.post(&echo(json!({}))).assert_error(503, "unavailable");
        api.request("GET", "/ready", None, b"")
            .assert_error(503, "unavailable");
        assert_eq!(
            api.request("GET", "/health", None, b"").json()["draining"],
            true
        );
        stream.join().expect("stream")
    });
    let (kind, last) = events.last().expect("events");
    assert_eq!(kind, "status");
    assert_eq!(last["status"], "cancelled");
    let status = api.worker.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status:?}\n{}", api.worker.log());
}
