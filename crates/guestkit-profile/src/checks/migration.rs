//! Migration readiness: will the guest boot and reach the network on
//! another hypervisor (KVM/virtio) or cloud.

use guestkit_fs::fstab::DeviceSpec;

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx};
use crate::model::{Evidence, Outcome, Severity};

use super::boot_image::{Driver, Provision};

const VIRTIO_BLK: Driver = Driver {
    module: "virtio_blk",
    config: "CONFIG_VIRTIO_BLK",
};
const VIRTIO_SCSI: Driver = Driver {
    module: "virtio_scsi",
    config: "CONFIG_SCSI_VIRTIO",
};
const VIRTIO_NET: Driver = Driver {
    module: "virtio_net",
    config: "CONFIG_VIRTIO_NET",
};
const VIRTIO_PCI: Driver = Driver {
    module: "virtio_pci",
    config: "CONFIG_VIRTIO_PCI",
};
const DM_MOD: Driver = Driver {
    module: "dm_mod",
    config: "CONFIG_BLK_DEV_DM",
};
const MD_MOD: Driver = Driver {
    module: "md_mod",
    config: "CONFIG_BLK_DEV_MD",
};

/// A virtio disk: either controller driver serves.
const VIRTIO_DISK: &[Driver] = &[VIRTIO_BLK, VIRTIO_SCSI];
/// The virtio PCI transport.
const VIRTIO_TRANSPORT: &[Driver] = &[VIRTIO_PCI];

/// The root filesystem entry of the guest's fstab, with the driver groups
/// mounting it needs (its filesystem; device-mapper or md under it).
fn root_needs<'c>(
    ctx: &'c Ctx<'_>,
) -> Option<(&'c guestkit_fs::fstab::FstabEntry, Vec<&'static [Driver]>)> {
    let fstab = ctx.fstab().ok()??;
    let root = fstab.iter().find(|e| e.mountpoint == "/")?;
    let mut groups: Vec<&'static [Driver]> = vec![fs_drivers(&root.fs_type)?];
    match root.device {
        DeviceSpec::LogicalVolume { .. } => groups.push(&[DM_MOD]),
        DeviceSpec::Md(_) => groups.push(&[MD_MOD]),
        _ => {}
    }
    Some((root, groups))
}

/// Every driver group the migration checks ask the boot image about.
pub fn boot_needs(ctx: &Ctx<'_>) -> Vec<&'static [Driver]> {
    let mut needs = vec![VIRTIO_DISK, VIRTIO_TRANSPORT];
    if let Some((_, groups)) = root_needs(ctx) {
        needs.extend(groups);
    }
    needs
}

/// The driver of a root filesystem type (ext2/ext3 are served by ext4
/// on current kernels, by their own module on old ones).
fn fs_drivers(fs_type: &str) -> Option<&'static [Driver]> {
    const EXT4: Driver = Driver {
        module: "ext4",
        config: "CONFIG_EXT4_FS",
    };
    Some(match fs_type {
        "ext4" => &[EXT4],
        "ext3" => &[
            EXT4,
            Driver {
                module: "ext3",
                config: "CONFIG_EXT3_FS",
            },
        ],
        "ext2" => &[
            EXT4,
            Driver {
                module: "ext2",
                config: "CONFIG_EXT2_FS",
            },
        ],
        "xfs" => &[Driver {
            module: "xfs",
            config: "CONFIG_XFS_FS",
        }],
        "btrfs" => &[Driver {
            module: "btrfs",
            config: "CONFIG_BTRFS_FS",
        }],
        _ => return None,
    })
}

/// The kernel has virtio disk and network drivers at all (built in or as
/// modules).
fn virtio_drivers(ctx: &Ctx<'_>) -> Outcome {
    let boot = tri!(ctx.boot_image());
    if !boot.knows_drivers() {
        return Outcome::error(format!(
            "kernel {}: modules.builtin, modules.dep and config unreadable or absent",
            boot.kernel.version
        ));
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for d in [VIRTIO_BLK, VIRTIO_NET] {
        match boot.provision(&d) {
            Provision::Missing => missing.push(d.module),
            p => found.extend(p.evidence().cloned()),
        }
    }
    if missing.is_empty() {
        Outcome::pass(found)
    } else {
        Outcome::fail(vec![Evidence::field(
            boot.sources(),
            format!(
                "kernel {}: missing {}",
                boot.kernel.version,
                missing.join(", ")
            ),
        )])
    }
}

/// Which of `groups` (each satisfied by any one of its drivers) the boot
/// kernel lacks before the root filesystem is mounted; evidence for the
/// others.
fn at_boot(
    boot: &super::boot_image::BootImage,
    groups: &[&[Driver]],
) -> (Vec<Evidence>, Vec<String>) {
    let mut have = Vec::new();
    let mut lack = Vec::new();
    for group in groups {
        let provided: Vec<Provision> = group.iter().map(|d| boot.provision(d)).collect();
        match provided.iter().find(|p| p.at_boot()) {
            Some(p) => have.extend(p.evidence().cloned()),
            None => {
                let names: Vec<&str> = group.iter().map(|d| d.module).collect();
                let only_module = provided
                    .iter()
                    .any(|p| matches!(p, Provision::ModuleOnly(_)));
                lack.push(format!(
                    "{}{}",
                    names.join(" or "),
                    if only_module {
                        " (a module, not in the initramfs)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    (have, lack)
}

/// The outcome of a boot-time driver requirement.
fn boot_requirement(
    boot: &super::boot_image::BootImage,
    groups: &[&[Driver]],
    what: &str,
) -> Outcome {
    let (have, lack) = at_boot(boot, groups);
    if lack.is_empty() {
        return Outcome::pass(have);
    }
    let version = &boot.kernel.version;
    match &boot.initramfs {
        Some((path, Err(e))) => Outcome::error(format!("{path}: {e}")),
        Some((path, Ok(listing))) => Outcome::fail(vec![Evidence::field(
            path.clone(),
            format!(
                "kernel {version} cannot {what}: {} missing ({} entries in the initramfs)",
                lack.join(", "),
                listing.entries.len()
            ),
        )]),
        None if boot.knows_drivers() => Outcome::fail(vec![Evidence::field(
            boot.sources(),
            format!(
                "kernel {version} has no initramfs and {} not built in",
                lack.join(", ")
            ),
        )]),
        None => Outcome::error(format!(
            "kernel {version}: no initramfs and no module lists or config to read"
        )),
    }
}

/// The boot kernel can reach a virtio disk: virtio_pci and virtio_blk or
/// virtio_scsi, built in or inside the initramfs.
fn initramfs_virtio(ctx: &Ctx<'_>) -> Outcome {
    let boot = tri!(ctx.boot_image());
    boot_requirement(
        boot,
        &[VIRTIO_DISK, VIRTIO_TRANSPORT],
        "reach a virtio disk",
    )
}

/// The boot kernel can mount the root filesystem: its filesystem driver,
/// and device-mapper or md when root is on LVM or RAID, built in or in
/// the initramfs.
fn root_fs_support(ctx: &Ctx<'_>) -> Outcome {
    let fstab = tri!(ctx.fstab());
    let Some(root) = fstab.and_then(|f| f.iter().find(|e| e.mountpoint == "/")) else {
        return Outcome::na("no root entry in /etc/fstab");
    };
    let Some((_, groups)) = root_needs(ctx) else {
        return Outcome::na(format!(
            "root filesystem type {:?} is not one this check knows",
            root.fs_type
        ));
    };
    let boot = tri!(ctx.boot_image());
    boot_requirement(
        boot,
        &groups,
        &format!("mount its {} root ({})", root.fs_type, root.spec),
    )
    .with_note(format!("/etc/fstab line {}: {} on /", root.line, root.spec))
}

fn fstab_device_names(ctx: &Ctx<'_>) -> Outcome {
    let fstab = tri!(ctx.fstab());
    let Some(fstab) = fstab else {
        return Outcome::na("no /etc/fstab");
    };
    let bad = fstab
        .iter()
        .filter(|e| matches!(e.device, DeviceSpec::DiskPartition { .. }))
        .map(|e| {
            Evidence::file(
                "/etc/fstab",
                Some(e.line),
                format!("{} {}", e.spec, e.mountpoint),
            )
        })
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::file(
            "/etc/fstab",
            None,
            format!("{} entries, none by kernel device name", fstab.len()),
        ),
    )
}

fn network_mac(ctx: &Ctx<'_>) -> Outcome {
    let Some(net) = &ctx.os.network else {
        return Outcome::na("the report has no network section");
    };
    let mut bad: Vec<Evidence> = net
        .interfaces
        .iter()
        .filter_map(|i| {
            let mac = i.mac_address.as_ref()?;
            Some(Evidence::file(
                i.source.path.clone(),
                i.source.line,
                format!(
                    "{} tied to {mac}",
                    i.name.as_deref().or(i.id.as_deref()).unwrap_or("interface")
                ),
            ))
        })
        .collect();
    let rules = "/etc/udev/rules.d/70-persistent-net.rules";
    if let Ok(Some(text)) = ctx.text(rules) {
        for (i, l) in text.lines().enumerate() {
            if !l.trim_start().starts_with('#') && l.contains("ATTR{address}") {
                bad.push(Evidence::file(rules, Some(i + 1), l.trim()));
            }
        }
    }
    Outcome::fail_if_any(
        bad,
        Evidence::field(
            "network.interfaces",
            format!(
                "{} definitions, none tied to a MAC address",
                net.interfaces.len()
            ),
        ),
    )
}

const VENDOR_TOOLS: &[&str] = &[
    "open-vm-tools",
    "hyperv-daemons",
    "virtualbox-guest-additions",
    "xe-guest-utilities",
];

fn hypervisor_tools(ctx: &Ctx<'_>) -> Outcome {
    let Some(sys) = &ctx.os.system else {
        return Outcome::na("the report has no system section");
    };
    let bad = sys
        .guest_agents
        .iter()
        .filter(|a| VENDOR_TOOLS.contains(&a.name.as_str()))
        .map(|a| Evidence::file(a.evidence.clone(), None, a.name.clone()))
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::field("system.guest_agents", "no hypervisor-specific tools"),
    )
}

fn qemu_guest_agent(ctx: &Ctx<'_>) -> Outcome {
    let Some(sys) = &ctx.os.system else {
        return Outcome::na("the report has no system section");
    };
    match sys
        .guest_agents
        .iter()
        .find(|a| a.name == "qemu-guest-agent")
    {
        Some(a) => Outcome::pass(vec![Evidence::file(
            a.evidence.clone(),
            None,
            "qemu-guest-agent",
        )]),
        None => Outcome::fail(vec![Evidence::field("system.guest_agents", "no qemu-ga")]),
    }
}

fn cloud_init(ctx: &Ctx<'_>) -> Outcome {
    let Some(sys) = &ctx.os.system else {
        return Outcome::na("the report has no system section");
    };
    match &sys.cloud_init {
        Some(ci) if !ci.disabled => Outcome::pass(vec![Evidence::file(
            "/etc/cloud/cloud.cfg",
            None,
            format!(
                "datasources: {}",
                if ci.datasources.is_empty() {
                    "default list".to_string()
                } else {
                    ci.datasources.join(", ")
                }
            ),
        )]),
        Some(_) => Outcome::fail(vec![Evidence::file(
            "/etc/cloud/cloud-init.disabled",
            None,
            "cloud-init disabled",
        )]),
        None => Outcome::fail(vec![Evidence::file(
            "/etc/cloud/cloud.cfg",
            None,
            "absent: cloud-init not installed",
        )]),
    }
}

fn boot_firmware(ctx: &Ctx<'_>) -> Outcome {
    let Some(k) = &ctx.os.kernels else {
        return Outcome::na("the report has no kernels section");
    };
    match &k.firmware {
        Some(fw) => Outcome::pass(vec![Evidence::field(
            if k.firmware_evidence.is_empty() {
                "kernels.firmware".to_string()
            } else {
                k.firmware_evidence.join(", ")
            },
            format!("boots with {fw}"),
        )])
        .with_note(format!("the target must offer {fw} boot")),
        None => Outcome::na("boot firmware undetermined"),
    }
}

/// The migration checks.
pub const CHECKS: &[Check] = &[
    Check {
        id: "migration.virtio-drivers",
        title: "The kernel has virtio disk and network drivers",
        description: "virtio_blk and virtio_net, built in or as modules of the newest kernel, for KVM-based targets.",
        profiles: MIG,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Install a kernel with virtio drivers and add them to the initramfs (dracut --add-drivers / initramfs-tools modules).",
        references: &[],
        run: virtio_drivers,
    },
    Check {
        id: "migration.initramfs-virtio",
        title: "The initramfs can reach a virtio disk",
        description: "virtio_pci and virtio_blk or virtio_scsi, built into the boot kernel or packed in its initramfs: a host-only initramfs (MODULES=dep, dracut --hostonly) built on another hypervisor leaves them out and the guest cannot find its root disk.",
        profiles: MIG,
        severity: Severity::Critical,
        applies: Applies::LINUX,
        remediation: "Add virtio_blk virtio_scsi virtio_pci to /etc/initramfs-tools/modules (or `add_drivers+=\" virtio_blk virtio_scsi virtio_pci \"` in /etc/dracut.conf.d/virtio.conf) and rebuild the initramfs before migrating.",
        references: &[],
        run: initramfs_virtio,
    },
    Check {
        id: "migration.root-fs-support",
        title: "The boot kernel can mount the root filesystem",
        description: "The root filesystem's driver (and device-mapper or md for a root on LVM or RAID) must be built in or inside the initramfs.",
        profiles: MIG,
        severity: Severity::Critical,
        applies: Applies::LINUX,
        remediation: "Rebuild the initramfs with the root filesystem's module (and dm_mod / md_mod) included.",
        references: &[],
        run: root_fs_support,
    },
    Check {
        id: "migration.fstab-device-names",
        title: "fstab mounts by UUID or label, not device name",
        description: "/dev/sdX names change when the disk controller changes (sd → vd, xvd, nvme).",
        profiles: MIG,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Replace device names in /etc/fstab with UUID=… (see `blkid`).",
        references: &[],
        run: fstab_device_names,
    },
    Check {
        id: "migration.network-mac-binding",
        title: "Network configuration is not tied to MAC addresses",
        description: "Definitions matching a MAC address (HWADDR=, macaddress:, MACAddress=, persistent-net rules) miss the new NIC.",
        profiles: MIG,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Match interfaces by name or driver, remove HWADDR=/macaddress and /etc/udev/rules.d/70-persistent-net.rules.",
        references: &[],
        run: network_mac,
    },
    Check {
        id: "migration.hypervisor-tools",
        title: "No source-hypervisor tools installed",
        description: "open-vm-tools, Hyper-V daemons, VirtualBox additions or Xen tools belong to the old platform.",
        profiles: MIG,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Remove the source hypervisor's tools after migration.",
        references: &[],
        run: hypervisor_tools,
    },
    Check {
        id: "migration.qemu-guest-agent",
        title: "qemu-guest-agent is installed",
        description: "KVM-based targets use the agent for shutdown, freeze and IP reporting.",
        profiles: MIG,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Install qemu-guest-agent.",
        references: &[],
        run: qemu_guest_agent,
    },
    Check {
        id: "migration.cloud-init",
        title: "cloud-init is installed and enabled",
        description: "Cloud targets configure network, keys and hostname through cloud-init.",
        profiles: MIG,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Install cloud-init and set datasource_list for the target cloud.",
        references: &[],
        run: cloud_init,
    },
    Check {
        id: "migration.boot-firmware",
        title: "Boot firmware (BIOS or UEFI) is known",
        description: "The target VM must be created with the same firmware type.",
        profiles: MIG,
        severity: Severity::Info,
        applies: Applies::LINUX,
        remediation: "Create the target VM with the firmware the guest boots with.",
        references: &[],
        run: boot_firmware,
    },
];

#[cfg(test)]
mod tests {
    use super::super::boot_image::listed_at;

    #[test]
    fn module_lists() {
        let dep = "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko\n";
        assert_eq!(listed_at(dep, "virtio_blk"), Some(1));
        assert_eq!(listed_at(dep, "virtio-blk"), Some(1));
        assert!(listed_at(dep, "virtio_net").is_none());
        assert!(listed_at(dep, "virtio").is_none());
    }
}
