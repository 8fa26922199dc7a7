//! Several real worker processes sharing one PostgreSQL store: 1,000 jobs
//! submitted through the REST API by 50 concurrent clients all end, each
//! run once; a worker killed with -9 mid-job loses its lease and the job
//! completes on the other worker; a job running on one worker is cancelled
//! through the API of the other; a job that only the other worker can take
//! (routed to it, or needing its capability) is taken in and runs there.
//! Skips visibly without PostgreSQL.

mod process;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use process::{free_port, PgSchema, Worker};
use serde_json::{json, Value};

const TOKEN: &str = "fleet-submit-token-0123456789";
struct Node {
    worker: Worker,
    base: String,
}

fn node(id: &str, store: &str, tokens: &std::path::Path, extra: &[&str]) -> Node {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut flags = vec![
        "--worker-id",
        id,
        "--store",
        store,
        "--api-enabled",
        "--api-addr",
        addr.as_str(),
        "--api-tokens",
        tokens.to_str().expect("path"),
        "--api-rate-limit",
        "0",
    ];
    flags.extend_from_slice(extra);
    let worker = Worker::start(&flags);
    wait_until(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .map(drop)
            .map_err(|e| format!("API of {id} did not come up ({e}):\n{}", worker.log()))
    });
    Node {
        worker,
        base: format!("http://{addr}"),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, Value) {
    let mut r = agent
        .get(url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .expect("GET");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn post(agent: &ureq::Agent, base: &str, job: &Value) -> u16 {
    post_answer(agent, base, job).0
}

/// POSTs a job: the status and the JSON answer.
fn post_answer(agent: &ureq::Agent, base: &str, job: &Value) -> (u16, Value) {
    let mut r = agent
        .post(&format!("{base}/api/v1/jobs"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send(job.to_string().as_str())
        .expect("POST");
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `probe` every 20 ms until it gives `Ok`; past `within`, fails
/// with the last `Err` (what was seen instead).
fn wait_until<T>(within: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let end = Instant::now() + within;
    loop {
        match probe() {
            Ok(done) => return done,
            Err(seen) => assert!(Instant::now() < end, "gave up waiting: {seen}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until job `id` runs; the id of the worker running it.
fn running_on(agent: &ureq::Agent, base: &str, id: &str) -> String {
    wait_until(Duration::from_secs(30), || {
        let (_, j) = get(agent, &format!("{base}/api/v1/jobs/{id}"));
        match (&j["status"], j["worker_id"].as_str()) {
            (status, Some(worker)) if status == "running" => Ok(worker.to_string()),
            _ => Err(j.to_string()),
        }
    })
}

fn tokens_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("tokens");
    std::fs::write(&p, format!("submit {TOKEN}\n")).expect("tokens");
    p
}

#[test]
fn a_thousand_jobs_from_fifty_clients_on_two_workers_each_run_once() {
    let Some(schema) = PgSchema::create("fleet_thousand") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let tokens = tokens_file(tmp.path());
    let a = node(
        "fleet-a",
        &schema.url(),
        &tokens,
        &["--max-concurrent", "4"],
    );
    let b = node(
        "fleet-b",
        &schema.url(),
        &tokens,
        &["--max-concurrent", "4"],
    );
    let barrier = Arc::new(Barrier::new(50));
    let clients: Vec<_> = (0..50)
        .map(|c| {
            let barrier = barrier.clone();
            // Half the clients talk to each worker's API.
            let base = if c % 2 == 0 {
                a.base.clone()
            } else {
                b.base.clone()
            };
            std::thread::spawn(move || {
                let agent = agent();
                let jobs: Vec<Value> = (0..20)
                    .map(|i| {
                        serde_json::to_value(
                            guestkit_job_spec::echo_job(json!({"client": c, "i": i}))
                                .build()
                                .expect("job"),
                        )
                        .expect("json")
                    })
                    .collect();
                barrier.wait();
                jobs.iter()
                    .map(|j| {
                        assert_eq!(post(&agent, &base, j), 202);
                        j["job_id"].as_str().expect("id").to_string()
                    })
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let ids: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect();
    assert_eq!(ids.len(), 1000);
    // Every job ends, completed, on attempt 1, run by one of the two.
    let agent = agent();
    let end = Instant::now() + Duration::from_secs(180);
    let mut ran_by: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let job = wait_until(end.saturating_duration_since(Instant::now()), || {
            let (status, job) = get(&agent, &format!("{}/api/v1/jobs/{id}", a.base));
            assert_eq!(status, 200, "{job}");
            assert!(
                !matches!(
                    job["status"].as_str(),
                    Some("failed" | "cancelled" | "timed_out")
                ),
                "{job}"
            );
            if job["status"] == "completed" {
                Ok(job)
            } else {
                Err(format!("{id} not done: {job}"))
            }
        });
        assert_eq!(job["attempt"], 1, "{job}");
        *ran_by
            .entry(job["worker_id"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    assert_eq!(ran_by.values().sum::<usize>(), 1000, "{ran_by:?}");
    assert_eq!(ran_by.len(), 2, "both workers ran jobs: {ran_by:?}");
    // One result file per job across both workers, none twice.
    let mut results = 0;
    for w in [&a.worker, &b.worker] {
        results += std::fs::read_dir(w.results())
            .expect("results")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with("-result.json"))
            .count();
    }
    assert_eq!(results, 1000);
}

#[test]
fn a_worker_killed_mid_job_loses_it_to_the_other_after_its_lease() {
    let Some(schema) = PgSchema::create("fleet_kill") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let tokens = tokens_file(tmp.path());
    let lease = ["--lease-seconds", "2", "--worker-retention-seconds", "1"];
    let mut a = node("kill-a", &schema.url(), &tokens, &lease);
    let mut b = node("kill-b", &schema.url(), &tokens, &lease);
    let job = serde_json::to_value(
        guestkit_job_spec::echo_job(json!({"delay_ms": 4000}))
            .max_attempts(3)
            .build()
            .expect("job"),
    )
    .expect("json");
    let id = job["job_id"].as_str().expect("id").to_string();
    let agent = agent();
    assert_eq!(post(&agent, &a.base, &job), 202);
    let runner = running_on(&agent, &a.base, &id);
    let (victim, survivor) = if runner == "kill-a" {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    victim.worker.signal("KILL");
    victim.worker.wait_exit(Duration::from_secs(10));
    let killed = Instant::now();
    let done = wait_until(Duration::from_secs(60), || {
        let (_, j) = get(&agent, &format!("{}/api/v1/jobs/{id}", survivor.base));
        if j["status"] == "completed" {
            Ok(j)
        } else {
            Err(format!("not completed: {j}\n{}", survivor.worker.log()))
        }
    });
    assert_eq!(done["attempt"], 2, "{done}");
    assert_ne!(done["worker_id"].as_str(), Some(runner.as_str()), "{done}");
    assert!(
        killed.elapsed() >= Duration::from_millis(1500),
        "waited for the lease"
    );
    // Exactly one result, on the survivor.
    let result = survivor.worker.result(&id).expect("result on the survivor");
    assert_eq!(result.execution_summary.attempt, 2);
    assert!(victim.worker.result(&id).is_none());
    // The killed worker never deregistered: silent past its lease and the
    // retention, the survivor's sweep removes it from the registry.
    let survivor_id = if runner == "kill-a" {
        "kill-b"
    } else {
        "kill-a"
    };
    wait_until(Duration::from_secs(30), || {
        let (_, view) = get(&agent, &format!("{}/api/v1/workers", survivor.base));
        let ids: Vec<&str> = view["workers"]
            .as_array()
            .map(|ws| ws.iter().filter_map(|w| w["id"].as_str()).collect())
            .unwrap_or_default();
        if ids == [survivor_id] {
            Ok(())
        } else {
            Err(format!("registry: {view}"))
        }
    });
}

#[test]
fn a_job_running_on_one_worker_is_cancelled_through_the_other_workers_api() {
    let Some(schema) = PgSchema::create("fleet_cancel") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let tokens = tokens_file(tmp.path());
    let a = node("cancel-a", &schema.url(), &tokens, &[]);
    let b = node("cancel-b", &schema.url(), &tokens, &[]);
    let job = serde_json::to_value(
        guestkit_job_spec::echo_job(json!({"delay_ms": 60_000}))
            .build()
            .expect("job"),
    )
    .expect("json");
    let id = job["job_id"].as_str().expect("id").to_string();
    let agent = agent();
    assert_eq!(post(&agent, &a.base, &job), 202);
    let runner = running_on(&agent, &a.base, &id);
    // Ask the worker that does not run it.
    let (runs, asked) = if runner == "cancel-a" {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let asked_at = Instant::now();
    let mut r = agent
        .delete(&format!("{}/api/v1/jobs/{id}", asked.base))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .expect("DELETE");
    let status = r.status().as_u16();
    let answer: Value =
        serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json");
    let took = asked_at.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "cancelled", "{answer}");
    println!("cancelled through the other worker's API in {took:?}");
    let (_, j) = get(&agent, &format!("{}/api/v1/jobs/{id}", asked.base));
    assert_eq!(j["status"], "cancelled", "{j}");
    assert_eq!(j["worker_id"].as_str(), Some(runner.as_str()), "{j}");
    // The worker that ran it wrote the one result.
    let result = runs.worker.result(&id).expect("result on the runner");
    assert_eq!(result.status, guestkit_job_spec::JobStatus::Cancelled);
    assert!(asked.worker.result(&id).is_none());
}

#[test]
fn a_job_for_another_worker_of_the_fleet_is_taken_in_and_runs_there() {
    let Some(schema) = PgSchema::create("fleet_placement") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let tokens = tokens_file(tmp.path());
    let a = node("place-a", &schema.url(), &tokens, &[]);
    let b = node("place-b", &schema.url(), &tokens, &["--capability", "gpu"]);
    let agent = agent();
    // B has registered once the registry, read through A, lists it.
    wait_until(Duration::from_secs(30), || {
        let (_, view) = get(&agent, &format!("{}/api/v1/workers", a.base));
        let listed = view["workers"].as_array().is_some_and(|ws| {
            ws.iter()
                .any(|w| w["id"] == "place-b" && w["alive"] == true)
        });
        if listed {
            Ok(())
        } else {
            Err(format!("place-b not registered: {view}"))
        }
    });
    let job = |build: guestkit_job_spec::JobBuilder| {
        serde_json::to_value(build.build().expect("job")).expect("json")
    };
    let routed = job(guestkit_job_spec::echo_job(json!("to b")).worker_id("place-b"));
    let needs_gpu = job(guestkit_job_spec::echo_job(json!("gpu")).require_capability("gpu"));
    // Both go to A's API; only B can run them.
    for j in [&routed, &needs_gpu] {
        let (status, answer) = post_answer(&agent, &a.base, j);
        assert_eq!(status, 202, "{answer}");
    }
    for j in [&routed, &needs_gpu] {
        let id = j["job_id"].as_str().expect("id");
        let view = wait_until(Duration::from_secs(30), || {
            let (_, view) = get(&agent, &format!("{}/api/v1/jobs/{id}", a.base));
            if view["status"] == "completed" {
                Ok(view)
            } else {
                Err(view.to_string())
            }
        });
        assert_eq!(view["worker_id"], "place-b", "{view}");
        assert!(b.worker.result(id).is_some() && a.worker.result(id).is_none());
    }
    // Nobody in the fleet takes these: refused, naming the fleet.
    for (j, field) in [
        (
            job(guestkit_job_spec::echo_job(json!("x")).worker_id("place-z")),
            "routing.worker_id",
        ),
        (
            job(guestkit_job_spec::echo_job(json!("x")).require_capability("tpu")),
            "constraints.required_capabilities",
        ),
    ] {
        let (status, answer) = post_answer(&agent, &a.base, &j);
        assert_eq!(status, 400, "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field) && message.contains("nor any of the 1 other live workers"),
            "{answer}"
        );
    }
}
