//! `guestctl disk …`: image formats, backing chains, snapshots, volume layout
//! and raw export.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use guestkit_disk::volume::scan::{scan, VolumeTree};
use guestkit_disk::{open_image, DeviceRef, ImageInfo, ImageRoots, OpenOptions, OpenedImage};

use crate::{human, volumes, ImageArgs};

#[derive(Debug, Subcommand)]
pub enum DiskCommand {
    /// Format, sizes, backing chain, snapshots and volume tree of a VM's disks
    /// (several IMAGEs are the disks of one VM, in order).
    Info {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        image: ImageArgs,
    },
    /// Stream the virtual disk's raw bytes to stdout.
    Cat {
        image: PathBuf,
        /// First byte to write.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Bytes to write (default: to the end of the disk).
        #[arg(long)]
        length: Option<u64>,
        #[command(flatten)]
        image_args: ImageArgs,
    },
}

pub fn run(cmd: DiskCommand) -> Result<()> {
    match cmd {
        DiskCommand::Info {
            images,
            json,
            image,
        } => info(&images, json, &image),
        DiskCommand::Cat {
            image,
            offset,
            length,
            image_args,
        } => cat(&image, offset, length, &image_args),
    }
}

/// Builds the open options from the command line.
pub fn open_options(args: &ImageArgs) -> Result<OpenOptions> {
    let stated_format = match &args.stated_format {
        Some(f) => Some(f.parse()?),
        None => None,
    };
    for root in &args.image_roots {
        if !root.is_dir() {
            bail!("--image-root {}: not a directory", root.display());
        }
    }
    Ok(OpenOptions {
        stated_format,
        roots: ImageRoots::new(&args.image_roots),
        ..OpenOptions::default()
    })
}

/// Opens every image of a VM, in order.
pub fn open_all(images: &[PathBuf], args: &ImageArgs) -> Result<Vec<OpenedImage>> {
    let options = open_options(args)?;
    images
        .iter()
        .map(|p| open_image(p, &options).with_context(|| format!("opening {}", p.display())))
        .collect()
}

#[derive(serde::Serialize)]
struct InfoReport<'a> {
    disks: Vec<&'a ImageInfo>,
    volumes: &'a VolumeTree,
}

fn info(images: &[PathBuf], json: bool, args: &ImageArgs) -> Result<()> {
    let opened = open_all(images, args)?;
    let devices: Vec<DeviceRef> = opened.iter().map(|o| o.device.clone()).collect();
    let tree = scan(&devices, &open_options(args)?.limits);
    let report = InfoReport {
        disks: opened.iter().map(|o| &o.info).collect(),
        volumes: &tree,
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    for (i, image) in opened.iter().enumerate() {
        write_image(&mut out, &format!("disk{i}"), &image.info)?;
    }
    volumes::write_tree(&mut out, &tree)?;
    Ok(())
}

fn write_image(out: &mut impl Write, id: &str, info: &ImageInfo) -> Result<()> {
    writeln!(out, "{id}: {}", info.path.display())?;
    writeln!(out, "  format:         {}", info.format)?;
    writeln!(
        out,
        "  virtual size:   {} ({} bytes)",
        human::size(info.virtual_size),
        info.virtual_size
    )?;
    writeln!(
        out,
        "  file size:      {} (allocated {})",
        human::size(info.file_size),
        human::size(info.allocated_bytes)
    )?;
    if let Some(method) = &info.encrypted {
        writeln!(out, "  encrypted:      {method}")?;
    }
    if !info.details.is_empty() {
        let width = info.details.keys().map(String::len).max().unwrap_or(0) + 1;
        writeln!(out, "  details:")?;
        for (key, value) in &info.details {
            writeln!(out, "    {:<width$} {value}", format!("{key}:"))?;
        }
    }
    for extent in &info.extents {
        writeln!(out, "  extent:         {}", extent.display())?;
    }
    if !info.snapshots.is_empty() {
        writeln!(out, "  snapshots:")?;
        for s in &info.snapshots {
            writeln!(
                out,
                "    {:<4} {:<20} {}  vm state {}  vm clock {:.3} s",
                s.id,
                s.name,
                human::utc(i64::try_from(s.date_sec).unwrap_or(i64::MAX)),
                human::size(s.vm_state_size),
                s.vm_clock_nsec as f64 / 1e9
            )?;
        }
    }
    let chain = info.chain();
    if chain.len() > 1 {
        writeln!(out, "  backing chain:")?;
        for (depth, link) in chain.iter().enumerate().skip(1) {
            writeln!(
                out,
                "    {}└ {} ({}, {})",
                "  ".repeat(depth - 1),
                link.path.display(),
                link.format,
                human::size(link.virtual_size)
            )?;
        }
    }
    Ok(())
}

fn cat(path: &PathBuf, offset: u64, length: Option<u64>, args: &ImageArgs) -> Result<()> {
    let image = open_all(std::slice::from_ref(path), args)?
        .pop()
        .context("no image opened")?;
    let dev = image.device;
    let size = dev.size();
    if offset > size {
        bail!("--offset {offset} is past the end of the disk ({size} bytes)");
    }
    let end = match length {
        Some(len) => offset
            .checked_add(len)
            .filter(|&e| e <= size)
            .with_context(|| format!("--offset {offset} --length {len} reaches past the end of the disk ({size} bytes)"))?,
        None => size,
    };
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 4 << 20];
    let mut at = offset;
    while at < end {
        let n = usize::try_from(end - at)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let chunk = &mut buf[..n];
        dev.read_at(chunk, at)
            .with_context(|| format!("reading {} at offset {at}", path.display()))?;
        out.write_all(chunk)?;
        at += n as u64;
    }
    out.flush()?;
    Ok(())
}
