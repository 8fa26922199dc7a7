//! `guestctl submit` and `guestctl jobs …`: a client of the worker's REST
//! API (`guestkit-worker --api-enabled`).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Where the API is and who we are.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The worker's API (`--api-addr` of guestkit-worker).
    #[arg(long, env = "GUESTKIT_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Bearer token (a `read` token for reading, `submit` to submit or cancel).
    #[arg(long, env = "GUESTKIT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// `guestctl submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// Job documents (protocol v1.0, JSON).
    #[arg(required = true)]
    pub jobs: Vec<PathBuf>,
    /// Wait for each job to end and print its result; exit 1 unless all
    /// completed.
    #[arg(long)]
    pub wait: bool,
    /// Longest wait per job, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `guestctl jobs …`.
#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        /// Only jobs in this status (queued, running, completed, failed …).
        #[arg(long)]
        status: Option<String>,
        /// Only jobs of this operation.
        #[arg(long)]
        operation: Option<String>,
        /// Jobs per page.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Follow `next_cursor` through every page.
        #[arg(long)]
        all: bool,
        /// Print the API's JSON pages instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A job's status, progress, attempts and times (JSON).
    Get {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A finished job's result (JSON).
    Result {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Cancel a queued or running job.
    Cancel {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Follow a job's progress and status events until it ends.
    Watch {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Largest response body read (a full inspection result is well under).
const MAX_BODY: u64 = 256 << 20;

/// A client of one API.
struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(args: &ServerArgs) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build();
        Client {
            agent: config.into(),
            base: args.server.trim_end_matches('/').to_string(),
            token: args.token.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    /// Sends and reads a JSON answer: (status, body).
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Value)> {
        let url = self.url(path);
        let sent = match (method, body) {
            ("POST", Some(b)) => self
                .auth(self.agent.post(&url))
                .header("Content-Type", "application/json")
                .send(b),
            ("DELETE", _) => self.auth(self.agent.delete(&url)).call(),
            _ => self.auth(self.agent.get(&url)).call(),
        };
        let mut resp = sent.with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// Like [`Client::call`], but a status of 400 or more is an error
    /// carrying the API's `{error, message}`.
    fn ok(&self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Value)> {
        let (status, value) = self.call(method, path, body)?;
        if status >= 400 {
            let error = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            bail!(
                "{method} {}: HTTP {status} {error}: {message}",
                self.url(path)
            );
        }
        Ok((status, value))
    }
}

fn print_json(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled" | "timed_out")
}

/// Waits for a job to end; its result.
fn wait_for(client: &Client, id: &str, timeout: Duration) -> Result<Value> {
    let end = Instant::now() + timeout;
    loop {
        let (_, job) = client.ok("GET", &format!("/api/v1/jobs/{id}"), None)?;
        let status = job.get("status").and_then(Value::as_str).unwrap_or("");
        if terminal(status) {
            return Ok(client
                .ok("GET", &format!("/api/v1/jobs/{id}/result"), None)?
                .1);
        }
        if Instant::now() > end {
            bail!("job {id} still {status} after {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `guestctl submit`.
pub fn submit(args: &SubmitArgs) -> Result<ExitCode> {
    let client = Client::new(&args.server);
    let mut all_completed = true;
    for path in &args.jobs {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let (_, answer) = client
            .ok("POST", "/api/v1/jobs", Some(&text))
            .with_context(|| format!("submitting {}", path.display()))?;
        let id = answer
            .get("job_id")
            .and_then(Value::as_str)
            .context("the API's answer has no job_id")?
            .to_string();
        if !args.wait {
            print_json(&answer)?;
            continue;
        }
        let result = wait_for(&client, &id, Duration::from_secs(args.wait_timeout))?;
        if result.get("status").and_then(Value::as_str) != Some("completed") {
            all_completed = false;
        }
        print_json(&result)?;
    }
    Ok(if all_completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `guestctl jobs …`.
pub fn jobs(cmd: &JobsCommand) -> Result<()> {
    match cmd {
        JobsCommand::List {
            status,
            operation,
            limit,
            all,
            json,
            server,
        } => {
            let client = Client::new(server);
            let mut cursor: Option<String> = None;
            let mut out = std::io::stdout().lock();
            if !json {
                writeln!(
                    out,
                    "{:<32} {:<10} {:<18} CREATED",
                    "JOB", "STATUS", "OPERATION"
                )?;
            }
            loop {
                let mut query = vec![format!("limit={limit}")];
                query.extend(status.as_ref().map(|s| format!("status={s}")));
                query.extend(operation.as_ref().map(|o| format!("operation={o}")));
                query.extend(cursor.as_ref().map(|c| format!("cursor={c}")));
                let (_, page) =
                    client.ok("GET", &format!("/api/v1/jobs?{}", query.join("&")), None)?;
                if *json {
                    serde_json::to_writer_pretty(&mut out, &page)?;
                    writeln!(out)?;
                } else {
                    for j in page
                        .get("jobs")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let field = |k: &str| j.get(k).and_then(Value::as_str).unwrap_or("-");
                        writeln!(
                            out,
                            "{:<32} {:<10} {:<18} {}",
                            field("job_id"),
                            field("status"),
                            field("operation"),
                            field("created_at")
                        )?;
                    }
                }
                cursor = page
                    .get("next_cursor")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if !*all || cursor.is_none() {
                    break;
                }
            }
            Ok(())
        }
        JobsCommand::Get { id, server } => print_json(
            &Client::new(server)
                .ok("GET", &format!("/api/v1/jobs/{id}"), None)?
                .1,
        ),
        JobsCommand::Result { id, server } => print_json(
            &Client::new(server)
                .ok("GET", &format!("/api/v1/jobs/{id}/result"), None)?
                .1,
        ),
        JobsCommand::Cancel { id, server } => print_json(
            &Client::new(server)
                .ok("DELETE", &format!("/api/v1/jobs/{id}"), None)?
                .1,
        ),
        JobsCommand::Watch { id, server } => watch(&Client::new(server), id),
    }
}

/// Prints each Server-Sent Event of the job as one JSON line
/// (`{"event": …, "data": …}`) until the stream ends.
fn watch(client: &Client, id: &str) -> Result<()> {
    let url = client.url(&format!("/api/v1/jobs/{id}/events"));
    let mut resp = client
        .auth(client.agent.get(&url))
        .header("Accept", "text/event-stream")
        .call()
        .with_context(|| format!("GET {url}"))?;
    if resp.status().as_u16() >= 400 {
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        bail!("GET {url}: HTTP {}: {text}", resp.status().as_u16());
    }
    let reader = BufReader::new(resp.body_mut().as_reader());
    let mut out = std::io::stdout().lock();
    let mut event = String::from("message");
    let mut data = String::new();
    for line in reader.lines() {
        let line = line.with_context(|| format!("reading {url}"))?;
        if let Some(e) = line.strip_prefix("event:") {
            event = e.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            let value: Value = serde_json::from_str(&data).unwrap_or(Value::String(data.clone()));
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"event": event, "data": value}),
            )?;
            writeln!(out)?;
            out.flush()?;
            event = String::from("message");
            data.clear();
        }
    }
    Ok(())
}
