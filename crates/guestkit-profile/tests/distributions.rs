//! Distribution families: SELinux is required on the RHEL family only;
//! Debian, Ubuntu, Alpine and Arch guests get no SELinux finding at all;
//! the Windows fixture gets the Windows checks.

mod common;

use common::{finding, profile_tree, write};
use guestkit_profile::Status;

fn minimal(os_release: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    let r = tmp.path();
    write(r, "/etc/os-release", os_release);
    write(r, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    write(r, "/etc/shadow", "root:*:19700:0:99999:7:::\n");
    write(r, "/etc/group", "root:x:0:\n");
    tmp
}

#[test]
fn no_selinux_findings_outside_the_rhel_family() {
    for os_release in [
        "ID=debian\nVERSION_ID=\"12\"\n",
        "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n",
        "ID=alpine\nVERSION_ID=3.20.0\n",
        "ID=arch\nBUILD_ID=rolling\n",
        "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"22\"\n",
    ] {
        let tmp = minimal(os_release);
        let r = profile_tree(tmp.path());
        assert!(!r.findings.is_empty(), "{os_release}");
        let selinux: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id.contains("selinux") || f.title.contains("SELinux"))
            .collect();
        assert!(selinux.is_empty(), "{os_release}: {selinux:?}");
    }
}

#[test]
fn apparmor_is_required_on_debian_ubuntu_suse_only() {
    let has = |os_release: &str| {
        let tmp = minimal(os_release);
        profile_tree(tmp.path())
            .findings
            .iter()
            .any(|f| f.id == "mac.apparmor-enabled")
    };
    assert!(has("ID=ubuntu\nID_LIKE=debian\n"));
    assert!(has("ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\n"));
    assert!(!has("ID=alpine\n"));
    assert!(!has("ID=rocky\nID_LIKE=\"rhel centos fedora\"\n"));
}

#[test]
fn selinux_enforcing_on_the_rhel_family() {
    for id in [
        "rocky",
        "almalinux",
        "centos",
        "fedora",
        "rhel",
        "ol",
        "amzn",
    ] {
        let tmp = minimal(&format!("ID={id}\nVERSION_ID=\"9\"\n"));
        let r = tmp.path();
        write(
            r,
            "/etc/selinux/config",
            "SELINUX=permissive\nSELINUXTYPE=targeted\n",
        );
        write(r, "/etc/selinux/targeted/policy/policy.33", "policy");
        let p = profile_tree(r);
        let f = finding(&p, "mac.selinux-enforcing");
        assert_eq!(f.status, Status::Fail, "{id}");
        assert!(f.evidence[0].value.contains("SELINUX=permissive"), "{id}");
        assert!(
            p.findings.iter().all(|f| f.id != "mac.apparmor-enabled"),
            "{id}"
        );

        write(
            r,
            "/etc/selinux/config",
            "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
        );
        assert_eq!(
            finding(&profile_tree(r), "mac.selinux-enforcing").status,
            Status::Pass,
            "{id}"
        );
        write(r, "/etc/crypto-policies/config", "DEFAULT\n");
        assert_eq!(
            finding(&profile_tree(r), "crypto.policy").status,
            Status::Pass,
            "{id}"
        );
        write(r, "/etc/crypto-policies/config", "# set by admin\nLEGACY\n");
        let c = profile_tree(r);
        let c = finding(&c, "crypto.policy");
        assert_eq!(c.status, Status::Fail, "{id}");
        assert_eq!(c.evidence[0].line, Some(2));
        std::fs::remove_dir_all(r.join("etc/selinux/targeted")).expect("rm");
        assert_eq!(
            finding(&profile_tree(r), "mac.selinux-enforcing").status,
            Status::Fail,
            "{id}: no policy installed"
        );
    }
}

#[test]
fn windows_fixture_gets_windows_checks_only() {
    let (raw, _) = guestkit_fixtures::windows::windows_guest().expect("Windows fixture");
    let tree = raw.parent().expect("dir").join("tree");
    let r = profile_tree(&tree);
    assert!(!r.findings.is_empty());
    assert!(
        r.findings.iter().all(|f| f.id.starts_with("windows.")),
        "{:?}",
        r.findings
    );
    let host = finding(&r, "windows.hostname-set");
    assert_eq!(host.status, Status::Pass);
    assert!(host.evidence[0].source.contains("Tcpip"));
    // The fixture's SYSTEM hive lists one service (Tcpip): the firewall
    // and Defender services are absent, Remote Registry too.
    let fw = finding(&r, "windows.firewall-service");
    assert_eq!(fw.status, Status::Fail);
    assert!(fw.evidence[0].source.ends_with(r"Services\MpsSvc"));
    assert_eq!(fw.evidence[0].value, "absent");
    assert_eq!(finding(&r, "windows.remote-registry").status, Status::Pass);
    let apps = finding(&r, "windows.installed-apps");
    assert_eq!(apps.status, Status::Pass);
    assert_eq!(apps.evidence[0].value, "4 applications");
}
