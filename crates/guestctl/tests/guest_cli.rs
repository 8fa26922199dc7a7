//! `guestctl filesystems / ls / cat / stat` on the demo VM: four filesystems
//! (ext4 on a partition and on LVs, Btrfs on an LV) assembled through the
//! guest's own /etc/fstab.

mod cli;

use cli::{demo, guestctl, stdout};

#[test]
fn filesystems_are_mounted_where_fstab_says() {
    let out = guestctl(&["filesystems", "--json", &demo()]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut mounted: Vec<(String, String, String)> = v["filesystems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["volume"].as_str().unwrap().to_string(),
                f["info"]["fs_type"].as_str().unwrap().to_string(),
                f["mountpoint"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    mounted.sort();
    let want = [
        ("demo/home", "btrfs", "/home"),
        ("demo/root", "ext4", "/"),
        ("demo/var", "ext4", "/var"),
        ("disk0p1", "vfat", "/boot/efi"),
        ("disk0p2", "ext4", "/boot"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(mounted, want);
    let statuses: Vec<&str> = v["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "mounted").count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&"skipped: swap") && statuses.contains(&"skipped: pseudo"),
        "{statuses:?}"
    );
    assert_eq!(
        v["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        v["warnings"]
    );
}

#[test]
fn paths_cross_mount_points() {
    assert_eq!(
        stdout(&guestctl(&["cat", &demo(), "/var/log/boot.log"])),
        "demo booted once, long ago\n"
    );
    assert!(stdout(&guestctl(&["cat", &demo(), "/boot/grub/grub.cfg"]))
        .contains("root=/dev/mapper/demo-root"));
    assert_eq!(
        stdout(&guestctl(&["ls", &demo(), "/home/user"])),
        ".profile\njournal.txt\n"
    );
    // A symlink resolved inside the guest.
    assert_eq!(
        stdout(&guestctl(&["cat", &demo(), "/etc/motd"])),
        "guestkit fixture tree\n"
    );
    let long = stdout(&guestctl(&["ls", "-l", &demo(), "/etc"]));
    assert!(
        long.contains("motd -> ../usr/share/doc/guestkit/README"),
        "{long}"
    );
}

#[test]
fn stat_reports_the_mount_and_the_inode() {
    let out = stdout(&guestctl(&["stat", &demo(), "/home/user/.profile"]));
    assert!(out.contains("Device: demo/home"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&guestctl(&[
        "stat",
        "--json",
        &demo(),
        "/etc/motd",
    ])))
    .unwrap();
    assert_eq!(v["file_type"], "symlink");
}

#[test]
fn missing_paths_and_bad_arguments_are_clear_errors() {
    let out = guestctl(&["cat", &demo(), "/etc/nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/nope: no such file or directory"));
    let out = guestctl(&["cat", &demo(), "etc/hostname"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be absolute"));
    let out = guestctl(&["cat", &demo(), "/etc"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

#[test]
fn every_volume_is_probed_like_blkid() {
    let out = guestctl(&["filesystems", "--json", &demo()]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let kinds: Vec<(String, String)> = v["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["volume"].as_str().unwrap().to_string(),
                p["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (volume, kind) in [
        ("disk0p1", "vfat"),
        ("disk0p2", "ext4"),
        ("disk0p3", "swap"),
        ("disk0p4", "LVM2_member"),
        ("demo/root", "ext4"),
        ("demo/var", "ext4"),
        ("demo/home", "btrfs"),
    ] {
        assert!(
            kinds.contains(&(volume.to_string(), kind.to_string())),
            "{volume} {kind}: {kinds:?}"
        );
    }
    // Whatever is not recognised says so, with its first bytes.
    for p in v["volumes"].as_array().unwrap() {
        if p["kind"] == "unknown" {
            assert_eq!(p["magic"].as_str().unwrap().len(), 32, "{p}");
        }
    }
}
