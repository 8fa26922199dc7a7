//! Migration readiness: will the guest boot and reach the network on
//! another hypervisor (KVM/virtio) or cloud.

use guestkit_fs::fstab::DeviceSpec;

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx, SECTION};
use crate::model::{Evidence, Outcome, Severity};

/// Most bytes of modules.dep / modules.builtin read.
const MAX_MODULE_LIST: u64 = 8 << 20;

/// virtio drivers a KVM target needs: disk and network.
const VIRTIO: &[&str] = &["virtio_blk", "virtio_net"];

/// Whether `list` (modules.dep or modules.builtin text) names `module`
/// (`…/virtio_blk.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`).
fn lists(list: &str, module: &str) -> bool {
    list.lines().any(|l| {
        let path = l.split(':').next().unwrap_or("");
        let base = path.rsplit('/').next().unwrap_or("");
        base.strip_prefix(module)
            .is_some_and(|rest| rest.starts_with(".ko"))
    })
}

fn virtio_drivers(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let Some(kernels) = &ctx.os.kernels else {
        return Outcome::na("the report has no kernels section");
    };
    let Some(kernel) = kernels.kernels.first() else {
        return Outcome::na("no installed kernel found");
    };
    let Some(dir) = &kernel.modules_dir else {
        return Outcome::na(format!(
            "kernel {} has no modules directory",
            kernel.version
        ));
    };
    let mut text = String::new();
    let mut read = Vec::new();
    for name in ["modules.dep", "modules.builtin"] {
        let path = format!("{dir}/{name}");
        if let Some(b) = files.read_prefix(SECTION, &path, MAX_MODULE_LIST) {
            text.push_str(&String::from_utf8_lossy(&b));
            text.push('\n');
            read.push(path);
        }
    }
    if read.is_empty() {
        return Outcome::error(format!(
            "{dir}/modules.dep and modules.builtin unreadable or absent"
        ));
    }
    let missing: Vec<&str> = VIRTIO
        .iter()
        .copied()
        .filter(|m| !lists(&text, m))
        .collect();
    let source = read.join(", ");
    if missing.is_empty() {
        Outcome::pass(vec![Evidence::field(
            source,
            format!("kernel {}: {} present", kernel.version, VIRTIO.join(", ")),
        )])
    } else {
        Outcome::fail(vec![Evidence::field(
            source,
            format!("kernel {}: missing {}", kernel.version, missing.join(", ")),
        )])
    }
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
    #[test]
    fn module_lists() {
        let dep = "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko\n";
        assert!(super::lists(dep, "virtio_blk"));
        assert!(!super::lists(dep, "virtio_net"));
        assert!(!super::lists(dep, "virtio"));
    }
}
