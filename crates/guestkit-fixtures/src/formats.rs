//! Every container format and variant `qemu-img` can write, from one source
//! disk, each with its `qemu-img convert -O raw` export as the reference the
//! readers are checked against byte for byte.

use std::fs;
use std::path::{Path, PathBuf};

use crate::disks::gpt_disk;
use crate::tools::{arg, run};
use crate::{cached, FixtureError, Result};

/// One image to read and the bytes qemu-img says it holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FormatVariant {
    /// Unique name, e.g. `qcow2-zstd`.
    pub name: String,
    /// Format guestkit must detect: raw, qcow2, vmdk, vdi, vhdx or vhd.
    pub format: String,
    /// The file to open (for multi-file vmdk: the descriptor).
    pub path: PathBuf,
    /// `qemu-img convert -O raw` of this very image.
    pub reference: PathBuf,
}

/// (name, guestkit format, qemu format, `qemu-img convert` options, file name).
const CONVERSIONS: &[(&str, &str, &str, &[&str], &str)] = &[
    ("raw", "raw", "raw", &[], "disk.raw"),
    ("qcow2-v3", "qcow2", "qcow2", &[], "v3.qcow2"),
    (
        "qcow2-v2",
        "qcow2",
        "qcow2",
        &["-o", "compat=0.10"],
        "v2.qcow2",
    ),
    ("qcow2-zlib", "qcow2", "qcow2", &["-c"], "zlib.qcow2"),
    (
        "qcow2-zstd",
        "qcow2",
        "qcow2",
        &["-c", "-o", "compression_type=zstd"],
        "zstd.qcow2",
    ),
    (
        "qcow2-extended-l2",
        "qcow2",
        "qcow2",
        &["-o", "extended_l2=on"],
        "extl2.qcow2",
    ),
    (
        "qcow2-cluster-4k",
        "qcow2",
        "qcow2",
        &["-o", "cluster_size=4096"],
        "c4k.qcow2",
    ),
    (
        "qcow2-cluster-2m",
        "qcow2",
        "qcow2",
        &["-o", "cluster_size=2M"],
        "c2m.qcow2",
    ),
    (
        "vmdk-monolithic-sparse",
        "vmdk",
        "vmdk",
        &["-o", "subformat=monolithicSparse"],
        "sparse.vmdk",
    ),
    (
        "vmdk-stream-optimized",
        "vmdk",
        "vmdk",
        &["-o", "subformat=streamOptimized"],
        "stream.vmdk",
    ),
    (
        "vmdk-monolithic-flat",
        "vmdk",
        "vmdk",
        &["-o", "subformat=monolithicFlat"],
        "flat.vmdk",
    ),
    (
        "vmdk-2gb-sparse",
        "vmdk",
        "vmdk",
        &["-o", "subformat=twoGbMaxExtentSparse"],
        "twogb.vmdk",
    ),
    ("vdi-dynamic", "vdi", "vdi", &[], "dynamic.vdi"),
    (
        "vdi-static",
        "vdi",
        "vdi",
        &["-o", "static=on"],
        "static.vdi",
    ),
    ("vhdx-dynamic", "vhdx", "vhdx", &[], "dynamic.vhdx"),
    (
        "vhdx-fixed",
        "vhdx",
        "vhdx",
        &["-o", "subformat=fixed"],
        "fixed.vhdx",
    ),
    ("vhd-dynamic", "vhd", "vpc", &[], "dynamic.vhd"),
    (
        "vhd-fixed",
        "vhd",
        "vpc",
        &["-o", "subformat=fixed"],
        "fixed.vhd",
    ),
];

/// qemu-io writes applied to the backing-chain and overlay variants.
const MID_WRITES: &[&str] = &[
    "write -P 0x5a 1M 64k",
    "write -P 0x11 20M 300k",
    "write -z 44M 1M",
];
const TOP_WRITES: &[&str] = &[
    "write -P 0xc3 1056k 4k",
    "write -P 0x77 63M 512k",
    "write -z 20M 8k",
];
const OVERLAY_WRITES: &[&str] = &[
    "write -P 0xee 5M 64k",
    "write -P 0x42 33M 1k",
    "write -z 22M 2M",
];

fn qemu_io(image: &Path, writes: &[&str]) -> Result<()> {
    let mut args = vec!["-f", "qcow2"];
    for w in writes {
        args.extend(["-c", w]);
    }
    args.push(arg(image)?);
    run("qemu-io", &args).map(|_| ())
}

fn export(image: &Path, qemu_format: &str, reference: &Path) -> Result<()> {
    run(
        "qemu-img",
        &[
            "convert",
            "-f",
            qemu_format,
            "-O",
            "raw",
            arg(image)?,
            arg(reference)?,
        ],
    )
    .map(|_| ())
}

/// Converts `source` into every variant, in `dir`, each with its qemu-img
/// raw export beside it; returns the variants. Used for the cached test set
/// and for small fuzzing seeds alike.
pub fn write_variants(source: &Path, dir: &Path) -> Result<Vec<FormatVariant>> {
    let mut variants = Vec::new();
    for (name, format, qfmt, opts, file) in CONVERSIONS {
        let out = dir.join(file);
        let mut args = vec!["convert", "-O", qfmt];
        args.extend_from_slice(opts);
        args.extend([arg(source)?, arg(&out)?]);
        run("qemu-img", &args)?;
        let reference = dir.join(format!("{name}.ref.raw"));
        export(&out, qfmt, &reference)?;
        variants.push(FormatVariant {
            name: name.to_string(),
            format: format.to_string(),
            path: out,
            reference,
        });
    }
    // Two-level backing chain with relative paths: base <- mid <- top.
    let chain = dir.join("chain");
    fs::create_dir_all(&chain).map_err(|e| FixtureError::io(&chain, e))?;
    run(
        "qemu-img",
        &[
            "convert",
            "-O",
            "qcow2",
            arg(source)?,
            arg(&chain.join("base.qcow2"))?,
        ],
    )?;
    for (image, backing, writes) in [
        ("mid.qcow2", "base.qcow2", MID_WRITES),
        ("top.qcow2", "mid.qcow2", TOP_WRITES),
    ] {
        let path = chain.join(image);
        run(
            "qemu-img",
            &[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                backing,
                "-F",
                "qcow2",
                arg(&path)?,
            ],
        )?;
        qemu_io(&path, writes)?;
    }
    // An overlay that stores only a few clusters.
    let overlay = chain.join("overlay.qcow2");
    run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "base.qcow2",
            "-F",
            "qcow2",
            arg(&overlay)?,
        ],
    )?;
    qemu_io(&overlay, OVERLAY_WRITES)?;
    for (name, path) in [
        ("qcow2-backing-chain", chain.join("top.qcow2")),
        ("qcow2-sparse-overlay", overlay),
    ] {
        let reference = dir.join(format!("{name}.ref.raw"));
        export(&path, "qcow2", &reference)?;
        variants.push(FormatVariant {
            name: name.to_string(),
            format: "qcow2".to_string(),
            path,
            reference,
        });
    }
    Ok(variants)
}

/// Builds (or finds cached) every variant of the GPT disk.
pub fn format_variants() -> Result<Vec<FormatVariant>> {
    let source = gpt_disk()?;
    let recipe = format!(
        "{}\n{}",
        include_str!("formats.rs"),
        include_str!("disks.rs")
    );
    let dir = cached("formats", &recipe, |dir| {
        let variants: Vec<FormatVariant> = write_variants(&source, dir)?
            .into_iter()
            .map(|v| FormatVariant {
                path: v.path.strip_prefix(dir).unwrap_or(&v.path).to_path_buf(),
                reference: v
                    .reference
                    .strip_prefix(dir)
                    .unwrap_or(&v.reference)
                    .to_path_buf(),
                ..v
            })
            .collect();
        let listing = dir.join(LISTING);
        let text = serde_json::to_string_pretty(&variants).map_err(|e| FixtureError::Recipe {
            recipe: "formats".into(),
            message: e.to_string(),
        })?;
        fs::write(&listing, text).map_err(|e| FixtureError::io(&listing, e))
    })?;
    // The listing holds paths relative to the fixture directory.
    let listing = dir.join(LISTING);
    let text = fs::read_to_string(&listing).map_err(|e| FixtureError::io(&listing, e))?;
    let variants: Vec<FormatVariant> =
        serde_json::from_str(&text).map_err(|e| FixtureError::Recipe {
            recipe: "formats".into(),
            message: format!("{}: {e}", listing.display()),
        })?;
    Ok(variants
        .into_iter()
        .map(|v| FormatVariant {
            path: dir.join(&v.path),
            reference: dir.join(&v.reference),
            ..v
        })
        .collect())
}

const LISTING: &str = "variants.json";

/// Password of [`encrypted_qcow2`].
pub const ENCRYPTION_SECRET: &str = "guestkit";

/// A LUKS-encrypted qcow2 (cannot be exported without the key, so it is not
/// a variant; readers must report it as encrypted).
pub fn encrypted_qcow2() -> Result<PathBuf> {
    let dir = cached("qcow2-encrypted", include_str!("formats.rs"), |dir| {
        let secret = format!("secret,id=sec0,data={ENCRYPTION_SECRET}");
        run(
            "qemu-img",
            &[
                "create",
                "-q",
                "--object",
                &secret,
                "-f",
                "qcow2",
                "-o",
                "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10",
                arg(&dir.join("encrypted.qcow2"))?,
                "16M",
            ],
        )
        .map(|_| ())
    })?;
    Ok(dir.join("encrypted.qcow2"))
}

/// A qcow2 of the GPT disk with two internal snapshots, `clean` and
/// `after-write`, taken around a qemu-io write.
pub fn snapshot_qcow2() -> Result<PathBuf> {
    let source = gpt_disk()?;
    let dir = cached("qcow2-snapshots", include_str!("formats.rs"), |dir| {
        let path = dir.join("snapshots.qcow2");
        run(
            "qemu-img",
            &["convert", "-O", "qcow2", arg(&source)?, arg(&path)?],
        )?;
        run("qemu-img", &["snapshot", "-c", "clean", arg(&path)?])?;
        qemu_io(&path, &["write -P 0x99 2M 128k"])?;
        run("qemu-img", &["snapshot", "-c", "after-write", arg(&path)?]).map(|_| ())
    })?;
    Ok(dir.join("snapshots.qcow2"))
}
