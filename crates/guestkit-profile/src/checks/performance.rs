//! Performance settings: swap, atime, journald limits.

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
];
