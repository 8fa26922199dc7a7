//! `guestctl disk info` and `guestctl disk cat` as a user runs them.

mod cli;

use cli::{guestctl, s};

use std::process::Command;

#[test]
fn cat_streams_the_same_bytes_as_qemu_img() {
    let variants = guestkit_fixtures::formats::format_variants().unwrap();
    for name in ["qcow2-backing-chain", "vmdk-stream-optimized", "vhd-fixed"] {
        let v = variants.iter().find(|v| v.name == name).unwrap();
        let out = guestctl(&["disk", "cat", s(&v.path)]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reference = std::fs::read(&v.reference).unwrap();
        assert!(out.stdout == reference, "{name}: bytes differ");
        let out = guestctl(&[
            "disk",
            "cat",
            s(&v.path),
            "--offset",
            "1048577",
            "--length",
            "4097",
        ]);
        assert!(out.status.success());
        assert_eq!(
            out.stdout,
            reference[1_048_577..1_048_577 + 4097],
            "{name}: range"
        );
    }
}

#[test]
fn cat_past_the_end_is_a_clear_error() {
    let demo = guestkit_fixtures::demo::committed_demo();
    let info = guestctl(&["disk", "info", "--json", s(&demo)]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let size = info["disks"][0]["virtual_size"]
        .as_u64()
        .unwrap()
        .to_string();
    let out = guestctl(&["disk", "cat", s(&demo), "--offset", &size, "--length", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("past the end of the disk"), "{err}");
}

#[test]
fn info_json_reports_the_backing_chain() {
    let variants = guestkit_fixtures::formats::format_variants().unwrap();
    let top = variants
        .iter()
        .find(|v| v.name == "qcow2-backing-chain")
        .unwrap();
    let out = guestctl(&["disk", "info", "--json", s(&top.path)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let disk = &v["disks"][0];
    assert_eq!(disk["format"], "qcow2");
    assert_eq!(disk["virtual_size"], 64 << 20);
    let mid = &disk["backing"];
    assert!(mid["path"].as_str().unwrap().ends_with("chain/mid.qcow2"));
    assert!(mid["backing"]["path"]
        .as_str()
        .unwrap()
        .ends_with("chain/base.qcow2"));
}

#[test]
fn a_refused_backing_path_names_the_image_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("evil.qcow2");
    let status = Command::new("qemu-img")
        .args([
            "create",
            "-q",
            "-f",
            "qcow2",
            "-u",
            "-b",
            "/etc/shadow",
            "-F",
            "raw",
        ])
        .arg(&img)
        .arg("1M")
        .status()
        .unwrap();
    assert!(status.success());
    let out = guestctl(&["disk", "info", s(&img)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("evil.qcow2") && err.contains("/etc/shadow") && err.contains("qcow2"),
        "{err}"
    );
}

#[test]
fn a_stated_format_that_disagrees_is_refused() {
    let demo = guestkit_fixtures::demo::committed_demo();
    let out = guestctl(&["disk", "info", "--image-format", "vmdk", s(&demo)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stated format vmdk but the content is qcow2"),
        "{err}"
    );
}

#[test]
fn info_of_two_disks_shows_the_volume_group_spanning_them() {
    let dir = guestkit_fixtures::lvm::standard().unwrap();
    let (a, b) = (dir.join("disk0.raw"), dir.join("disk1.raw"));
    let out = guestctl(&["disk", "info", "--json", s(&a), s(&b)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vg = &v["volumes"]["volume_groups"][0];
    assert_eq!(vg["name"], "vg0");
    let lvs: Vec<&str> = vg["lvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(lvs, ["root", "data", "span", "tail"]);
    assert_eq!(
        v["volumes"]["disks"][1]["children"][0]["content"]["type"],
        "lvm_pv"
    );
    // The text form names every LV and the partition holding the second PV.
    let text = guestctl(&["disk", "info", s(&a), s(&b)]);
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in ["vg0/root", "vg0/data", "striped", "disk1p1", "lvm pv"] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn demo_image_info_shows_its_layout() {
    let demo = guestkit_fixtures::demo::committed_demo();
    let out = guestctl(&["disk", "info", s(&demo)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "format:         qcow2",
        "EFI System",
        "swap label swap",
        "vg demo",
        "demo/root",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
