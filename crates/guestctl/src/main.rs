//! `guestctl`: look inside virtual-machine disk images without booting them.

mod disk;
mod guest_cmds;
mod human;
mod inspect_cmd;
mod jobs_cmd;
mod profile_cmd;
mod volumes;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Look inside virtual-machine disk images without booting them.
#[derive(Debug, Parser)]
#[command(name = "guestctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The virtual disks of a VM: image formats and volume layout.
    #[command(subcommand)]
    Disk(disk::DiskCommand),
    /// Filesystems of a VM: type, UUID, label, size and guest mountpoint.
    Filesystems {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        image: ImageArgs,
    },
    /// List a guest directory (IMAGE... PATH).
    Ls {
        /// Long listing: mode, links, owner, size, mtime.
        #[arg(short = 'l')]
        long: bool,
        /// Recurse into subdirectories.
        #[arg(short = 'R')]
        recursive: bool,
        #[command(flatten)]
        target: guest_cmds::GuestPathArgs,
    },
    /// Print a guest file (IMAGE... PATH).
    Cat {
        #[command(flatten)]
        target: guest_cmds::GuestPathArgs,
    },
    /// Metadata of a guest path (IMAGE... PATH).
    Stat {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: guest_cmds::GuestPathArgs,
    },
    /// A tar stream of a guest subtree on stdout (IMAGE... PATH).
    TarOut {
        #[command(flatten)]
        target: guest_cmds::GuestPathArgs,
    },
    /// What is inside the VM: operating system, packages …
    Inspect(inspect_cmd::InspectArgs),
    /// Security, compliance, hardening, migration and performance findings
    /// (exit status 1 when a check fails at or above the threshold, 2 on
    /// error).
    Profile(profile_cmd::ProfileArgs),
    /// Submit job documents to a worker's REST API (`--wait`: until they
    /// end; exit status 1 unless all completed, 2 on error).
    Submit(jobs_cmd::SubmitArgs),
    /// Jobs on a worker's REST API: list, get, result, cancel, watch.
    #[command(subcommand)]
    Jobs(jobs_cmd::JobsCommand),
}

/// Options shared by every command that opens images.
#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    /// The format the images are expected to have (raw, qcow2, vmdk, vdi,
    /// vhdx, vhd); detection by content still runs and a mismatch is an error.
    #[arg(long = "image-format", value_name = "FORMAT")]
    pub stated_format: Option<String>,
    /// A directory backing files and extents may be read from (repeatable).
    /// By default only the directory of each image.
    #[arg(long = "image-root", value_name = "DIR")]
    pub image_roots: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Disk(cmd) => disk::run(cmd),
        Command::Filesystems {
            images,
            json,
            image,
        } => guest_cmds::filesystems(&images, json, &image),
        Command::Ls {
            long,
            recursive,
            target,
        } => guest_cmds::ls(&target, long, recursive),
        Command::Cat { target } => guest_cmds::cat(&target),
        Command::Stat { json, target } => guest_cmds::stat(&target, json),
        Command::TarOut { target } => guest_cmds::tar_out(&target),
        Command::Inspect(args) => inspect_cmd::run(&args),
        Command::Jobs(cmd) => jobs_cmd::jobs(&cmd),
        Command::Submit(args) => {
            return match jobs_cmd::submit(&args) {
                Ok(code) => code,
                Err(err) => {
                    eprintln!("guestctl: {err:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Profile(args) => {
            return match profile_cmd::run(&args) {
                Ok(code) => code,
                Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("guestctl: {err:#}");
                    ExitCode::from(2)
                }
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("guestctl: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
