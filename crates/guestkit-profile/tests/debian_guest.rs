//! All profiles on the real Debian 12 guest (mmdebstrap, configured by
//! `guestkit_fixtures::debian`): the findings its known setup implies.

mod common;

use common::{failing, finding, profile_tree};
use guestkit_profile::{Severity, Status};

#[test]
fn debian_guest_findings() {
    let root = guestkit_fixtures::debian::debian_tree().expect("the Debian guest fixture");
    let r = profile_tree(&root);
    let fails = failing(&r);

    // alice's sudo rule from /etc/sudoers.d/90-alice.
    let sudo = finding(&r, "sudo.nopasswd-all");
    assert_eq!(sudo.status, Status::Fail);
    assert_eq!(sudo.severity, Severity::High);
    assert_eq!(sudo.evidence.len(), 1);
    assert_eq!(sudo.evidence[0].source, "/etc/sudoers.d/90-alice");
    assert_eq!(sudo.evidence[0].line, Some(1));
    assert!(sudo.evidence[0].value.contains("alice"));

    // PermitRootLogin no from the drop-in passes, with that line as evidence.
    let root_login = finding(&r, "ssh.permit-root-login");
    assert_eq!(root_login.status, Status::Pass);
    assert_eq!(
        root_login.evidence[0].source,
        "/etc/ssh/sshd_config.d/50-guestkit.conf"
    );
    assert_eq!(root_login.evidence[0].line, Some(1));
    assert_eq!(
        finding(&r, "ssh.password-authentication").status,
        Status::Pass
    );
    assert_eq!(finding(&r, "ssh.x11-forwarding").status, Status::Pass);

    // nftables is enabled, but its ruleset is Debian's empty default.
    assert_eq!(finding(&r, "firewall.enabled").status, Status::Pass);
    let rules = finding(&r, "firewall.rules");
    assert_eq!(rules.status, Status::Fail);
    assert_eq!(rules.evidence[0].source, "/etc/nftables.conf");
    assert!(rules.evidence[0].value.contains("0 rules"));

    // AppArmor is the MAC here; SELinux is not mentioned at all.
    assert_eq!(finding(&r, "mac.apparmor-enabled").status, Status::Pass);
    assert!(r.findings.iter().all(|f| !f.id.contains("selinux")));
    assert!(r.findings.iter().all(|f| !format!("{:?}", f.evidence)
        .to_lowercase()
        .contains("selinux")));

    // Its known accounts: no empty password, root the only uid 0.
    assert_eq!(finding(&r, "accounts.empty-password").status, Status::Pass);
    assert_eq!(finding(&r, "accounts.uid0-non-root").status, Status::Pass);
    assert_eq!(finding(&r, "fs.shadow-permissions").status, Status::Pass);
    // Debian's defaults the profile flags.
    for id in [
        "password.max-days",
        "password.pam-nullok",
        "audit.auditd-enabled",
        "sysctl.accept-redirects",
    ] {
        assert!(fails.contains(&id), "{id} should fail: {fails:?}");
    }
    // Debian links /etc/sysctl.d/99-sysctl.conf to ../sysctl.conf: read
    // once, in the drop-ins' order, after /usr/lib's files.
    let redirects = &finding(&r, "sysctl.accept-redirects").evidence[0].source;
    assert!(
        redirects.ends_with("/etc/sysctl.d/99-sysctl.conf"),
        "{redirects}"
    );
    assert!(redirects.starts_with("/usr/lib/sysctl.d/"), "{redirects}");
    assert!(!redirects.contains("/etc/sysctl.conf"), "{redirects}");
    assert_eq!(finding(&r, "time.sync").status, Status::Pass);
    assert_eq!(finding(&r, "migration.virtio-drivers").status, Status::Pass);
    // The guest's own initramfs (initramfs-tools, gzip) carries the virtio
    // disk drivers: read from the image, stopped once both are seen.
    let initramfs = finding(&r, "migration.initramfs-virtio");
    assert_eq!(initramfs.status, Status::Pass, "{initramfs:?}");
    assert!(initramfs
        .evidence
        .iter()
        .all(|e| e.source.starts_with("/boot/initrd.img-")));
    let values: Vec<&str> = initramfs
        .evidence
        .iter()
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(
        values,
        ["virtio_blk in the initramfs", "virtio_pci in the initramfs"]
    );
    // Debian's kernel builds THP as `always`.
    let thp = finding(&r, "perf.transparent-hugepages");
    assert_eq!(thp.status, Status::Fail);
    assert!(thp.evidence[0].source.starts_with("/boot/config-"));
    assert_eq!(
        thp.evidence[0].value,
        "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y"
    );
    // The deep scan ran; nothing decided without evidence.
    assert_eq!(finding(&r, "fs.world-writable-dirs").status, Status::Pass);
    assert!(r.findings.iter().all(|f| f.status != Status::Error));
    assert!(r
        .findings
        .iter()
        .filter(|f| f.status == Status::Pass || f.status == Status::Fail)
        .all(|f| !f.evidence.is_empty()));
    assert_eq!(r.summary.total_findings, fails.len());
}
