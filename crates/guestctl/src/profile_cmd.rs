//! `guestctl profile`: security, compliance, hardening, migration and
//! performance findings for a VM (or an unpacked root directory). Exit
//! status 0 when no check fails at or above the severity threshold, 1
//! otherwise, 2 on error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::{inspect, inspect_guest, GuestFiles, InspectOptions};
use guestkit_profile::{
    parse_profiles, profile, Profile, ProfileOptions, ProfileResult, Severity, Status,
};

use crate::guest_cmds::guest;
use crate::ImageArgs;

/// Output formats of `profile`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileFormat {
    Json,
    Yaml,
    Table,
}

/// `guestctl profile` arguments.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The VM's disk images, in order; or one directory holding an
    /// unpacked root filesystem.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Profiles to evaluate, comma-separated (default: all): security,
    /// compliance, hardening, migration, performance.
    #[arg(long = "profile", value_delimiter = ',')]
    pub profiles: Option<Vec<String>>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ProfileFormat,
    /// Leave out findings below this severity (critical, high, medium,
    /// low, info); the exit status counts failures at or above it.
    #[arg(long, default_value = "info")]
    pub severity_threshold: String,
    /// Also walk every file (bounded) for world-writable, unowned and
    /// setuid/setgid files.
    #[arg(long)]
    pub deep_scan: bool,
    /// Leave remediation text out of the findings.
    #[arg(long)]
    pub no_remediation: bool,
    #[command(flatten)]
    pub image: ImageArgs,
}

fn options(args: &ProfileArgs) -> Result<ProfileOptions> {
    let profiles = match &args.profiles {
        Some(names) => parse_profiles(names)?,
        None => Profile::ALL.to_vec(),
    };
    let severity_threshold = Severity::from_name(&args.severity_threshold).ok_or_else(|| {
        guestkit_profile::ProfileError::UnknownSeverity(args.severity_threshold.clone())
    })?;
    Ok(ProfileOptions {
        profiles,
        severity_threshold,
        include_remediation: !args.no_remediation,
        fail_on_critical: false,
    })
}

/// Runs `guestctl profile`: the exit status to return, or an error (which
/// the caller turns into status 2).
pub fn run(args: &ProfileArgs) -> Result<ExitCode> {
    let options = options(args)?;
    let inspect_options = InspectOptions {
        deep_scan: args.deep_scan,
        ..InspectOptions::default()
    };
    let image = args
        .images
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let result = match args.images.as_slice() {
        [dir] if dir.is_dir() => {
            let fs = HostDirFs::open(dir, FsLimits::default())
                .with_context(|| format!("{}", dir.display()))?;
            let tree = GuestTree::new(Arc::new(fs), dir.display().to_string(), FsLimits::default());
            let report = inspect(&tree, &dir.display().to_string(), &inspect_options);
            let files = GuestFiles::new(&tree);
            finish(&report, Some(&files), &image, &options)?
        }
        images => {
            let g = guest(images, &args.image)?;
            let report = inspect_guest(&g, &inspect_options);
            let files = g.tree.as_ref().map(GuestFiles::new);
            finish(&report, files.as_ref(), &image, &options)?
        }
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        ProfileFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &result).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        ProfileFormat::Yaml => serde_yaml_ng::to_writer(&mut out, &result)?,
        ProfileFormat::Table => table(&mut out, &result)?,
    }
    let failing = result
        .failing_at_or_above(options.severity_threshold)
        .count();
    Ok(if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn finish(
    report: &guestkit_inspect::Report,
    files: Option<&GuestFiles<'_>>,
    image: &str,
    options: &ProfileOptions,
) -> Result<ProfileResult> {
    if report.operating_systems.is_empty() {
        let why: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
        anyhow::bail!("{image}: no operating system found ({})", why.join("; "));
    }
    for w in &report.warnings {
        eprintln!("guestctl: warning: {w}");
    }
    Ok(profile(report, files, image, options))
}

fn table(out: &mut impl Write, r: &ProfileResult) -> Result<()> {
    writeln!(
        out,
        "{:<14} {:<8} {:<34} TITLE",
        "STATUS", "SEVERITY", "CHECK"
    )?;
    for f in r
        .findings
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Error))
    {
        writeln!(
            out,
            "{:<14} {:<8} {:<34} {}",
            f.status.name(),
            f.severity.name(),
            f.id,
            f.title
        )?;
        if let Some(e) = f.evidence.first() {
            let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
            writeln!(out, "{:<58} {}{at}: {}", "", e.source, e.value)?;
        }
    }
    let counts: Vec<String> = r
        .summary
        .by_status
        .iter()
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    writeln!(
        out,
        "\n{} failing finding(s); {} (threshold {})",
        r.summary.total_findings,
        counts.join(", "),
        r.severity_threshold.name()
    )?;
    Ok(())
}
