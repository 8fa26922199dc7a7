//! Opening a job's image as a guest, shared by the image handlers.

use guestkit_disk::{open_image_counted, DeviceRef, ImageFormat, ImageRoots, Limits, OpenOptions};
use guestkit_fs::guest::{open_guest, Guest};
use guestkit_fs::FsLimits;
use guestkit_job_spec::{ErrorCode, ImageSpec, JobError};

use super::{Failure, JobContext, PHASE_EXECUTE};

fn disk_format(spec: &ImageSpec) -> Option<ImageFormat> {
    use guestkit_job_spec::ImageFormat as F;
    spec.format.map(|f| match f {
        F::Raw => ImageFormat::Raw,
        F::Qcow2 => ImageFormat::Qcow2,
        F::Vmdk => ImageFormat::Vmdk,
        F::Vdi => ImageFormat::Vdi,
        F::Vhdx => ImageFormat::Vhdx,
        F::Vhd => ImageFormat::Vhd,
    })
}

/// Opens the job's image (its stated format checked against the
/// content, backing files confined to the image roots, the virtual size
/// checked against `maximum_disk_size_gb`) and assembles the guest.
pub fn open(ctx: &JobContext, spec: &ImageSpec) -> Result<Guest, Failure> {
    let path = ctx
        .image
        .as_ref()
        .ok_or_else(|| Failure::handler("the job's image was not resolved"))?;
    ctx.check_cancelled("opening the image")?;
    ctx.report("open", 45, &format!("opening {}", path.display()));
    let options = OpenOptions {
        limits: Limits::default(),
        roots: ImageRoots::new(&ctx.image_roots),
        stated_format: disk_format(spec),
    };
    let opened = open_image_counted(path, &options, ctx.io.clone()).map_err(|e| {
        Failure::new(JobError::new(
            ErrorCode::HandlerFailed,
            format!("{}: {e}", path.display()),
            PHASE_EXECUTE,
        ))
    })?;
    if let Some(max) = ctx.max_disk_bytes {
        if opened.info.virtual_size > max {
            return Err(Failure::new(JobError::new(
                ErrorCode::ValidationFailed,
                format!(
                    "{}: virtual size {} bytes exceeds constraints.maximum_disk_size_gb ({max} bytes)",
                    path.display(),
                    opened.info.virtual_size
                ),
                PHASE_EXECUTE,
            )));
        }
    }
    let devices: Vec<DeviceRef> = vec![opened.device];
    Ok(open_guest(
        &devices,
        &Limits::default(),
        &FsLimits::default(),
    ))
}
