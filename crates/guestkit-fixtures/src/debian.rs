//! A real Debian 12 guest, installed by `mmdebstrap` from Debian's archive:
//! minbase plus openssh-server, sudo, systemd-sysv, ifupdown, cron,
//! rsyslog, redis-server, nftables, chrony, apparmor and a cloud kernel,
//! then configured the way an administrator would (users, sudo rule, sshd
//! drop-in, static and DHCP interfaces, DNS, hosts, timezone, locale,
//! enabled and masked units). The inspector's answers are checked against
//! the guest's own tools (`dpkg-query --admindir`) and files.
//!
//! mmdebstrap needs root (or user namespaces) and the network; the rootfs
//! is cached as a tarball and unpacked where an image recipe needs a tree.

use std::fs;
use std::path::PathBuf;

use crate::tools::{arg, run};
use crate::{cached, FixtureError, Result};

const RECIPE: &str = include_str!("debian.rs");

/// Packages installed on top of minbase.
pub const PACKAGES: &[&str] = &[
    "openssh-server",
    "sudo",
    "systemd-sysv",
    "ifupdown",
    "isc-dhcp-client",
    "cron",
    "rsyslog",
    "redis-server",
    "nftables",
    "chrony",
    "apparmor",
    "locales",
    "linux-image-cloud-amd64",
];

/// Hostname of the guest.
pub const HOSTNAME: &str = "debian-guest";

/// The administrator's configuration, applied in the chroot.
const CONFIGURE: &str = r#"set -e
root="$1"
echo debian-guest > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
192.0.2.10	debian-guest.example.org debian-guest
::1	localhost ip6-localhost ip6-loopback
HOSTS
cat > "$root/etc/network/interfaces" <<'IFACES'
# The loopback network interface
auto lo
iface lo inet loopback

auto ens3
iface ens3 inet static
    address 192.0.2.10/24
    gateway 192.0.2.1
    dns-nameservers 192.0.2.53

allow-hotplug ens4
iface ens4 inet dhcp
IFACES
printf 'nameserver 192.0.2.53\nsearch example.org\n' > "$root/etc/resolv.conf"
chroot "$root" useradd -m -s /bin/bash -G sudo -c "Alice Admin" alice
echo 'alice:correct horse battery staple' | chroot "$root" chpasswd
chroot "$root" useradd -m -s /bin/bash bob
chroot "$root" passwd -l bob
chroot "$root" useradd -M -s /usr/sbin/nologin -u 990 -r svc-backup
printf 'alice ALL=(ALL) NOPASSWD: ALL\n' > "$root/etc/sudoers.d/90-alice"
chmod 0440 "$root/etc/sudoers.d/90-alice"
printf 'PermitRootLogin no\nPasswordAuthentication no\nX11Forwarding no\n' > "$root/etc/ssh/sshd_config.d/50-guestkit.conf"
chroot "$root" systemctl enable nftables.service
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer
ln -sf /usr/share/zoneinfo/Europe/Berlin "$root/etc/localtime"
echo Europe/Berlin > "$root/etc/timezone"
echo 'LANG=en_US.UTF-8' > "$root/etc/default/locale"
echo 'en_US.UTF-8 UTF-8' > "$root/etc/locale.gen"
echo 0f1e2d3c4b5a69788796a5b4c3d2e1f0 > "$root/etc/machine-id"
"#;

/// The guest's root filesystem as a tarball (`rootfs.tar` in the returned
/// directory).
pub fn debian_rootfs() -> Result<PathBuf> {
    let dir = cached("debian-rootfs", RECIPE, |dir| {
        let hook = dir.join("configure.sh");
        fs::write(&hook, CONFIGURE).map_err(|e| FixtureError::io(&hook, e))?;
        let include = format!("--include={}", PACKAGES.join(","));
        let customize = format!("--customize-hook=sh {} \"$1\"", arg(&hook)?);
        run(
            "mmdebstrap",
            &[
                "--quiet",
                "--variant=minbase",
                &include,
                &customize,
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "bookworm",
                arg(&dir.join("rootfs.tar"))?,
                "http://deb.debian.org/debian",
            ],
        )?;
        fs::remove_file(&hook).map_err(|e| FixtureError::io(&hook, e))?;
        Ok(())
    })?;
    Ok(dir.join("rootfs.tar"))
}

/// The guest's root filesystem unpacked (`rootfs/` in the returned
/// directory), with owners and device nodes as in the tarball (needs root).
pub fn debian_tree() -> Result<PathBuf> {
    let tar = debian_rootfs()?;
    let dir = cached("debian-tree", RECIPE, |dir| {
        let root = dir.join("rootfs");
        fs::create_dir_all(&root).map_err(|e| FixtureError::io(&root, e))?;
        run(
            "tar",
            &[
                "-x",
                "--numeric-owner",
                "--same-owner",
                "--same-permissions",
                "-f",
                arg(&tar)?,
                "-C",
                arg(&root)?,
            ],
        )?;
        Ok(())
    })?;
    Ok(dir.join("rootfs"))
}
