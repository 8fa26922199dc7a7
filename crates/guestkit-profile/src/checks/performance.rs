//! Performance settings: swap, atime, journald limits, transparent huge
//! pages, tuned, the block I/O scheduler.

use guestkit_fs::fstab::Skip;

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx, SECTION};
use crate::model::{Evidence, Outcome, Severity};

fn swap(ctx: &Ctx<'_>) -> Outcome {
    let fstab = tri!(ctx.fstab());
    let Some(fstab) = fstab else {
        return Outcome::na("no /etc/fstab");
    };
    let swaps: Vec<Evidence> = fstab
        .iter()
        .filter(|e| e.skip == Some(Skip::Swap) || e.fs_type == "swap")
        .map(|e| Evidence::file("/etc/fstab", Some(e.line), format!("{} swap", e.spec)))
        .collect();
    if swaps.is_empty() {
        Outcome::fail(vec![Evidence::file("/etc/fstab", None, "no swap entry")])
    } else {
        Outcome::pass(swaps)
    }
}

/// Local data filesystems mounted without `noatime` (or `relatime`,
/// the kernel default, which is also accepted unless `strictatime` is
/// set).
fn atime(ctx: &Ctx<'_>) -> Outcome {
    let fstab = tri!(ctx.fstab());
    let Some(fstab) = fstab else {
        return Outcome::na("no /etc/fstab");
    };
    let data: Vec<_> = fstab
        .iter()
        .filter(|e| {
            e.skip.is_none()
                && ["ext2", "ext3", "ext4", "xfs", "btrfs"].contains(&e.fs_type.as_str())
        })
        .collect();
    if data.is_empty() {
        return Outcome::na("no local data filesystem in /etc/fstab");
    }
    let ev = |e: &&guestkit_fs::fstab::FstabEntry| {
        Evidence::file(
            "/etc/fstab",
            Some(e.line),
            format!("{} {}", e.mountpoint, e.options.join(",")),
        )
    };
    let bad: Vec<Evidence> = data
        .iter()
        .filter(|e| !e.options.iter().any(|o| o == "noatime"))
        .map(ev)
        .collect();
    if bad.is_empty() {
        Outcome::pass(data.iter().map(ev).collect())
    } else {
        Outcome::fail(bad)
    }
}

/// journald with a size cap (`SystemMaxUse=`), from journald.conf and its
/// drop-ins (later files override).
fn journald_limits(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let mut paths = vec!["/etc/systemd/journald.conf".to_string()];
    for dir in [
        "/usr/lib/systemd/journald.conf.d",
        "/etc/systemd/journald.conf.d",
    ] {
        paths.extend(
            files
                .list_dir(SECTION, dir)
                .into_iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| format!("{dir}/{n}")),
        );
    }
    let mut found = None;
    let mut any = false;
    for path in &paths {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        any = true;
        for (i, l) in text.lines().enumerate() {
            if let Some((k, v)) = l.trim().split_once('=') {
                if k.trim() == "SystemMaxUse" && !v.trim().is_empty() {
                    found = Some(Evidence::file(path.clone(), Some(i + 1), l.trim()));
                }
            }
        }
    }
    if !any {
        return Outcome::na("journald is not configured (no journald.conf)");
    }
    match found {
        Some(ev) => Outcome::pass(vec![ev]),
        None => Outcome::fail(vec![Evidence::field(
            paths.join(", "),
            "SystemMaxUse unset (journald default: 10% of the filesystem, at most 4G)",
        )]),
    }
}

/// Transparent huge pages: `transparent_hugepage=` on the default
/// kernel command line, else the default the newest kernel was built
/// with. `always` fails (latency spikes for databases and many JVMs).
fn thp(ctx: &Ctx<'_>) -> Outcome {
    let Some(k) = &ctx.os.kernels else {
        return Outcome::na("the report has no kernels section");
    };
    let from_cmdline = k.default_cmdline.as_deref().and_then(|c| {
        c.split_whitespace()
            .filter_map(|w| w.strip_prefix("transparent_hugepage="))
            .next_back()
    });
    let (mode, ev) = match from_cmdline {
        Some(m) => (
            m.to_string(),
            Evidence::field(
                "kernels.default_cmdline",
                format!("transparent_hugepage={m}"),
            ),
        ),
        None => {
            let Some(config) = k.kernels.first().and_then(|k| k.config.clone()) else {
                return Outcome::na(
                    "no transparent_hugepage= and no kernel config to read the default from",
                );
            };
            let text = match tri!(ctx.text(&config)) {
                Some(t) => t,
                None => return Outcome::na(format!("{config} unreadable")),
            };
            let found = text.lines().enumerate().find_map(|(i, l)| {
                let m = l
                    .strip_prefix("CONFIG_TRANSPARENT_HUGEPAGE_")?
                    .strip_suffix("=y")?;
                matches!(m, "ALWAYS" | "MADVISE" | "NEVER")
                    .then(|| (i + 1, m.to_ascii_lowercase(), l.to_string()))
            });
            match found {
                Some((line, m, l)) => (m, Evidence::file(config, Some(line), l)),
                None => return Outcome::na(format!("{config}: no transparent huge page default")),
            }
        }
    };
    if mode == "always" {
        Outcome::fail(vec![ev])
    } else {
        Outcome::pass(vec![ev])
    }
}

/// tuned, where installed, has an active profile.
fn tuned(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    if !files.is_file("/usr/sbin/tuned") {
        return Outcome::na("tuned is not installed");
    }
    let path = "/etc/tuned/active_profile";
    match files.read_text(SECTION, path).map(|t| t.trim().to_string()) {
        Some(p) if !p.is_empty() => Outcome::pass(vec![Evidence::file(path, Some(1), p)]),
        _ => Outcome::fail(vec![Evidence::file(path, None, "no active profile")]),
    }
}

/// Schedulers that suit a virtual disk (the host already schedules).
const VM_SCHEDULERS: &[&str] = &["none", "noop", "mq-deadline", "deadline"];

/// udev rule directories, lowest precedence first; a file in a later
/// directory replaces the same name in an earlier one.
const UDEV_RULE_DIRS: &[&str] = &[
    "/lib/udev/rules.d",
    "/usr/lib/udev/rules.d",
    "/etc/udev/rules.d",
];

/// `ATTR{queue/scheduler}="X"` assignments in the guest's udev rules.
fn udev_scheduler_rules(files: &guestkit_inspect::GuestFiles<'_>) -> Vec<(String, usize, String)> {
    let mut by_name = std::collections::BTreeMap::new();
    for dir in UDEV_RULE_DIRS {
        for name in files.list_dir(SECTION, dir) {
            if name.ends_with(".rules") {
                by_name.insert(name.clone(), format!("{dir}/{name}"));
            }
        }
    }
    let mut out = Vec::new();
    for path in by_name.values() {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let mut rest = line;
            while let Some(at) = rest.find("ATTR{queue/scheduler}") {
                let after = rest.get(at + "ATTR{queue/scheduler}".len()..).unwrap_or("");
                let after = after.trim_start();
                // An assignment (`=`), not a match (`==`, `!=`).
                if let Some(v) = after.strip_prefix('=').filter(|v| !v.starts_with('=')) {
                    let v = v.trim_start().trim_start_matches('"');
                    let value: String = v.chars().take_while(|c| *c != '"').collect();
                    out.push((path.clone(), i + 1, value));
                }
                rest = after;
            }
        }
    }
    out
}

/// Major and minor of a kernel version (`6.1.0-25-amd64` → (6, 1)).
fn kernel_release(version: &str) -> Option<(u32, u32)> {
    let mut it = version.split(['.', '-']);
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The block I/O scheduler chosen for the guest's disks: udev rules,
/// `elevator=` on the kernel command line (ignored by blk-mq kernels from
/// 5.0 on), the active tuned profile's `elevator=`.
fn io_scheduler(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (path, line, value) in udev_scheduler_rules(files) {
        let ev = Evidence::file(path, Some(line), format!("queue/scheduler={value}"));
        if VM_SCHEDULERS.contains(&value.as_str()) {
            good.push(ev);
        } else {
            bad.push(ev);
        }
    }
    let kernels = ctx.os.kernels.as_ref();
    let release = kernels
        .and_then(|k| k.kernels.first())
        .and_then(|k| kernel_release(&k.version));
    let elevator = kernels
        .and_then(|k| k.default_cmdline.as_deref())
        .and_then(|c| {
            c.split_whitespace()
                .filter_map(|w| w.strip_prefix("elevator="))
                .next_back()
        });
    if let Some(e) = elevator {
        let ev = Evidence::field("kernels.default_cmdline", format!("elevator={e}"));
        match release {
            Some(r) if r >= (5, 0) => bad.push(Evidence::field(
                "kernels.default_cmdline",
                format!(
                    "elevator={e}: ignored by kernel {}.{} (blk-mq); set the scheduler with a udev rule",
                    r.0, r.1
                ),
            )),
            _ if VM_SCHEDULERS.contains(&e) => good.push(ev),
            _ => bad.push(ev),
        }
    }
    if let Some(profile) = files
        .read_text(SECTION, "/etc/tuned/active_profile")
        .map(|t| t.trim().to_string())
        .filter(|p| !p.is_empty() && !p.contains('/'))
    {
        let path = format!("/etc/tuned/{profile}/tuned.conf");
        if let Some(text) = files.read_text(SECTION, &path) {
            for (i, l) in text.lines().enumerate() {
                if let Some((k, v)) = l.split_once('=') {
                    if k.trim() == "elevator" {
                        let v = v.trim();
                        let ev = Evidence::file(path.clone(), Some(i + 1), format!("elevator={v}"));
                        if VM_SCHEDULERS.contains(&v) {
                            good.push(ev);
                        } else {
                            bad.push(ev);
                        }
                    }
                }
            }
        }
    }
    if !bad.is_empty() {
        return Outcome::fail(bad);
    }
    if good.is_empty() {
        return Outcome::pass(vec![Evidence::field(
            UDEV_RULE_DIRS.join(", "),
            "no scheduler set: the kernel's default (none for multi-queue virtio disks, mq-deadline otherwise)",
        )]);
    }
    Outcome::pass(good)
}

/// The performance checks.
pub const CHECKS: &[Check] = &[
    Check {
        id: "perf.swap",
        title: "Swap is configured",
        description: "Without swap, memory pressure ends in the OOM killer.",
        profiles: PERF,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Add a swap partition or file to /etc/fstab (or accept the risk on memory-sized workloads).",
        references: &[],
        run: swap,
    },
    Check {
        id: "perf.noatime",
        title: "Data filesystems are mounted noatime",
        description: "noatime avoids a metadata write per read.",
        profiles: PERF,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Add `noatime` to the options of local filesystems in /etc/fstab.",
        references: &[],
        run: atime,
    },
    Check {
        id: "perf.journald-limits",
        title: "journald's disk use is capped",
        description: "SystemMaxUse= bounds the persistent journal.",
        profiles: PERF,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Set `SystemMaxUse=500M` (or what fits) in /etc/systemd/journald.conf.d/size.conf.",
        references: &[],
        run: journald_limits,
    },
    Check {
        id: "perf.transparent-hugepages",
        title: "Transparent huge pages are not `always`",
        description: "THP `always` causes latency spikes for databases and many JVMs; `madvise` or `never` is preferred on servers.",
        profiles: PERF,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Add `transparent_hugepage=madvise` (or `never`) to GRUB_CMDLINE_LINUX and regenerate the GRUB configuration.",
        references: &[],
        run: thp,
    },
    Check {
        id: "perf.tuned-profile",
        title: "tuned has an active profile",
        description: "tuned installed without an active profile applies no tuning.",
        profiles: PERF,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "`tuned-adm profile virtual-guest` (or throughput-performance).",
        references: &[],
        run: tuned,
    },
    Check {
        id: "perf.io-scheduler",
        title: "Virtual disks use a VM-friendly I/O scheduler",
        description: "The host schedules the real disk: `none` or `mq-deadline` in the guest avoids double scheduling (bfq, kyber, cfq add latency and CPU). `elevator=` on the kernel command line is ignored from kernel 5.0 on, so a setting made there is silently lost.",
        profiles: PERF,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Use a udev rule such as `ACTION==\"add|change\", KERNEL==\"vd[a-z]|sd[a-z]\", ATTR{queue/scheduler}=\"none\"` in /etc/udev/rules.d/60-scheduler.rules and drop `elevator=` from the kernel command line.",
        references: &[],
        run: io_scheduler,
    },
];
