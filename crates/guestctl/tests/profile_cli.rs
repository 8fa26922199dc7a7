//! `guestctl profile` on the demo VM the repository ships: exit status by
//! severity threshold, the JSON result's shape, and errors as status 2.

mod cli;

use cli::{demo, guestctl};
use serde_json::Value;

fn json(args: &[&str]) -> (Option<i32>, Value) {
    let out = guestctl(args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

#[test]
fn demo_profile_json_shape_and_exit_status() {
    let demo = demo();
    let (code, r) = json(&["profile", "--format", "json", &demo]);
    assert_eq!(code, Some(1), "the demo has failing findings");
    assert_eq!(r["version"], "1.0");
    assert_eq!(r["image"], demo.as_str());
    assert_eq!(
        r["profiles"],
        serde_json::json!([
            "security",
            "compliance",
            "hardening",
            "migration",
            "performance"
        ])
    );
    let findings = r["findings"].as_array().expect("findings");
    let failing = findings.iter().filter(|f| f["status"] == "fail").count();
    assert!(failing > 0);
    assert_eq!(r["summary"]["total_findings"], failing);
    let by_sev: u64 = r["summary"]["by_severity"]
        .as_object()
        .expect("by_severity")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert_eq!(by_sev as usize, failing);
    let by_status: u64 = r["summary"]["by_status"]
        .as_object()
        .expect("by_status")
        .values()
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert_eq!(by_status as usize, findings.len());
    for f in findings {
        for key in [
            "id",
            "severity",
            "status",
            "title",
            "description",
            "remediation",
            "references",
            "evidence",
        ] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
    }
    // The demo's sshd_config turns X11 forwarding on at line 4.
    let x11 = findings
        .iter()
        .find(|f| f["id"] == "ssh.x11-forwarding")
        .expect("x11 finding");
    assert_eq!(x11["status"], "fail");
    assert_eq!(x11["evidence"][0]["source"], "/etc/ssh/sshd_config");
    assert_eq!(x11["evidence"][0]["line"], 4);
    assert_eq!(x11["evidence"][0]["value"], "X11Forwarding yes");
    // A Debian guest: no SELinux finding.
    assert!(findings
        .iter()
        .all(|f| !f["id"].as_str().unwrap_or("").contains("selinux")));
}

#[test]
fn threshold_decides_the_exit_status() {
    let demo = demo();
    let (code, r) = json(&[
        "profile",
        "--format",
        "json",
        "--severity-threshold",
        "critical",
        &demo,
    ]);
    assert_eq!(code, Some(0), "{r}");
    assert!(r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| f["severity"] == "critical"));
    let (code, r) = json(&[
        "profile",
        "--format",
        "json",
        "--profile",
        "migration",
        "--no-remediation",
        &demo,
    ]);
    assert_eq!(code, Some(1));
    let findings = r["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["profiles"]
        .as_array()
        .expect("profiles")
        .contains(&Value::from("migration"))));
    assert!(findings.iter().all(|f| f.get("remediation").is_none()));
}

#[test]
fn deep_scan_feeds_the_file_checks() {
    let demo = demo();
    let status = |r: &Value, id: &str| {
        r["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| f["status"].clone())
            .expect(id)
    };
    let (_, without) = json(&[
        "profile",
        "--format",
        "json",
        "--profile",
        "security",
        &demo,
    ]);
    assert_eq!(status(&without, "fs.world-writable-dirs"), "not_applicable");
    let (_, with) = json(&[
        "profile",
        "--format",
        "json",
        "--profile",
        "security",
        "--deep-scan",
        &demo,
    ]);
    assert_eq!(status(&with, "fs.world-writable-dirs"), "pass");
    assert_eq!(status(&with, "fs.unexpected-suid"), "pass");
}

#[test]
fn errors_exit_with_status_2() {
    let out = guestctl(&["profile", "/nonexistent/disk.qcow2"]);
    assert_eq!(out.status.code(), Some(2));
    let out = guestctl(&["profile", "--profile", "bogus", &demo()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile"));
    let out = guestctl(&["profile", "--severity-threshold", "urgent", &demo()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn table_lists_failures_and_a_summary() {
    let out = guestctl(&["profile", &demo()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ssh.x11-forwarding"));
    assert!(text.contains("/etc/ssh/sshd_config:4: X11Forwarding yes"));
    assert!(text.contains("failing finding(s)"));
}
