//! The check engine: registry invariants, undecidable checks never pass,
//! severity threshold, fail_on_critical, profile selection.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::write;
use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::{GuestFiles, InspectOptions};
use guestkit_profile::checks::all;
use guestkit_profile::{
    parse_profiles, profile, Profile, ProfileError, ProfileOptions, Severity, Status,
};

#[test]
fn registry_ids_are_unique_and_entries_complete() {
    let mut ids = BTreeSet::new();
    for c in all() {
        assert!(ids.insert(c.id), "duplicate id {}", c.id);
        let (area, name) = c.id.split_once('.').expect("area.name");
        assert!(!area.is_empty() && !name.is_empty(), "{}", c.id);
        assert!(
            c.id.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.' || ch == '-'),
            "{}",
            c.id
        );
        assert!(
            !c.title.is_empty() && !c.description.is_empty() && !c.remediation.is_empty(),
            "{}",
            c.id
        );
        assert!(!c.profiles.is_empty(), "{}", c.id);
        for r in c.references {
            assert!(
                r.starts_with("xccdf_org.ssgproject.content_rule_") || r.starts_with("PCI-DSS-v4 "),
                "{}: {r}",
                c.id
            );
        }
    }
    let linux = all()
        .iter()
        .filter(|c| c.applies.os == guestkit_profile::OsKind::Linux)
        .count();
    let windows = all().len() - linux;
    for p in Profile::ALL {
        let n = all().iter().filter(|c| c.profiles.contains(&p)).count();
        eprintln!("{}: {n} checks", p.name());
    }
    eprintln!("{linux} Linux, {windows} Windows, {} in all", all().len());
    assert!(linux >= 60, "{linux} Linux checks");
    assert!(windows >= 10, "{windows} Windows checks");
}

#[test]
fn without_sections_or_files_nothing_passes_or_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "/etc/os-release", "ID=debian\nVERSION_ID=12\n");
    let fs = HostDirFs::open(tmp.path(), FsLimits::default()).expect("dir");
    let tree = GuestTree::new(Arc::new(fs), "t", FsLimits::default());
    let report = guestkit_inspect::inspect(
        &tree,
        "t",
        &InspectOptions {
            sections: vec![],
            ..InspectOptions::default()
        },
    );
    let r = profile(&report, None, "t", &ProfileOptions::default());
    assert!(!r.findings.is_empty());
    for f in &r.findings {
        assert_eq!(
            f.status,
            Status::NotApplicable,
            "{}: {:?}",
            f.id,
            f.evidence
        );
        assert!(f.note.is_some(), "{} says why", f.id);
    }
    // With the files but still no report sections: file-based checks
    // decide, the report-based ones still do not.
    let files = GuestFiles::new(&tree);
    let r = profile(&report, Some(&files), "t", &ProfileOptions::default());
    let ssh = r
        .findings
        .iter()
        .find(|f| f.id == "ssh.permit-root-login")
        .expect("ssh");
    assert_eq!(ssh.status, Status::NotApplicable);
}

fn debian_like() -> (tempfile::TempDir, guestkit_inspect::Report) {
    let tmp = tempfile::tempdir().expect("tmp");
    let r = tmp.path();
    write(r, "/etc/os-release", "ID=debian\nVERSION_ID=12\n");
    write(
        r,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nmallory:x:0:0::/root:/bin/bash\n",
    );
    write(
        r,
        "/etc/shadow",
        "root:*:1:0:99999:7:::\nmallory::1:0:99999:7:::\n",
    );
    write(r, "/etc/ssh/sshd_config", "PermitRootLogin yes\n");
    let fs = HostDirFs::open(r, FsLimits::default()).expect("dir");
    let tree = GuestTree::new(Arc::new(fs), "t", FsLimits::default());
    let report = guestkit_inspect::inspect(&tree, "t", &InspectOptions::default());
    (tmp, report)
}

#[test]
fn threshold_filters_and_summary_counts() {
    let (_tmp, report) = debian_like();
    let all_opts = ProfileOptions::default();
    let r = profile(&report, None, "t", &all_opts);
    assert_eq!(r.summary.checks_evaluated, r.findings.len());
    let high = ProfileOptions {
        severity_threshold: Severity::High,
        ..ProfileOptions::default()
    };
    let h = profile(&report, None, "t", &high);
    assert!(h.findings.iter().all(|f| f.severity >= Severity::High));
    assert!(h.findings.len() < r.findings.len());
    assert_eq!(h.summary.checks_evaluated, r.summary.checks_evaluated);
    let failing: usize = h.summary.by_severity.values().sum();
    assert_eq!(failing, h.summary.total_findings);
    let by_status: usize = h.summary.by_status.values().sum();
    assert_eq!(by_status, h.findings.len());
    // Failures first, most severe first.
    let first = h.findings.first().expect("a finding");
    assert_eq!(
        (first.status, first.severity),
        (Status::Fail, Severity::Critical)
    );
    // Remediation left out on request.
    let bare = ProfileOptions {
        include_remediation: false,
        ..ProfileOptions::default()
    };
    assert!(profile(&report, None, "t", &bare)
        .findings
        .iter()
        .all(|f| f.remediation.is_none()));
}

#[test]
fn fail_on_critical_is_a_distinct_error() {
    let (_tmp, report) = debian_like();
    let opts = ProfileOptions {
        fail_on_critical: true,
        ..ProfileOptions::default()
    };
    let r = profile(&report, None, "t", &opts);
    match r.check_critical(&opts) {
        Err(e @ ProfileError::CriticalFinding { .. }) => {
            assert_eq!(e.code(), "critical_finding");
            let ProfileError::CriticalFinding { count, ids } = e else {
                unreachable!()
            };
            assert_eq!(count, 2, "{ids}");
            assert!(
                ids.contains("accounts.empty-password") && ids.contains("accounts.uid0-non-root")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(r.check_critical(&ProfileOptions::default()).is_ok());
}

#[test]
fn profile_selection() {
    assert_eq!(
        parse_profiles(&["security,migration".into()]).expect("ok"),
        vec![Profile::Security, Profile::Migration]
    );
    assert!(matches!(
        parse_profiles(&["security,nope".into()]),
        Err(ProfileError::UnknownProfile(n)) if n == "nope"
    ));
    let (_tmp, report) = debian_like();
    let opts = ProfileOptions {
        profiles: vec![Profile::Performance],
        ..ProfileOptions::default()
    };
    let r = profile(&report, None, "t", &opts);
    assert!(!r.findings.is_empty());
    assert!(r
        .findings
        .iter()
        .all(|f| f.profiles.contains(&Profile::Performance)));
}

#[test]
fn result_serialises_with_the_original_fields() {
    let (_tmp, report) = debian_like();
    let r = profile(&report, None, "img.qcow2", &ProfileOptions::default());
    let v = serde_json::to_value(&r).expect("json");
    for key in ["version", "image", "profiles", "summary", "findings"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert!(v["summary"]["by_severity"]["critical"].as_u64() >= Some(2));
    let f = &v["findings"][0];
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
        assert!(f.get(key).is_some(), "{key}");
    }
    assert_eq!(f["status"], "fail");
    assert_eq!(f["severity"], "critical");
}
