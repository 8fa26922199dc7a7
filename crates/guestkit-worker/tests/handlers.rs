//! The handlers run directly: inspection of the demo image, a cancelled
//! job that stops before reading the image, and `fail_on_critical` on a
//! guest with a critical misconfiguration (an ext4 image made by
//! mkfs.ext4 from a tree with a second uid-0 account).

mod process;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use guestkit_inspect::Cancellation;
use guestkit_job_spec::{inspect_job, profile_job, ErrorCode, ProfileKind, TypedPayload};
use guestkit_worker::handlers::{Handler, InspectHandler, JobContext, ProfileHandler};
use process::repo_root;

fn context(image: PathBuf, cancel: Cancellation) -> (JobContext, Arc<Mutex<Vec<String>>>) {
    let phases = Arc::new(Mutex::new(Vec::new()));
    let seen = phases.clone();
    let ctx = JobContext {
        job_id: "job-test".into(),
        attempt: 1,
        image: Some(image.clone()),
        image_roots: vec![image.parent().expect("dir").to_path_buf()],
        max_disk_bytes: None,
        cancel,
        progress: Arc::new(move |phase: &str, _: u8, _: &str| {
            seen.lock().expect("lock").push(phase.to_string());
        }),
        io: Arc::new(guestkit_disk::IoStats::default()),
    };
    (ctx, phases)
}

fn payload(job: guestkit_job_spec::JobDocument) -> TypedPayload {
    job.typed_payload().expect("payload")
}

#[test]
fn inspect_reads_the_demo_and_counts_bytes() {
    let image = repo_root().join("demo/demo.qcow2");
    let (ctx, phases) = context(image, Cancellation::new());
    let p = payload(inspect_job("demo/demo.qcow2").build().expect("job"));
    let data = InspectHandler.run(&ctx, &p).expect("inspect");
    assert_eq!(data["operating_systems"][0]["distro"], "debian");
    assert!(ctx.io.bytes_read() > 0);
    assert_eq!(*phases.lock().expect("lock"), ["open", "inspect"]);
}

#[test]
fn a_cancelled_inspection_stops_before_reading_the_image() {
    let image = repo_root().join("demo/demo.qcow2");
    let cancel = Cancellation::new();
    cancel.cancel();
    let (ctx, _) = context(image, cancel);
    let p = payload(inspect_job("demo/demo.qcow2").build().expect("job"));
    let failure = InspectHandler.run(&ctx, &p).expect_err("cancelled");
    assert_eq!(failure.error.code, ErrorCode::Cancelled);
    assert_eq!(ctx.io.bytes_read(), 0);
}

#[test]
fn fail_on_critical_fails_the_job_and_keeps_the_findings() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let write = |p: &str, t: &str| {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
        std::fs::write(f, t).expect("write");
    };
    write(
        "etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nNAME=\"Debian GNU/Linux\"\n",
    );
    write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n",
    );
    write(
        "etc/shadow",
        "root:!:19000:0:99999:7:::\ntoor:!:19000:0:99999:7:::\n",
    );
    write("etc/group", "root:x:0:\n");
    write("usr/bin/true", "");
    let image = tmp.path().join("guest.raw");
    let ok = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&root)
        .arg(&image)
        .arg("16M")
        .status()
        .expect("mkfs.ext4")
        .success();
    assert!(ok);
    let (ctx, _) = context(image.clone(), Cancellation::new());
    let mut job = profile_job("guest.raw", [ProfileKind::Security])
        .build()
        .expect("job");
    if let Some(o) = job.payload.data.get_mut("options") {
        o["fail_on_critical"] = serde_json::json!(true);
    } else {
        job.payload.data["options"] = serde_json::json!({"fail_on_critical": true});
    }
    let p = payload(job);
    let failure = ProfileHandler.run(&ctx, &p).expect_err("critical finding");
    assert_eq!(failure.error.code, ErrorCode::CriticalFindings);
    assert!(
        failure.error.message.contains("accounts.uid0-non-root"),
        "{}",
        failure.error.message
    );
    let data = failure.data.expect("findings kept");
    assert!(data["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["id"] == "accounts.uid0-non-root" && f["status"] == "fail"));
    // Without the option the same run completes.
    let p = payload(
        profile_job("guest.raw", [ProfileKind::Security])
            .build()
            .expect("job"),
    );
    assert!(ProfileHandler.run(&ctx, &p).is_ok());
}
