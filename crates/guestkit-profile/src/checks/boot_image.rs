//! What the guest's boot kernel can drive at the moment it mounts the
//! root filesystem: drivers built into the kernel (modules.builtin, the
//! kernel config) or packed into its initramfs. Read once per guest for
//! the migration checks.

use guestkit_inspect::initramfs::{self, Initramfs, Limits};
use guestkit_inspect::kernels::Kernel;

use super::{Ctx, SECTION};
use crate::model::{Evidence, Outcome};

/// Most bytes of modules.dep / modules.builtin / the kernel config read.
const MAX_MODULE_LIST: u64 = 8 << 20;

/// A kernel driver, by module name and configuration symbol.
#[derive(Debug, Clone, Copy)]
pub struct Driver {
    /// Module name (`virtio_blk`).
    pub module: &'static str,
    /// Kconfig symbol (`CONFIG_VIRTIO_BLK`).
    pub config: &'static str,
}

/// How the boot kernel gets a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provision {
    /// Built into the kernel image.
    BuiltIn(Evidence),
    /// A module inside the initramfs.
    InInitramfs(Evidence),
    /// A module on the root filesystem only: usable after root is
    /// mounted, not to mount it.
    ModuleOnly(Evidence),
    /// Nowhere.
    Missing,
}

impl Provision {
    /// Whether the driver is there before the root filesystem is mounted.
    pub fn at_boot(&self) -> bool {
        matches!(self, Provision::BuiltIn(_) | Provision::InInitramfs(_))
    }

    /// Whether the driver is there at all.
    pub fn anywhere(&self) -> bool {
        !matches!(self, Provision::Missing)
    }

    /// Its evidence, if any.
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            Provision::BuiltIn(e) | Provision::InInitramfs(e) | Provision::ModuleOnly(e) => Some(e),
            Provision::Missing => None,
        }
    }
}

/// The boot kernel's driver sources.
#[derive(Debug)]
pub struct BootImage {
    pub kernel: Kernel,
    /// (path, text) of modules.builtin, modules.dep and the config.
    builtin: Option<(String, String)>,
    dep: Option<(String, String)>,
    config: Option<(String, String)>,
    /// The initramfs listing, or why it could not be read.
    pub initramfs: Option<(String, Result<Initramfs, String>)>,
}

/// Whether modules.dep / modules.builtin text names `module`
/// (`…/virtio_blk.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`; `-` and `_` alike),
/// with the line number.
pub fn listed_at(list: &str, module: &str) -> Option<usize> {
    let want = module.replace('-', "_");
    list.lines()
        .position(|l| {
            initramfs::module_of(l.split(':').next().unwrap_or("")).is_some_and(|m| m == want)
        })
        .map(|i| i + 1)
}

impl BootImage {
    /// The boot kernel of `ctx`'s guest: the default boot entry's kernel
    /// when it is installed, else the newest. `needs` are the groups of
    /// drivers the checks will ask about (any one driver of a group
    /// serves): the initramfs is read only until each group not built in
    /// has a member there, since decompressing all of a large initramfs
    /// costs far more than the answer needs.
    pub fn read(ctx: &Ctx<'_>, needs: &[&[Driver]]) -> Result<BootImage, Outcome> {
        let files = ctx.files()?;
        let Some(kernels) = &ctx.os.kernels else {
            return Err(Outcome::na("the report has no kernels section"));
        };
        let default_version = kernels
            .default_entry
            .as_ref()
            .and_then(|d| kernels.boot_entries.get(d.index))
            .and_then(|e| e.version.clone());
        let kernel = default_version
            .and_then(|v| kernels.kernels.iter().find(|k| k.version == v))
            .or_else(|| kernels.kernels.first())
            .cloned()
            .ok_or_else(|| Outcome::na("no installed kernel found"))?;
        let read = |path: Option<String>| {
            let path = path?;
            let bytes = files.read_prefix(SECTION, &path, MAX_MODULE_LIST)?;
            Some((path, String::from_utf8_lossy(&bytes).into_owned()))
        };
        let dir = kernel.modules_dir.clone();
        let builtin = read(dir.as_ref().map(|d| format!("{d}/modules.builtin")));
        let dep = read(dir.as_ref().map(|d| format!("{d}/modules.dep")));
        let config = read(kernel.config.clone());
        let mut image = BootImage {
            kernel,
            builtin,
            dep,
            config,
            initramfs: None,
        };
        // Groups the initramfs must answer: those with no built-in member.
        let mut pending: Vec<Vec<String>> = needs
            .iter()
            .filter(|group| !group.iter().any(|d| image.built_in(d).is_some()))
            .map(|group| group.iter().map(|d| d.module.replace('-', "_")).collect())
            .collect();
        image.initramfs = image.kernel.initrd.clone().map(|path| {
            let mut enough = |e: &initramfs::Entry| {
                if let Some(m) = e.module_name() {
                    pending.retain(|group| !group.contains(&m));
                }
                pending.is_empty()
            };
            let listing = files
                .tree()
                .open_file(path.as_bytes())
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    initramfs::list_until(f, &Limits::default(), &mut enough)
                        .map_err(|e| e.to_string())
                });
            (path, listing)
        });
        Ok(image)
    }

    /// Evidence that `driver` is built into the kernel, if it is.
    fn built_in(&self, driver: &Driver) -> Option<Evidence> {
        if let Some((path, text)) = &self.builtin {
            if let Some(line) = listed_at(text, driver.module) {
                return Some(Evidence::file(
                    path.clone(),
                    Some(line),
                    format!("{} built in", driver.module),
                ));
            }
        }
        let (path, text) = self.config.as_ref()?;
        let set = format!("{}=y", driver.config);
        let i = text.lines().position(|l| l.trim() == set)?;
        Some(Evidence::file(path.clone(), Some(i + 1), set))
    }

    /// How the kernel gets `driver`.
    pub fn provision(&self, driver: &Driver) -> Provision {
        if let Some(e) = self.built_in(driver) {
            return Provision::BuiltIn(e);
        }
        if let Some((path, Ok(listing))) = &self.initramfs {
            if listing.has_module(driver.module) {
                return Provision::InInitramfs(Evidence::field(
                    path.clone(),
                    format!("{} in the initramfs", driver.module),
                ));
            }
        }
        if let Some((path, text)) = &self.dep {
            if let Some(line) = listed_at(text, driver.module) {
                return Provision::ModuleOnly(Evidence::file(
                    path.clone(),
                    Some(line),
                    format!("{} module", driver.module),
                ));
            }
        }
        if let Some((path, text)) = &self.config {
            let set = format!("{}=m", driver.config);
            if let Some(i) = text.lines().position(|l| l.trim() == set) {
                return Provision::ModuleOnly(Evidence::file(path.clone(), Some(i + 1), set));
            }
        }
        Provision::Missing
    }

    /// Whether anything at all says which drivers the kernel has.
    pub fn knows_drivers(&self) -> bool {
        self.builtin.is_some() || self.dep.is_some() || self.config.is_some()
    }

    /// The sources read, for evidence when nothing matched.
    pub fn sources(&self) -> String {
        let mut s: Vec<String> = [&self.builtin, &self.dep, &self.config]
            .into_iter()
            .flatten()
            .map(|(p, _)| p.clone())
            .collect();
        if let Some((p, _)) = &self.initramfs {
            s.push(p.clone());
        }
        s.join(", ")
    }
}
