//! Files and filesystems: the deep scan's findings, permissions of
//! sensitive files, separate partitions and mount options from fstab.

use guestkit_fs::fstab::FstabEntry;
use guestkit_fs::FileType;
use guestkit_inspect::security::filescan::{FileScan, ScannedFile};

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx};
use crate::model::{Evidence, Outcome, Severity};

fn scan<'a>(ctx: &Ctx<'a>) -> Result<&'a FileScan, Outcome> {
    ctx.security()?
        .file_scan
        .as_ref()
        .ok_or_else(|| Outcome::na("no deep scan in the report (run with --deep-scan)"))
}

fn scanned(list: &[ScannedFile], what: &str) -> Vec<Evidence> {
    list.iter()
        .map(|f| {
            Evidence::file(
                f.path.clone(),
                None,
                format!("{what}: mode {:04o} uid {} gid {}", f.mode, f.uid, f.gid),
            )
        })
        .collect()
}

fn scan_outcome(ctx: &Ctx<'_>, pick: fn(&FileScan) -> Vec<Evidence>) -> Outcome {
    let s = tri!(scan(ctx));
    let bad = pick(s);
    if bad.is_empty() && s.truncated {
        return Outcome::na(format!(
            "the scan stopped at a limit after {} entries: nothing found so far",
            s.entries_scanned
        ));
    }
    Outcome::fail_if_any(
        bad,
        Evidence::field(
            "security.file_scan",
            format!("{} entries scanned", s.entries_scanned),
        ),
    )
}

fn world_writable_dirs(ctx: &Ctx<'_>) -> Outcome {
    scan_outcome(ctx, |s| {
        scanned(
            &s.world_writable_dirs,
            "world-writable directory without sticky bit",
        )
    })
}

fn world_writable_files(ctx: &Ctx<'_>) -> Outcome {
    scan_outcome(ctx, |s| {
        scanned(&s.world_writable_files, "world-writable file")
    })
}

fn unowned(ctx: &Ctx<'_>) -> Outcome {
    scan_outcome(ctx, |s| scanned(&s.unowned, "owner uid in no passwd entry"))
}

/// setuid/setgid programs a standard distribution ships.
const EXPECTED_SUID: &[&str] = &[
    "chage",
    "chfn",
    "chsh",
    "crontab",
    "dbus-daemon-launch-helper",
    "expiry",
    "fusermount",
    "fusermount3",
    "gpasswd",
    "mount",
    "newgidmap",
    "newgrp",
    "newuidmap",
    "ntfs-3g",
    "passwd",
    "pkexec",
    "polkit-agent-helper-1",
    "ping",
    "ping6",
    "pppd",
    "ssh-agent",
    "ssh-keysign",
    "su",
    "sudo",
    "sudoedit",
    "umount",
    "unix_chkpwd",
    "userhelper",
    "Xorg.wrap",
    "at",
    "locate",
    "mlocate",
    "plocate",
    "wall",
    "write",
    "bsd-write",
    "dotlockfile",
    "chromium-sandbox",
    "staprun",
    "usernetctl",
    "pam_timestamp_check",
    "lockdev",
    "utempter",
    "traceroute6.iputils",
    "snap-confine",
    "mount.nfs",
    "mount.cifs",
    "sg",
    "vmware-user-suid-wrapper",
    "doas",
];

fn unexpected_suid(ctx: &Ctx<'_>) -> Outcome {
    scan_outcome(ctx, |s| {
        let odd = |f: &&ScannedFile| {
            let base = f.path.rsplit('/').next().unwrap_or("");
            !EXPECTED_SUID.contains(&base)
        };
        let mut ev = scanned(
            &s.setuid.iter().filter(odd).cloned().collect::<Vec<_>>(),
            "setuid",
        );
        ev.extend(scanned(
            &s.setgid.iter().filter(odd).cloned().collect::<Vec<_>>(),
            "setgid",
        ));
        ev
    })
}

/// Fails when the file at `path` is not owned by root or has any of the
/// `forbidden` permission bits; not applicable when absent.
fn permissions(ctx: &Ctx<'_>, paths: &[&str], forbidden: u32) -> Outcome {
    let files = tri!(ctx.files());
    for path in paths {
        let md = match files.tree().metadata(path.as_bytes()) {
            Ok(md) => md,
            Err(guestkit_fs::FsError::NotFound { .. }) => continue,
            Err(e) => return Outcome::error(format!("{path}: {e}")),
        };
        if md.file_type != FileType::Regular {
            continue;
        }
        let ev = vec![Evidence::file(
            *path,
            None,
            format!(
                "mode {:04o} uid {} gid {}",
                md.mode & 0o7777,
                md.uid,
                md.gid
            ),
        )];
        return if md.uid == 0 && md.mode & forbidden == 0 {
            Outcome::pass(ev)
        } else {
            Outcome::fail(ev)
        };
    }
    Outcome::na(format!("{} absent", paths.join(", ")))
}

fn shadow_permissions(ctx: &Ctx<'_>) -> Outcome {
    permissions(ctx, &["/etc/shadow"], 0o7137)
}

fn gshadow_permissions(ctx: &Ctx<'_>) -> Outcome {
    permissions(ctx, &["/etc/gshadow"], 0o7137)
}

fn passwd_permissions(ctx: &Ctx<'_>) -> Outcome {
    permissions(ctx, &["/etc/passwd"], 0o7133)
}

fn grub_permissions(ctx: &Ctx<'_>) -> Outcome {
    permissions(
        ctx,
        &[
            "/boot/grub/grub.cfg",
            "/boot/grub2/grub.cfg",
            "/boot/efi/EFI/redhat/grub.cfg",
        ],
        0o7077,
    )
}

fn entry<'a>(fstab: &'a [FstabEntry], mountpoint: &str) -> Option<&'a FstabEntry> {
    fstab
        .iter()
        .rev()
        .find(|e| e.mountpoint.trim_end_matches('/') == mountpoint)
}

/// Whether `mountpoint` is its own filesystem: an fstab entry, or (for
/// /tmp) systemd's tmp.mount enabled.
fn separate(ctx: &Ctx<'_>, mountpoint: &str) -> Outcome {
    let fstab = tri!(ctx.fstab());
    let Some(fstab) = fstab else {
        return Outcome::na("no /etc/fstab");
    };
    if let Some(e) = entry(fstab, mountpoint) {
        return Outcome::pass(vec![Evidence::file(
            "/etc/fstab",
            Some(e.line),
            format!("{} {} {}", e.spec, e.mountpoint, e.fs_type),
        )]);
    }
    if mountpoint == "/tmp" && ctx.enabled("tmp.mount") == Some(true) {
        return Outcome::pass(vec![Evidence::field("services", "tmp.mount enabled")]);
    }
    Outcome::fail(vec![Evidence::file(
        "/etc/fstab",
        None,
        format!("no entry for {mountpoint}"),
    )])
}

fn tmp_partition(ctx: &Ctx<'_>) -> Outcome {
    separate(ctx, "/tmp")
}
fn var_tmp_partition(ctx: &Ctx<'_>) -> Outcome {
    separate(ctx, "/var/tmp")
}
fn var_log_partition(ctx: &Ctx<'_>) -> Outcome {
    separate(ctx, "/var/log")
}
fn home_partition(ctx: &Ctx<'_>) -> Outcome {
    separate(ctx, "/home")
}

/// Whether the fstab entry of `mountpoint` has `option`; not applicable
/// without an entry (the partition check reports that).
fn mount_option(ctx: &Ctx<'_>, mountpoint: &str, option: &str) -> Outcome {
    let fstab = tri!(ctx.fstab());
    let Some(e) = fstab.and_then(|f| entry(f, mountpoint)) else {
        return Outcome::na(format!("{mountpoint} has no fstab entry"));
    };
    let ev = vec![Evidence::file(
        "/etc/fstab",
        Some(e.line),
        format!("{} {}", e.mountpoint, e.options.join(",")),
    )];
    if e.options.iter().any(|o| o == option) {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

macro_rules! mount_checks {
    ($( $fn:ident, $id:literal, $mp:literal, $opt:literal, $ssg:literal; )*) => {
        $( fn $fn(ctx: &Ctx<'_>) -> Outcome { mount_option(ctx, $mp, $opt) } )*
        /// The mount-option checks (from fstab).
        pub const MOUNT_OPTION_CHECKS: &[Check] = &[ $( Check {
            id: $id,
            title: concat!($mp, " is mounted ", $opt),
            description: concat!("The fstab entry of ", $mp, " carries the ", $opt, " option."),
            profiles: COMP_HARD,
            severity: Severity::Low,
            applies: Applies::LINUX,
            remediation: concat!("Add `", $opt, "` to the options of ", $mp, " in /etc/fstab."),
            references: &[$ssg],
            run: $fn,
        }, )* ];
    };
}

mount_checks! {
    tmp_nodev, "fs.tmp-nodev", "/tmp", "nodev", "xccdf_org.ssgproject.content_rule_mount_option_tmp_nodev";
    tmp_nosuid, "fs.tmp-nosuid", "/tmp", "nosuid", "xccdf_org.ssgproject.content_rule_mount_option_tmp_nosuid";
    tmp_noexec, "fs.tmp-noexec", "/tmp", "noexec", "xccdf_org.ssgproject.content_rule_mount_option_tmp_noexec";
    var_tmp_nodev, "fs.var-tmp-nodev", "/var/tmp", "nodev", "xccdf_org.ssgproject.content_rule_mount_option_var_tmp_nodev";
    var_tmp_nosuid, "fs.var-tmp-nosuid", "/var/tmp", "nosuid", "xccdf_org.ssgproject.content_rule_mount_option_var_tmp_nosuid";
    var_tmp_noexec, "fs.var-tmp-noexec", "/var/tmp", "noexec", "xccdf_org.ssgproject.content_rule_mount_option_var_tmp_noexec";
    dev_shm_nodev, "fs.dev-shm-nodev", "/dev/shm", "nodev", "xccdf_org.ssgproject.content_rule_mount_option_dev_shm_nodev";
    dev_shm_nosuid, "fs.dev-shm-nosuid", "/dev/shm", "nosuid", "xccdf_org.ssgproject.content_rule_mount_option_dev_shm_nosuid";
    dev_shm_noexec, "fs.dev-shm-noexec", "/dev/shm", "noexec", "xccdf_org.ssgproject.content_rule_mount_option_dev_shm_noexec";
}

/// The file and filesystem checks (mount options: [`MOUNT_OPTION_CHECKS`]).
pub const CHECKS: &[Check] = &[
    Check {
        id: "fs.world-writable-dirs",
        title: "World-writable directories have the sticky bit",
        description: "Without the sticky bit anyone can delete or replace others' files (deep scan).",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "`chmod +t DIR` (or remove world write).",
        references: &["xccdf_org.ssgproject.content_rule_dir_perms_world_writable_sticky_bits"],
        run: world_writable_dirs,
    },
    Check {
        id: "fs.world-writable-files",
        title: "No world-writable files",
        description: "Any local user (or service) can change a world-writable file (deep scan).",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "`chmod o-w FILE`.",
        references: &["xccdf_org.ssgproject.content_rule_file_permissions_unauthorized_world_writable"],
        run: world_writable_files,
    },
    Check {
        id: "fs.unowned-files",
        title: "Every file has a known owner",
        description: "Files owned by a uid with no account are adopted by the next account given that uid (deep scan).",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "`chown` the files to an existing account or remove them.",
        references: &["xccdf_org.ssgproject.content_rule_no_files_unowned_by_user"],
        run: unowned,
    },
    Check {
        id: "fs.unexpected-suid",
        title: "No unexpected setuid/setgid programs",
        description: "setuid/setgid programs beyond the usual distribution set (deep scan).",
        profiles: SEC_HARD,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Review each program; `chmod u-s,g-s` those that do not need it.",
        references: &[],
        run: unexpected_suid,
    },
    Check {
        id: "fs.shadow-permissions",
        title: "/etc/shadow is root-owned, mode 0640 or stricter",
        description: "The password hashes must not be readable by other users.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "`chown root:shadow /etc/shadow && chmod 0640 /etc/shadow` (0000 on RHEL).",
        references: &["xccdf_org.ssgproject.content_rule_file_permissions_etc_shadow", "xccdf_org.ssgproject.content_rule_file_owner_etc_shadow"],
        run: shadow_permissions,
    },
    Check {
        id: "fs.gshadow-permissions",
        title: "/etc/gshadow is root-owned, mode 0640 or stricter",
        description: "Group password hashes must not be readable by other users.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "`chown root:shadow /etc/gshadow && chmod 0640 /etc/gshadow`.",
        references: &["xccdf_org.ssgproject.content_rule_file_permissions_etc_gshadow"],
        run: gshadow_permissions,
    },
    Check {
        id: "fs.passwd-permissions",
        title: "/etc/passwd is root-owned, mode 0644 or stricter",
        description: "Only root may change the account database.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "`chown root:root /etc/passwd && chmod 0644 /etc/passwd`.",
        references: &["xccdf_org.ssgproject.content_rule_file_permissions_etc_passwd"],
        run: passwd_permissions,
    },
    Check {
        id: "fs.grub-cfg-permissions",
        title: "GRUB configuration is root-only (0600 or stricter)",
        description: "grub.cfg may hold the bootloader password hash and kernel parameters.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "`chown root:root /boot/grub/grub.cfg && chmod 0600 /boot/grub/grub.cfg` (grub2 path on RHEL).",
        references: &["xccdf_org.ssgproject.content_rule_file_permissions_grub2_cfg"],
        run: grub_permissions,
    },
    Check {
        id: "fs.tmp-partition",
        title: "/tmp is a separate filesystem",
        description: "A separate /tmp (fstab entry or tmp.mount) can carry nodev,nosuid,noexec and cannot fill the root filesystem.",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Add a /tmp entry to /etc/fstab (tmpfs or a partition), or enable tmp.mount.",
        references: &["xccdf_org.ssgproject.content_rule_partition_for_tmp"],
        run: tmp_partition,
    },
    Check {
        id: "fs.var-tmp-partition",
        title: "/var/tmp is a separate filesystem",
        description: "A separate /var/tmp can carry nodev,nosuid,noexec.",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Add a /var/tmp entry to /etc/fstab.",
        references: &["xccdf_org.ssgproject.content_rule_partition_for_var_tmp"],
        run: var_tmp_partition,
    },
    Check {
        id: "fs.var-log-partition",
        title: "/var/log is a separate filesystem",
        description: "Logs filling up cannot fill the root filesystem.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Move /var/log to its own partition or logical volume and add it to /etc/fstab.",
        references: &["xccdf_org.ssgproject.content_rule_partition_for_var_log"],
        run: var_log_partition,
    },
    Check {
        id: "fs.home-partition",
        title: "/home is a separate filesystem",
        description: "User data cannot fill the root filesystem and can carry nodev.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Move /home to its own partition or logical volume and add it to /etc/fstab.",
        references: &["xccdf_org.ssgproject.content_rule_partition_for_home"],
        run: home_partition,
    },
];
