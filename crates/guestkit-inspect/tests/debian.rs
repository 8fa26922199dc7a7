//! Acceptance on a real Debian 12 guest installed by mmdebstrap: the report
//! agrees with the guest's own tools and files, and the same guest gives
//! the same report in every image format and on ext4, XFS, Btrfs and LVM.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_disk::format::{open_image, OpenOptions};
use guestkit_disk::{DeviceRef, Limits};
use guestkit_fixtures::{debian, debian_images};
use guestkit_fs::guest::open_guest;
use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::{inspect, inspect_guest, InspectOptions, OsReport, Report};
use serde_json::Value;

fn tree_report(root: &Path) -> Report {
    let fs = HostDirFs::open(root, FsLimits::default()).unwrap();
    let tree = GuestTree::new(Arc::new(fs), "debian", FsLimits::default());
    inspect(&tree, "debian", &InspectOptions::default())
}

fn only_os(report: &Report) -> &OsReport {
    assert_eq!(report.operating_systems.len(), 1, "{:?}", report.warnings);
    &report.operating_systems[0]
}

/// `(name, version, arch, source, source version)` of every installed
/// package, as dpkg-query prints them from the guest's database.
fn dpkg_query(root: &Path) -> BTreeSet<(String, String, String, String, String)> {
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}", root.join("var/lib/dpkg").display()))
        .args([
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0] == "installed").then(|| {
                (
                    f[1].into(),
                    f[2].into(),
                    f[3].into(),
                    f[4].into(),
                    f[5].into(),
                )
            })
        })
        .collect()
}

#[test]
fn debian_guest_agrees_with_its_own_tools() {
    let root = debian::debian_tree().unwrap();
    let report = tree_report(&root);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let os = only_os(&report);
    let i = &os.os;
    assert_eq!(i.distro.as_deref(), Some("debian"));
    let debian_version = std::fs::read_to_string(root.join("etc/debian_version")).unwrap();
    let (major, minor) = debian_version.trim().split_once('.').unwrap();
    assert_eq!(i.version_major, major.parse().ok());
    assert_eq!(i.version_minor, minor.parse().ok());
    assert_eq!(i.osinfo.as_deref(), Some(format!("debian{major}").as_str()));
    assert_eq!(i.hostname.as_deref(), Some(debian::HOSTNAME));
    assert_eq!(i.arch.as_deref(), Some("x86_64"));
    assert_eq!(
        (i.package_format.as_deref(), i.package_management.as_deref()),
        (Some("deb"), Some("apt"))
    );

    let list = os.packages.as_ref().unwrap();
    let got: BTreeSet<_> = list
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.arch.clone().unwrap_or_default(),
                p.source_name.clone().unwrap_or_default(),
                p.source_version.clone().unwrap_or_default(),
            )
        })
        .collect();
    let want = dpkg_query(&root);
    assert!(want.len() > 100, "{} packages", want.len());
    assert_eq!(got, want);
    for name in debian::PACKAGES {
        assert!(list.packages.iter().any(|p| &p.name == name), "{name}");
    }

    let system = os.system.as_ref().unwrap();
    assert_eq!(system.timezone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(system.locale.as_deref(), Some("en_US.UTF-8"));
    // mmdebstrap empties /etc/machine-id at the end (a template image).
    let machine_id = std::fs::read_to_string(root.join("etc/machine-id")).unwrap();
    assert_eq!(
        system.machine_id.as_deref(),
        Some(machine_id.trim()).filter(|m| !m.is_empty())
    );
    assert!(system.cloud_init.is_none());

    let dbs = os.databases.as_ref().unwrap();
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    let redis = &dbs[0];
    assert_eq!(redis.kind, "redis");
    let redis_pkg = want.iter().find(|p| p.0 == "redis-server").unwrap();
    assert_eq!(redis.version.as_deref(), Some(redis_pkg.1.as_str()));
    assert_eq!(redis.port, Some(6379));
    assert_eq!(redis.config_files, ["/etc/redis/redis.conf"]);
    assert_eq!(redis.data_directories[0].path, "/var/lib/redis");
    assert!(redis.data_directories[0].exists);
}

/// The report with what legitimately differs between layouts removed: the
/// volume names, mounts, filesystems, storage and timings.
fn layout_free(os: &OsReport) -> Value {
    let mut v = serde_json::to_value(os).unwrap();
    let obj = v.as_object_mut().unwrap();
    for key in [
        "root",
        "mountpoints",
        "filesystems",
        "storage",
        "timings_ms",
    ] {
        obj.remove(key);
    }
    v
}

#[test]
fn the_debian_guest_reads_the_same_from_every_image() {
    let images = debian_images::debian_images().unwrap();
    let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "btrfs-gpt.qcow2",
            "ext4-gpt.qcow2",
            "ext4-gpt.raw",
            "ext4-gpt.vdi",
            "ext4-gpt.vhd",
            "ext4-gpt.vhdx",
            "ext4-gpt.vmdk",
            "ext4-lvm.qcow2",
            "xfs-mbr.qcow2",
        ]
    );
    // The XFS image lacks the files a protofile cannot name; none is one
    // the inspector reads.
    let skipped = debian_images::xfs_skipped().unwrap();
    assert!(!skipped.is_empty());
    for path in &skipped {
        let dir_ok = ["var/lib/dpkg/info/", "var/lib/ucf/cache/"]
            .iter()
            .any(|d| path.starts_with(d));
        assert!(dir_ok && path.contains(':'), "{path}");
    }
    let root = debian::debian_tree().unwrap();
    let reference = layout_free(only_os(&tree_report(&root)));
    for image in &images {
        let opened = open_image(&image.path, &OpenOptions::default()).unwrap();
        let devices: Vec<DeviceRef> = vec![opened.device.clone()];
        let guest = open_guest(&devices, &Limits::default(), &FsLimits::default());
        let report = inspect_guest(&guest, &InspectOptions::default());
        assert!(
            report.warnings.is_empty(),
            "{}: {:?}",
            image.name,
            report.warnings
        );
        let os = only_os(&report);
        assert_eq!(layout_free(os), reference, "{}", image.name);
        let storage = os.storage.as_ref().unwrap();
        let fs_type = image.name.split('-').next().unwrap();
        assert!(
            storage
                .volumes
                .iter()
                .any(|v| v.kind == fs_type && v.mountpoint.as_deref() == Some("/")),
            "{}: {:?}",
            image.name,
            storage.volumes
        );
        if image.name.starts_with("ext4-lvm") {
            assert_eq!(os.root, "vg_accept/data");
            assert_eq!(storage.volume_groups[0].name, "vg_accept");
        } else {
            assert_eq!(os.root, "disk0p1");
        }
    }
}

#[test]
fn debian_guest_security_posture() {
    use guestkit_inspect::security::{audit, filescan, firewall, mac};
    use guestkit_inspect::GuestFiles;
    let root = debian::debian_tree().unwrap();
    let fs = HostDirFs::open(&root, FsLimits::default()).unwrap();
    let tree = GuestTree::new(Arc::new(fs), "debian", FsLimits::default());
    let files = GuestFiles::new(&tree);
    // What systemctl would call enabled: a link in a .wants directory.
    let wants = root.join("etc/systemd/system");
    let enabled = |unit: &str| {
        std::fs::read_dir(&wants)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|d| d.path().join(unit).symlink_metadata().is_ok())
    };
    let fws = firewall::firewalls(&files, &enabled);
    let nft = fws.iter().find(|f| f.kind == "nftables").expect("nftables");
    assert!(nft.enabled && nft.installed);
    assert_eq!(nft.config.as_deref(), Some("/etc/nftables.conf"));
    assert_eq!(nft.rules, Some(0), "Debian's default ruleset has no rules");
    assert_eq!(fws.len(), 1, "{fws:?}");

    let aa = mac::apparmor(&files, Some(enabled("apparmor.service")), None);
    assert!(aa.installed && aa.enabled, "{aa:?}");
    let profiles = std::fs::read_dir(root.join("etc/apparmor.d"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_file())
        .count();
    assert_eq!(aa.profiles, profiles);
    assert!(!mac::selinux(&files, None).configured);
    let au = audit::auditd(&files, &enabled);
    assert!(!au.installed);

    // setuid/setgid files against find(1) on the same tree.
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let uids: BTreeSet<u32> = passwd
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    let scan = filescan::scan(&files, filescan::ScanLimits::default(), &|uid| {
        uids.contains(&uid)
    });
    assert!(!scan.truncated);
    assert!(files.take_warnings().is_empty());
    let find = |perm: &str| -> BTreeSet<String> {
        let out = Command::new("find")
            .arg(&root)
            .args(["-xdev", "-type", "f", "-perm", perm, "-printf", "/%P\n"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let got = |list: &[filescan::ScannedFile]| -> BTreeSet<String> {
        list.iter().map(|f| f.path.clone()).collect()
    };
    let suid = find("-4000");
    assert!(
        suid.contains("/usr/bin/sudo") && suid.contains("/usr/bin/passwd"),
        "{suid:?}"
    );
    assert_eq!(got(&scan.setuid), suid);
    assert_eq!(got(&scan.setgid), find("-2000"));
    assert_eq!(scan.world_writable_dirs, []);
    assert_eq!(scan.unowned, [], "every file belongs to a passwd user");
    // Every entry find(1) sees, the pruned directories counted but not
    // entered, the root not counted.
    let skip = ["proc", "sys", "dev", "run", "var/cache"];
    let mut find_all = Command::new("find");
    find_all.arg(&root).arg("(");
    for (i, d) in skip.iter().enumerate() {
        if i > 0 {
            find_all.arg("-o");
        }
        find_all.arg("-path").arg(root.join(d));
    }
    let listed = find_all
        .args([")", "-prune", "-o", "-print"])
        .output()
        .unwrap()
        .stdout;
    let pruned = skip.iter().filter(|d| root.join(d).exists()).count();
    let want = String::from_utf8(listed).unwrap().lines().count() - 1 + pruned;
    assert_eq!(scan.entries_scanned, want);
}
