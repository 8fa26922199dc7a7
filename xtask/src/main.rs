//! `cargo xtask <task>`: project chores that need more than cargo.
//!
//! - `deps`: install the Debian packages the fixture factory and tests use.
//! - `fixtures`: build (or confirm cached) every fixture image.
//! - `demo`: rebuild `demo/demo.qcow2`, the demo image the repository ships.
//! - `fuzz-seeds`: small images of every format variant from the factory's
//!   recipes, copied into `fuzz/corpus/<target>` as seeds.
//! - `test`: the whole test suite: `deps`, `fixtures`, then every test of the
//!   workspace (with cargo-nextest when installed, else `cargo test`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// Debian packages the factory and the tests run.
const DEBIAN_PACKAGES: &[&str] = &[
    "qemu-utils",
    "fdisk",
    "e2fsprogs",
    "cryptsetup-bin",
    "xfsprogs",
    "btrfs-progs",
    "dosfstools",
    "mtools",
    "ntfs-3g",
    "mdadm",
    "lzop",
    "zstd",
    "wimtools",
    "libhivex-bin",
    "libwin-hivex-perl",
    "mmdebstrap",
    "cpio",
    "xz-utils",
    "lz4",
    "prometheus",
];

/// Commands whose presence says the packages above are installed.
const REQUIRED_COMMANDS: &[&str] = &[
    "qemu-img",
    "qemu-io",
    "sfdisk",
    "mkfs.ext4",
    "mkfs.vfat",
    "mkswap",
    "cryptsetup",
    "mdadm",
    "mkfs.xfs",
    "mkfs.btrfs",
    "mkntfs",
    "mcopy",
    "lzop",
    "zstd",
    "wimapply",
    "hivexget",
    "hivexregedit",
    "mmdebstrap",
    "cpio",
    "xz",
    "lzma",
    "lz4",
    "promtool",
];

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "deps" => deps(),
        "fixtures" => fixtures(),
        "test" => test(),
        "demo" => demo(),
        "fuzz-seeds" => fuzz_seeds(),
        _ => {
            eprintln!("usage: cargo xtask <deps|fixtures|test|demo|fuzz-seeds>");
            bail!("unknown task {task:?}")
        }
    }
}

fn missing_commands() -> Vec<&'static str> {
    REQUIRED_COMMANDS
        .iter()
        .copied()
        .filter(|c| {
            Command::new("sh")
                .args(["-c", &format!("command -v {c} >/dev/null")])
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .collect()
}

/// Whether the installed `mkfs.btrfs` can make subvolumes and compressed
/// files from a directory (`--subvol`, `--compress`: btrfs-progs 6.13+).
fn btrfs_progs_is_recent() -> bool {
    Command::new("mkfs.btrfs")
        .arg("--help")
        .output()
        .map(|o| {
            let help = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            help.contains("--subvol") && help.contains("--compress")
        })
        .unwrap_or(false)
}

/// Debian 12's btrfs-progs (6.2) predates `--subvol` and `--compress`; its
/// backports suite carries a recent one. Adds the suite (pinned low by
/// apt's default for backports, so nothing else changes) and installs
/// btrfs-progs from it.
fn install_recent_btrfs_progs() -> Result<()> {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    if !release.contains("VERSION_CODENAME=bookworm") {
        bail!("mkfs.btrfs lacks --subvol/--compress: install btrfs-progs 6.13 or newer");
    }
    let list = "/etc/apt/sources.list.d/guestkit-backports.sources";
    std::fs::write(
        list,
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\n\
         Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )
    .with_context(|| format!("writing {list}"))?;
    let ok = Command::new("apt-get").arg("update").status()?.success()
        && Command::new("apt-get")
            .args(["install", "-y", "-t", "bookworm-backports", "btrfs-progs"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?
            .success();
    if !ok {
        bail!("installing btrfs-progs from bookworm-backports failed");
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn deps() -> Result<()> {
    let missing = missing_commands();
    if missing.is_empty() {
        return recent_btrfs_progs();
    }
    if !is_root() {
        bail!(
            "missing {}: install the Debian packages {} (e.g. `sudo apt-get install {}`)",
            missing.join(", "),
            DEBIAN_PACKAGES.join(" "),
            DEBIAN_PACKAGES.join(" ")
        );
    }
    eprintln!("installing {}", DEBIAN_PACKAGES.join(" "));
    let ok = Command::new("apt-get").arg("update").status()?.success()
        && Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(DEBIAN_PACKAGES)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?
            .success();
    if !ok {
        bail!("apt-get install failed");
    }
    recent_btrfs_progs()
}

fn recent_btrfs_progs() -> Result<()> {
    if btrfs_progs_is_recent() {
        return Ok(());
    }
    if !is_root() {
        bail!("mkfs.btrfs lacks --subvol/--compress: install btrfs-progs 6.13 or newer (Debian 12: `apt-get install -t bookworm-backports btrfs-progs`)");
    }
    install_recent_btrfs_progs()
}

type Recipe = (
    &'static str,
    fn() -> guestkit_fixtures::Result<Vec<PathBuf>>,
);

/// Every recipe of the factory, with the files it yields.
const RECIPES: &[Recipe] = &[
    ("disk-mbr", || {
        Ok(vec![guestkit_fixtures::disks::mbr_disk()?])
    }),
    ("disk-gpt", || {
        Ok(vec![guestkit_fixtures::disks::gpt_disk()?])
    }),
    ("luks", || {
        let (a, b) = guestkit_fixtures::disks::luks_volumes()?;
        Ok(vec![a, b])
    }),
    ("lvm-standard", || {
        let dir = guestkit_fixtures::lvm::standard()?;
        Ok(vec![dir.join("disk0.raw"), dir.join("disk1.raw")])
    }),
    ("formats", || {
        Ok(guestkit_fixtures::formats::format_variants()?
            .into_iter()
            .map(|v| v.path)
            .collect())
    }),
    ("qcow2-encrypted", || {
        Ok(vec![guestkit_fixtures::formats::encrypted_qcow2()?])
    }),
    ("qcow2-snapshots", || {
        Ok(vec![guestkit_fixtures::formats::snapshot_qcow2()?])
    }),
    ("md-raid1", || {
        let dir = guestkit_fixtures::md::raid1_pair()?;
        Ok(vec![dir.join("md0.raw"), dir.join("md1.raw")])
    }),
    ("demo", || Ok(vec![guestkit_fixtures::demo::demo_disk()?])),
    ("debian-images", || {
        Ok(guestkit_fixtures::debian_images::debian_images()?
            .into_iter()
            .map(|i| i.path)
            .collect())
    }),
    ("windows-guest", || {
        let (raw, qcow2) = guestkit_fixtures::windows::windows_guest()?;
        Ok(vec![raw, qcow2])
    }),
];

fn fixtures() -> Result<()> {
    deps()?;
    let root = guestkit_fixtures::fixtures_root();
    println!("fixtures in {}", root.display());
    for (name, build) in RECIPES {
        let start = Instant::now();
        let files = build().with_context(|| format!("building fixture {name}"))?;
        let secs = start.elapsed().as_secs_f64();
        let bytes: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "  {name:<16} {:>3} file(s) {:>8} MiB virtual  {secs:>6.2} s",
            files.len(),
            bytes >> 20
        );
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn test() -> Result<()> {
    fixtures()?;
    let has_nextest = cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    // Doctests first: nextest does not run them, and the suite's own summary
    // should be the last thing printed.
    if has_nextest {
        let status = cargo()
            .args(["test", "--workspace", "--doc", "--quiet"])
            .status()
            .context("running doctests")?;
        if !status.success() {
            bail!("doctests failed");
        }
    }
    let mut cmd = cargo();
    if has_nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    let status = cmd.status().context("running the test suite")?;
    if !status.success() {
        bail!("tests failed");
    }
    // The worker's OpenTelemetry export is a cargo feature: its tests run
    // against a build that has it.
    eprintln!("== OpenTelemetry export (guestkit-worker --features otlp)");
    let mut cmd = cargo();
    if has_nextest {
        cmd.args(["nextest", "run"]);
    } else {
        cmd.arg("test");
    }
    let status = cmd
        .args([
            "-p",
            "guestkit-worker",
            "--features",
            "otlp",
            "--test",
            "otlp",
        ])
        .status()
        .context("running the otlp tests")?;
    if !status.success() {
        bail!("the otlp tests failed");
    }
    // The REST API against its own OpenAPI document: schemathesis
    // (installed from PyPI into target/) drives a live worker.
    eprintln!("== API contract (schemathesis)");
    let status = Command::new("bash")
        .arg(guestkit_fixtures::workspace_root().join("scripts/schemathesis.sh"))
        .status()
        .context("running scripts/schemathesis.sh")?;
    if !status.success() {
        bail!("schemathesis found API problems");
    }
    Ok(())
}

fn demo() -> Result<()> {
    deps()?;
    let built = guestkit_fixtures::demo::demo_disk()?;
    let target = guestkit_fixtures::demo::committed_demo();
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(&built, &target)
        .with_context(|| format!("copying {} to {}", built.display(), target.display()))?;
    println!("{}", target.display());
    Ok(())
}

/// Fuzz target that reads each container format.
fn fuzz_target_of(format: &str) -> &'static str {
    match format {
        "qcow2" => "qcow2",
        "vmdk" => "vmdk",
        "vdi" => "vdi",
        "vhdx" => "vhdx",
        "vhd" => "vhd",
        _ => "image_open",
    }
}

/// Largest seed copied into a corpus.
const MAX_SEED_BYTES: u64 = 4 << 20;

fn fuzz_seeds() -> Result<()> {
    deps()?;
    let work = guestkit_fixtures::fixtures_root().join("fuzz-seed-work");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    // A sparse disk with little data keeps the seeds of the sparse formats
    // small; fully allocated variants (raw, static, fixed) are too large to
    // be useful seeds and are left out below.
    let source = work.join("source.raw");
    guestkit_fixtures::disks::sparse_file(&source, 64 << 20)?;
    guestkit_fixtures::tools::run_with_stdin(
        "sfdisk",
        &["--quiet", guestkit_fixtures::tools::arg(&source)?],
        Some(
            b"label: gpt\nfirst-lba: 64\nstart=64, size=2048, name=\"a\"\nstart=2112, name=\"b\"\n",
        ),
    )?;
    guestkit_fixtures::disks::write_at(
        &source,
        40_000,
        &guestkit_fixtures::tree::pseudo_random(1, 70_000),
    )?;
    guestkit_fixtures::disks::write_at(&source, 1_200_000, b"guestkit seed data")?;
    let variants = guestkit_fixtures::formats::write_variants(&source, &work)?;
    let corpus = guestkit_fixtures::workspace_root()
        .join("fuzz")
        .join("corpus");
    let mut count = 0;
    for v in &variants {
        if std::fs::metadata(&v.path)?.len() > MAX_SEED_BYTES {
            continue;
        }
        for target in [fuzz_target_of(&v.format), "image_open"] {
            let dir = corpus.join(target);
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(&v.path, dir.join(format!("factory-{}", v.name)))?;
            count += 1;
        }
        if v.format == "vmdk" {
            let text = std::fs::read(&v.path)?;
            let descriptor: Vec<u8> = text.into_iter().take(64 * 1024).collect();
            let dir = corpus.join("vmdk_descriptor");
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("factory-{}", v.name)), descriptor)?;
            count += 1;
        }
    }
    for table in ["mbr", "gpt"] {
        let disk = match table {
            "mbr" => guestkit_fixtures::disks::mbr_disk()?,
            _ => guestkit_fixtures::disks::gpt_disk()?,
        };
        let dir = corpus.join("partition_table");
        std::fs::create_dir_all(&dir)?;
        let head: Vec<u8> = std::fs::read(&disk)?.into_iter().take(64 * 1024).collect();
        std::fs::write(dir.join(format!("factory-{table}")), head)?;
        count += 1;
    }
    println!("{count} seeds in {}", corpus.display());
    Ok(())
}
