//! A hand-written hardened Debian 12 guest tree and helpers to weaken it.

use std::path::Path;

use super::{chmod, link, write};

/// Where the tree's systemd units live.
pub const UNITS: &str = "/usr/lib/systemd/system";

/// A unit file wanted by `target`.
pub fn unit(r: &Path, name: &str, target: &str) {
    write(
        r,
        &format!("{UNITS}/{name}"),
        &format!("[Unit]\nDescription={name}\n[Install]\nWantedBy={target}\n"),
    );
}

/// A unit file and its `target.wants` link.
pub fn enable(r: &Path, name: &str, target: &str) {
    unit(r, name, target);
    link(
        r,
        &format!("/etc/systemd/system/{target}.wants/{name}"),
        &format!("{UNITS}/{name}"),
    );
}

/// Removes the `target.wants` link of `name`.
pub fn disable(r: &Path, name: &str, target: &str) {
    let p = r.join(format!("etc/systemd/system/{target}.wants/{name}"));
    std::fs::remove_file(p).expect("unlink");
}

pub const SSHD: &str = "Include /etc/ssh/sshd_config.d/*.conf\n\
PermitRootLogin no\nPasswordAuthentication no\nPermitEmptyPasswords no\nX11Forwarding no\n\
MaxAuthTries 4\nIgnoreRhosts yes\nHostbasedAuthentication no\nPermitUserEnvironment no\n\
Banner /etc/issue.net\nCiphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com\n\
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com\n\
KexAlgorithms curve25519-sha256\nLoginGraceTime 60\nClientAliveInterval 300\nLogLevel VERBOSE\n";

pub const FSTAB: &str = "UUID=0a1b / ext4 defaults,noatime 0 1\n\
UUID=0a1c /home ext4 defaults,nodev,noatime 0 2\n\
UUID=0a1d /var/log ext4 defaults,noatime 0 2\n\
tmpfs /tmp tmpfs nodev,nosuid,noexec 0 0\n\
UUID=0a1e /var/tmp ext4 nodev,nosuid,noexec,noatime 0 2\n\
tmpfs /dev/shm tmpfs nodev,nosuid,noexec 0 0\n\
UUID=0a1f none swap sw 0 0\n";

pub const SYSCTL: &str = "net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.rp_filter = 1\n\
net.ipv4.conf.all.accept_redirects = 0\nnet.ipv6.conf.all.accept_redirects = 0\n\
net.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.all.accept_source_route = 0\n\
net.ipv4.tcp_syncookies = 1\nkernel.randomize_va_space = 2\nkernel.dmesg_restrict = 1\n\
kernel.kptr_restrict = 2\nfs.suid_dumpable = 0\n";

pub const DPKG_STATUS: &str = "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u7\n\n\
Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\n\n";

/// The dpkg status with one more package.
pub fn add_package(r: &Path, name: &str) {
    write(
        r,
        "/var/lib/dpkg/status",
        &format!("{DPKG_STATUS}Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n\n"),
    );
}

/// A Debian 12 guest configured to pass every check tested here.
pub fn hardened(r: &Path) {
    write(
        r,
        "/etc/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    );
    write(r, "/etc/debian_version", "12.7\n");
    write(r, "/etc/hostname", "hardened\n");
    link(r, "/lib", "usr/lib");
    link(r, "/sbin", "usr/sbin");
    link(r, "/usr/sbin/init", "/lib/systemd/systemd");
    write(r, "/usr/lib/systemd/systemd", "ELF");
    write(
        r,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n\
         bob:x:1001:1001:Bob:/home/bob:/bin/bash\n",
    );
    write(
        r,
        "/etc/shadow",
        "root:$6$salt$hash:19700:1:365:7:::\ndaemon:*:19700:0:99999:7:::\nsshd:!:19700::::::\n\
         alice:$6$salt$hash:19700:1:365:7:::\nbob:$6$salt$hash:19700:1:365:7:::\n",
    );
    chmod(r, "/etc/shadow", 0o640);
    write(
        r,
        "/etc/group",
        "root:x:0:\ndaemon:x:1:\nsudo:x:27:alice\nstaff:x:50:\nalice:x:1000:\nbob:x:1001:\n",
    );
    write(r, "/etc/gshadow", "root:*::\nsudo:*::alice\n");
    chmod(r, "/etc/gshadow", 0o640);
    write(r, "/etc/ssh/sshd_config", SSHD);
    write(r, "/etc/ssh/sshd_config.d/README", "not a .conf file\n");
    write(r, "/etc/sudoers", "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n");
    write(
        r,
        "/etc/login.defs",
        "UMASK 027\nPASS_MAX_DAYS 365\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUID_MIN 1000\nENCRYPT_METHOD SHA512\n",
    );
    write(
        r,
        "/etc/pam.d/common-password",
        "password requisite pam_pwquality.so retry=3 minlen=14\n\
         password [success=1 default=ignore] pam_unix.so obscure use_authtok try_first_pass sha512\n\
         password requisite pam_deny.so\n",
    );
    write(
        r,
        "/etc/pam.d/common-auth",
        "auth required pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so\n\
         auth [default=die] pam_faillock.so authfail\nauth requisite pam_deny.so\n",
    );
    write(r, "/etc/security/pwquality.conf", "minlen = 14\n");
    write(r, "/etc/security/limits.conf", "* hard core 0\n");
    write(r, "/etc/fstab", FSTAB);
    write(
        r,
        "/usr/lib/sysctl.d/60-hardening.conf",
        "net.ipv4.ip_forward = 1\n",
    );
    write(r, "/etc/sysctl.d/60-hardening.conf", SYSCTL);
    write(r, "/etc/sysctl.conf", "# nothing\n");
    // Firewall, MAC, audit, logging, time.
    write(r, "/usr/sbin/nft", "ELF");
    write(
        r,
        "/etc/nftables.conf",
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n\
         ct state established,related accept\n    tcp dport 22 accept\n  }\n}\n",
    );
    enable(r, "nftables.service", "sysinit.target");
    write(r, "/usr/sbin/apparmor_parser", "ELF");
    write(
        r,
        "/etc/apparmor.d/usr.sbin.chronyd",
        "profile chronyd /usr/sbin/chronyd {\n}\n",
    );
    enable(r, "apparmor.service", "sysinit.target");
    write(r, "/usr/sbin/auditd", "ELF");
    write(
        r,
        "/etc/audit/rules.d/50-identity.rules",
        "-w /etc/passwd -p wa -k identity\n-w /etc/shadow -p wa -k identity\n",
    );
    enable(r, "auditd.service", "multi-user.target");
    write(r, "/etc/rsyslog.conf", "*.* @@loghost.example:514\n");
    enable(r, "chrony.service", "multi-user.target");
    enable(r, "ssh.service", "multi-user.target");
    unit(r, "telnet.socket", "sockets.target");
    write(r, "/etc/vsftpd.conf", "listen=YES\nanonymous_enable=NO\n");
    // Cron, permissions, boot.
    write(r, "/etc/crontab", "SHELL=/bin/sh\n");
    chmod(r, "/etc/crontab", 0o600);
    for d in [
        "cron.d",
        "cron.daily",
        "cron.hourly",
        "cron.weekly",
        "cron.monthly",
    ] {
        write(r, &format!("/etc/{d}/.placeholder"), "");
        chmod(r, &format!("/etc/{d}"), 0o700);
    }
    write(
        r,
        "/boot/grub/grub.cfg",
        "set superusers=\"root\"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AB.CD\nset default=0\n",
    );
    write(
        r,
        "/etc/apt/apt.conf.d/20auto-upgrades",
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n",
    );
    write(r, "/var/lib/dpkg/status", DPKG_STATUS);
    write(
        r,
        "/etc/profile.d/tmout.sh",
        "readonly TMOUT=900\nexport TMOUT\n",
    );
    write(r, "/etc/issue", "Authorized users only.\n");
    chmod(r, "/boot/grub/grub.cfg", 0o600);
    // Migration, performance.
    write(r, "/boot/vmlinuz-6.1.0-25-amd64", "kernel");
    write(
        r,
        "/usr/lib/modules/6.1.0-25-amd64/modules.dep",
        "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko.xz\n\
         kernel/drivers/net/virtio_net.ko.xz: kernel/net/core/failover.ko.xz\n",
    );
    write(
        r,
        "/boot/config-6.1.0-25-amd64",
        "CONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_TRANSPARENT_HUGEPAGE_MADVISE=y\n\
         CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=m\nCONFIG_EXT4_FS=m\n",
    );
    initramfs(
        r,
        "zstd -q -c",
        &[
            "kernel/drivers/block/virtio_blk.ko.xz",
            "kernel/drivers/scsi/virtio_scsi.ko.xz",
            "kernel/fs/ext4/ext4.ko.xz",
        ],
    );
    write(r, "/usr/sbin/tuned", "ELF");
    write(r, "/etc/tuned/active_profile", "virtual-guest\n");
    write(r, "/usr/sbin/qemu-ga", "ELF");
    write(
        r,
        "/etc/cloud/cloud.cfg",
        "datasource_list: [ NoCloud, ConfigDrive ]\n",
    );
    write(
        r,
        "/etc/systemd/journald.conf",
        "[Journal]\nStorage=persistent\nSystemMaxUse=500M\n",
    );
    write(r, "/srv/tmp/.keep", "");
    chmod(r, "/srv/tmp", 0o1777);
}

/// Writes `/boot/initrd.img-6.1.0-25-amd64` as initramfs-tools does: an
/// uncompressed early cpio (microcode) followed by the main cpio, made by
/// GNU cpio and compressed with `compress` (a shell command writing to
/// stdout), holding `modules` (paths under the kernel's module dir).
pub fn initramfs(r: &Path, compress: &str, modules: &[&str]) {
    let work = tempfile::tempdir().expect("tmp");
    let w = work.path();
    let early = w.join("early");
    let main = w.join("main");
    std::fs::create_dir_all(early.join("kernel/x86/microcode")).expect("mkdir");
    std::fs::write(
        early.join("kernel/x86/microcode/GenuineIntel.bin"),
        [0u8; 64],
    )
    .expect("write");
    std::fs::create_dir_all(main.join("scripts")).expect("mkdir");
    std::fs::write(main.join("init"), "#!/bin/sh\n").expect("write");
    for m in modules {
        let p = main.join("usr/lib/modules/6.1.0-25-amd64").join(m);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, "ELF module").expect("write");
    }
    let out = r.join("boot/initrd.img-6.1.0-25-amd64");
    std::fs::create_dir_all(out.parent().expect("parent")).expect("mkdir");
    let script = format!(
        "(cd early && find . | cpio --quiet -o -H newc) > {o}; (cd main && find . | cpio --quiet -o -H newc) | {compress} >> {o}",
        o = out.display()
    );
    let ok = std::process::Command::new("sh")
        .args(["-ec", &script])
        .current_dir(w)
        .status()
        .expect("sh")
        .success();
    assert!(ok, "{script}");
}
