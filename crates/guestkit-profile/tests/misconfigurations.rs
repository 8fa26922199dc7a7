//! One misconfiguration per check on a hand-written hardened Debian-like
//! guest: the hardened guest fails none of the checks below, and each
//! mutation makes exactly its check(s) fail, with the expected evidence.
//! Each guest is written into a real ext4 image (`mkfs.ext4 -d`) and read
//! back through the disk, filesystem and inspection layers.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::hardened::{add_package, disable, enable, hardened, initramfs};
use common::{chmod, failing, finding, profile_image, profile_tree, write};
use guestkit_profile::Status;

/// Checks the hardened tree must pass, each with its mutation.
type Mutation = (&'static [&'static str], &'static str, fn(&Path));

fn replace(r: &Path, path: &str, from: &str, to: &str) {
    let p = r.join(path.trim_start_matches('/'));
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.contains(from), "{path} lacks {from:?}");
    std::fs::write(p, text.replacen(from, to, 1)).expect("write");
}

fn bad_sysctl(r: &Path, line: &str) {
    write(r, "/etc/sysctl.d/99-local.conf", line);
}

const MUTATIONS: &[Mutation] = &[
    // sshd: the drop-in read through Include comes first and wins.
    (
        &["ssh.permit-root-login"],
        "/etc/ssh/sshd_config.d/50-cloud.conf",
        |r| {
            write(
                r,
                "/etc/ssh/sshd_config.d/50-cloud.conf",
                "PermitRootLogin prohibit-password\n",
            )
        },
    ),
    (
        &["ssh.password-authentication"],
        "PasswordAuthentication yes",
        |r| {
            replace(
                r,
                "/etc/ssh/sshd_config",
                "PasswordAuthentication no",
                "PasswordAuthentication yes",
            )
        },
    ),
    (
        &["ssh.permit-empty-passwords"],
        "PermitEmptyPasswords yes",
        |r| {
            replace(
                r,
                "/etc/ssh/sshd_config",
                "PermitEmptyPasswords no",
                "PermitEmptyPasswords yes",
            )
        },
    ),
    (&["ssh.x11-forwarding"], "X11Forwarding yes", |r| {
        replace(
            r,
            "/etc/ssh/sshd_config",
            "X11Forwarding no",
            "X11Forwarding yes",
        )
    }),
    (&["ssh.max-auth-tries"], "MaxAuthTries 6", |r| {
        replace(r, "/etc/ssh/sshd_config", "MaxAuthTries 4\n", "")
    }),
    (&["ssh.ignore-rhosts"], "IgnoreRhosts no", |r| {
        replace(
            r,
            "/etc/ssh/sshd_config",
            "IgnoreRhosts yes",
            "IgnoreRhosts no",
        )
    }),
    (
        &["ssh.hostbased-authentication"],
        "HostbasedAuthentication yes",
        |r| {
            replace(
                r,
                "/etc/ssh/sshd_config",
                "HostbasedAuthentication no",
                "HostbasedAuthentication yes",
            )
        },
    ),
    (
        &["ssh.permit-user-environment"],
        "PermitUserEnvironment yes",
        |r| {
            replace(
                r,
                "/etc/ssh/sshd_config",
                "PermitUserEnvironment no",
                "PermitUserEnvironment yes",
            )
        },
    ),
    (&["ssh.banner"], "Banner none", |r| {
        replace(r, "/etc/ssh/sshd_config", "Banner /etc/issue.net\n", "")
    }),
    (&["ssh.weak-ciphers"], "aes128-cbc", |r| {
        replace(
            r,
            "/etc/ssh/sshd_config",
            "Ciphers aes256-gcm@openssh.com",
            "Ciphers aes256-gcm@openssh.com,aes128-cbc",
        )
    }),
    (&["ssh.weak-macs"], "hmac-md5", |r| {
        replace(
            r,
            "/etc/ssh/sshd_config",
            "MACs hmac-sha2-512-etm@openssh.com",
            "MACs hmac-md5,hmac-sha2-512-etm@openssh.com",
        )
    }),
    (&["ssh.weak-kex"], "diffie-hellman-group1-sha1", |r| {
        replace(
            r,
            "/etc/ssh/sshd_config",
            "KexAlgorithms curve25519-sha256",
            "KexAlgorithms curve25519-sha256,diffie-hellman-group1-sha1",
        )
    }),
    (&["ssh.login-grace-time"], "LoginGraceTime 120", |r| {
        replace(r, "/etc/ssh/sshd_config", "LoginGraceTime 60\n", "")
    }),
    (
        &["ssh.client-alive-interval"],
        "ClientAliveInterval 0",
        |r| replace(r, "/etc/ssh/sshd_config", "ClientAliveInterval 300\n", ""),
    ),
    (&["ssh.log-level"], "LogLevel QUIET", |r| {
        replace(
            r,
            "/etc/ssh/sshd_config",
            "LogLevel VERBOSE",
            "LogLevel QUIET",
        )
    }),
    // Hardening odds and ends.
    (&["updates.automatic"], "Unattended-Upgrade \"0\"", |r| {
        replace(
            r,
            "/etc/apt/apt.conf.d/20auto-upgrades",
            "Unattended-Upgrade \"1\"",
            "Unattended-Upgrade \"0\"",
        )
    }),
    (&["boot.grub-password"], "no superusers", |r| {
        replace(
            r,
            "/boot/grub/grub.cfg",
            "password_pbkdf2 root",
            "# password_pbkdf2 root",
        )
    }),
    (&["packages.compilers"], "gcc 1.0-1", |r| {
        add_package(r, "gcc")
    }),
    (&["packages.insecure-clients"], "telnet 1.0-1", |r| {
        add_package(r, "telnet")
    }),
    (&["shell.timeout"], "TMOUT=3600", |r| {
        replace(r, "/etc/profile.d/tmout.sh", "TMOUT=900", "TMOUT=3600")
    }),
    (&["banner.os-info"], "\\r", |r| {
        write(r, "/etc/issue", "Debian GNU/Linux \\r \\l\n")
    }),
    (&["logging.persistent"], "Storage=volatile", |r| {
        replace(
            r,
            "/etc/systemd/journald.conf",
            "Storage=persistent",
            "Storage=volatile",
        )
    }),
    // Accounts and sudo.
    (
        &["accounts.empty-password"],
        "bob: empty password field",
        |r| replace(r, "/etc/shadow", "bob:$6$salt$hash:", "bob::"),
    ),
    (
        &["accounts.uid0-non-root", "accounts.duplicate-uids"],
        "toor has uid 0",
        |r| {
            replace(
                r,
                "/etc/passwd",
                "daemon:",
                "toor:x:0:0::/root:/usr/sbin/nologin\ndaemon:",
            )
        },
    ),
    (
        &["accounts.duplicate-uids"],
        "uid 1000: alice, carol",
        |r| {
            replace(
                r,
                "/etc/passwd",
                "bob:",
                "carol:x:1000:1000::/home/carol:/bin/bash\nbob:",
            )
        },
    ),
    (&["accounts.duplicate-gids"], "gid 50: staff, users", |r| {
        replace(r, "/etc/group", "alice:", "users:x:50:\nalice:")
    }),
    (
        &["accounts.duplicate-names"],
        "group staff listed twice",
        |r| replace(r, "/etc/group", "alice:", "staff:x:51:\nalice:"),
    ),
    (
        &["accounts.system-login-shell"],
        "daemon (uid 1) has shell /bin/bash",
        |r| {
            replace(
                r,
                "/etc/passwd",
                "/usr/sbin:/usr/sbin/nologin",
                "/usr/sbin:/bin/bash",
            )
        },
    ),
    (
        &["accounts.root-authorized-keys"],
        "ssh-ed25519 AAAA",
        |r| {
            write(
                r,
                "/root/.ssh/authorized_keys",
                "# keys\nssh-ed25519 AAAAC3Nza admin@laptop\n",
            )
        },
    ),
    (
        &["sudo.nopasswd-all"],
        "bob may run ALL with NOPASSWD",
        |r| write(r, "/etc/sudoers.d/90-bob", "bob ALL=(ALL) NOPASSWD: ALL\n"),
    ),
    (
        &["sudo.authenticate-disabled"],
        "Defaults !authenticate",
        |r| write(r, "/etc/sudoers.d/10-noauth", "Defaults !authenticate\n"),
    ),
    (&["password.max-days"], "PASS_MAX_DAYS 99999", |r| {
        replace(
            r,
            "/etc/login.defs",
            "PASS_MAX_DAYS 365",
            "PASS_MAX_DAYS 99999",
        )
    }),
    (&["password.min-days"], "PASS_MIN_DAYS 0", |r| {
        replace(r, "/etc/login.defs", "PASS_MIN_DAYS 1", "PASS_MIN_DAYS 0")
    }),
    (&["password.warn-age"], "PASS_WARN_AGE 3", |r| {
        replace(r, "/etc/login.defs", "PASS_WARN_AGE 7", "PASS_WARN_AGE 3")
    }),
    (&["password.hash-algorithm"], "ENCRYPT_METHOD MD5", |r| {
        replace(
            r,
            "/etc/login.defs",
            "ENCRYPT_METHOD SHA512",
            "ENCRYPT_METHOD MD5",
        )
    }),
    (&["password.quality"], "minlen=8", |r| {
        replace(r, "/etc/pam.d/common-password", "minlen=14", "minlen=8")
    }),
    (&["password.lockout"], "no pam_faillock", |r| {
        write(
            r,
            "/etc/pam.d/common-auth",
            "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n",
        )
    }),
    (&["password.pam-nullok"], "pam_unix nullok", |r| {
        replace(
            r,
            "/etc/pam.d/common-auth",
            "pam_unix.so",
            "pam_unix.so nullok",
        )
    }),
    (&["accounts.umask"], "UMASK 022", |r| {
        replace(r, "/etc/login.defs", "UMASK 027", "UMASK 022")
    }),
    // Files.
    (&["fs.world-writable-dirs"], "/srv/drop", |r| {
        write(r, "/srv/drop/.keep", "");
        chmod(r, "/srv/drop", 0o777);
    }),
    (&["fs.world-writable-files"], "/srv/notes.txt", |r| {
        write(r, "/srv/notes.txt", "x");
        chmod(r, "/srv/notes.txt", 0o666);
    }),
    (&["fs.unowned-files"], "uid 4242", |r| {
        write(r, "/srv/orphan", "x");
        std::os::unix::fs::chown(r.join("srv/orphan"), Some(4242), Some(4242)).expect("chown");
    }),
    (&["fs.unexpected-suid"], "/usr/local/bin/rootme", |r| {
        write(r, "/usr/local/bin/rootme", "ELF");
        chmod(r, "/usr/local/bin/rootme", 0o4755);
    }),
    (&["fs.shadow-permissions"], "mode 0644", |r| {
        chmod(r, "/etc/shadow", 0o644)
    }),
    (&["fs.gshadow-permissions"], "mode 0644", |r| {
        chmod(r, "/etc/gshadow", 0o644)
    }),
    (&["fs.passwd-permissions"], "mode 0664", |r| {
        chmod(r, "/etc/passwd", 0o664)
    }),
    (&["fs.grub-cfg-permissions"], "mode 0444", |r| {
        chmod(r, "/boot/grub/grub.cfg", 0o444)
    }),
    (&["fs.tmp-partition"], "no entry for /tmp", |r| {
        replace(
            r,
            "/etc/fstab",
            "tmpfs /tmp tmpfs nodev,nosuid,noexec 0 0\n",
            "",
        )
    }),
    (&["fs.var-tmp-partition"], "no entry for /var/tmp", |r| {
        replace(
            r,
            "/etc/fstab",
            "UUID=0a1e /var/tmp ext4 nodev,nosuid,noexec,noatime 0 2\n",
            "",
        )
    }),
    (&["fs.var-log-partition"], "no entry for /var/log", |r| {
        replace(
            r,
            "/etc/fstab",
            "UUID=0a1d /var/log ext4 defaults,noatime 0 2\n",
            "",
        )
    }),
    (&["fs.home-partition"], "no entry for /home", |r| {
        replace(
            r,
            "/etc/fstab",
            "UUID=0a1c /home ext4 defaults,nodev,noatime 0 2\n",
            "",
        )
    }),
    (&["fs.tmp-nodev"], "/tmp nosuid,noexec", |r| {
        replace(r, "/etc/fstab", "/tmp tmpfs nodev,", "/tmp tmpfs ")
    }),
    (&["fs.tmp-nosuid"], "/tmp nodev,noexec", |r| {
        replace(
            r,
            "/etc/fstab",
            "/tmp tmpfs nodev,nosuid,",
            "/tmp tmpfs nodev,",
        )
    }),
    (&["fs.tmp-noexec"], "/tmp nodev,nosuid", |r| {
        replace(
            r,
            "/etc/fstab",
            "/tmp tmpfs nodev,nosuid,noexec",
            "/tmp tmpfs nodev,nosuid",
        )
    }),
    (&["fs.var-tmp-nodev"], "/var/tmp nosuid", |r| {
        replace(r, "/etc/fstab", "/var/tmp ext4 nodev,", "/var/tmp ext4 ")
    }),
    (&["fs.var-tmp-nosuid"], "/var/tmp nodev,noexec", |r| {
        replace(
            r,
            "/etc/fstab",
            "/var/tmp ext4 nodev,nosuid,",
            "/var/tmp ext4 nodev,",
        )
    }),
    (
        &["fs.var-tmp-noexec"],
        "/var/tmp nodev,nosuid,noatime",
        |r| {
            replace(
                r,
                "/etc/fstab",
                "/var/tmp ext4 nodev,nosuid,noexec,",
                "/var/tmp ext4 nodev,nosuid,",
            )
        },
    ),
    (&["fs.dev-shm-nodev"], "/dev/shm nosuid", |r| {
        replace(r, "/etc/fstab", "/dev/shm tmpfs nodev,", "/dev/shm tmpfs ")
    }),
    (&["fs.dev-shm-nosuid"], "/dev/shm nodev,noexec", |r| {
        replace(
            r,
            "/etc/fstab",
            "/dev/shm tmpfs nodev,nosuid,",
            "/dev/shm tmpfs nodev,",
        )
    }),
    (&["fs.dev-shm-noexec"], "/dev/shm nodev,nosuid", |r| {
        replace(
            r,
            "/etc/fstab",
            "/dev/shm tmpfs nodev,nosuid,noexec",
            "/dev/shm tmpfs nodev,nosuid",
        )
    }),
    // Kernel parameters: a later file overrides the hardening file.
    (&["sysctl.ip-forward"], "net.ipv4.ip_forward = 1", |r| {
        bad_sysctl(r, "net.ipv4.ip_forward = 1\n")
    }),
    (
        &["sysctl.rp-filter"],
        "net.ipv4.conf.*.rp_filter = 0",
        |r| {
            // A glob does not override the explicit key, so drop that first.
            replace(
                r,
                "/etc/sysctl.d/60-hardening.conf",
                "net.ipv4.conf.all.rp_filter = 1\n",
                "",
            );
            bad_sysctl(r, "net.ipv4.conf.*.rp_filter = 0\n");
        },
    ),
    (&["sysctl.accept-redirects"], "accept_redirects = 1", |r| {
        bad_sysctl(r, "net/ipv4/conf/all/accept_redirects = 1\n")
    }),
    (
        &["sysctl.ipv6-accept-redirects"],
        "unset: kernel default 1",
        |r| {
            replace(
                r,
                "/etc/sysctl.d/60-hardening.conf",
                "net.ipv6.conf.all.accept_redirects = 0\n",
                "",
            )
        },
    ),
    (&["sysctl.send-redirects"], "send_redirects = 1", |r| {
        bad_sysctl(r, "net.ipv4.conf.all.send_redirects = 1\n")
    }),
    (
        &["sysctl.accept-source-route"],
        "accept_source_route = 1",
        |r| bad_sysctl(r, "-net.ipv4.conf.all.accept_source_route=1\n"),
    ),
    (&["sysctl.tcp-syncookies"], "tcp_syncookies = 0", |r| {
        bad_sysctl(r, "net.ipv4.tcp_syncookies = 0\n")
    }),
    (
        &["sysctl.randomize-va-space"],
        "randomize_va_space = 0",
        |r| bad_sysctl(r, "kernel.randomize_va_space = 0\n"),
    ),
    (&["sysctl.dmesg-restrict"], "dmesg_restrict = 0", |r| {
        bad_sysctl(r, "kernel.dmesg_restrict = 0\n")
    }),
    (&["sysctl.kptr-restrict"], "kptr_restrict = 0", |r| {
        bad_sysctl(r, "kernel.kptr_restrict = 0\n")
    }),
    (&["sysctl.suid-dumpable"], "suid_dumpable = 2", |r| {
        // /etc/sysctl.conf comes after the drop-ins.
        write(r, "/etc/sysctl.conf", "fs.suid_dumpable = 2\n")
    }),
    (
        &["kernel.core-dumps-restricted"],
        "* hard core unlimited",
        |r| {
            write(
                r,
                "/etc/security/limits.d/99-debug.conf",
                "* hard core unlimited\n",
            )
        },
    ),
    // Services.
    (
        &["firewall.enabled"],
        "nftables: installed true, enabled false",
        |r| disable(r, "nftables.service", "sysinit.target"),
    ),
    (&["firewall.rules"], "nftables: 0 rules", |r| {
        write(r, "/etc/nftables.conf", "flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority 0;\n  }\n}\n")
    }),
    (&["mac.apparmor-enabled"], "enabled false", |r| {
        disable(r, "apparmor.service", "sysinit.target")
    }),
    (&["services.telnet"], "telnet.socket enabled", |r| {
        enable(r, "telnet.socket", "sockets.target")
    }),
    (&["services.rsh"], "rlogin.socket enabled", |r| {
        enable(r, "rlogin.socket", "sockets.target")
    }),
    (
        &["services.rsh", "services.inetd"],
        "xinetd service login enabled",
        |r| {
            enable(r, "xinetd.service", "multi-user.target");
            write(
                r,
                "/etc/xinetd.d/rlogin",
                "service login\n{\n\tsocket_type = stream\n\tdisable = no\n}\n",
            );
            write(
                r,
                "/etc/xinetd.d/telnet",
                "service telnet\n{\n\tdisable = yes\n}\n",
            );
        },
    ),
    (&["services.tftp"], "tftpd-hpa.service enabled", |r| {
        enable(r, "tftpd-hpa.service", "multi-user.target")
    }),
    (&["services.inetd"], "xinetd.service enabled", |r| {
        enable(r, "xinetd.service", "multi-user.target")
    }),
    (&["services.avahi"], "avahi-daemon.service enabled", |r| {
        enable(r, "avahi-daemon.service", "multi-user.target")
    }),
    (&["services.cups"], "cups.socket enabled", |r| {
        enable(r, "cups.socket", "sockets.target")
    }),
    (&["services.rpcbind"], "rpcbind.socket enabled", |r| {
        enable(r, "rpcbind.socket", "sockets.target")
    }),
    (
        &["services.nfs-server"],
        "nfs-server.service enabled",
        |r| enable(r, "nfs-server.service", "multi-user.target"),
    ),
    (&["services.snmpd"], "snmpd.service enabled", |r| {
        enable(r, "snmpd.service", "multi-user.target")
    }),
    (&["services.nis-server"], "ypserv.service enabled", |r| {
        enable(r, "ypserv.service", "multi-user.target")
    }),
    (
        &["services.dhcp-server"],
        "isc-dhcp-server.service enabled",
        |r| enable(r, "isc-dhcp-server.service", "multi-user.target"),
    ),
    (&["services.samba"], "smbd.service enabled", |r| {
        enable(r, "smbd.service", "multi-user.target")
    }),
    (&["services.rsyncd"], "rsync.service enabled", |r| {
        enable(r, "rsync.service", "multi-user.target")
    }),
    (
        &["services.vsftpd-anonymous"],
        "anonymous_enable=YES",
        |r| {
            replace(
                r,
                "/etc/vsftpd.conf",
                "anonymous_enable=NO",
                "anonymous_enable=YES",
            )
        },
    ),
    (
        &["audit.auditd-enabled"],
        "installed true, enabled false",
        |r| disable(r, "auditd.service", "multi-user.target"),
    ),
    (&["audit.rules"], "0 rules", |r| {
        write(r, "/etc/audit/rules.d/50-identity.rules", "# none\n")
    }),
    (&["logging.remote"], "no log forwarding", |r| {
        write(r, "/etc/rsyslog.conf", "*.* /var/log/messages\n")
    }),
    (&["time.sync"], "no chrony", |r| {
        disable(r, "chrony.service", "multi-user.target")
    }),
    (&["cron.permissions"], "mode 0644", |r| {
        chmod(r, "/etc/crontab", 0o644)
    }),
    // Migration and performance.
    (&["migration.fstab-device-names"], "/dev/sda1 /", |r| {
        replace(r, "/etc/fstab", "UUID=0a1b /", "/dev/sda1 /")
    }),
    (
        &["migration.network-mac-binding"],
        "52:54:00:12:34:56",
        |r| {
            write(
                r,
                "/etc/udev/rules.d/70-persistent-net.rules",
                "SUBSYSTEM==\"net\", ATTR{address}==\"52:54:00:12:34:56\", NAME=\"eth0\"\n",
            )
        },
    ),
    (&["migration.hypervisor-tools"], "open-vm-tools", |r| {
        write(r, "/usr/bin/vmtoolsd", "ELF")
    }),
    (&["migration.qemu-guest-agent"], "no qemu-ga", |r| {
        std::fs::remove_file(r.join("usr/sbin/qemu-ga")).expect("rm")
    }),
    (&["migration.cloud-init"], "cloud-init disabled", |r| {
        write(r, "/etc/cloud/cloud-init.disabled", "")
    }),
    (&["migration.virtio-drivers"], "missing virtio_net", |r| {
        write(
            r,
            "/usr/lib/modules/6.1.0-25-amd64/modules.dep",
            "kernel/drivers/ata/ahci.ko.xz:\n",
        )
    }),
    // A host-only initramfs made on another hypervisor: no virtio disk
    // driver (virtio_blk is a module, not built in).
    (
        &["migration.initramfs-virtio"],
        "virtio_blk or virtio_scsi (a module, not in the initramfs) missing",
        |r| {
            initramfs(
                r,
                "gzip -c",
                &["kernel/drivers/ata/ahci.ko", "kernel/fs/ext4/ext4.ko.xz"],
            )
        },
    ),
    (
        &["migration.root-fs-support"],
        "cannot mount its ext4 root (UUID=",
        |r| {
            initramfs(
                r,
                "xz --check=crc32 -c",
                &[
                    "kernel/drivers/block/virtio_blk.ko.xz",
                    "kernel/drivers/scsi/virtio_scsi.ko.xz",
                ],
            )
        },
    ),
    (
        &["perf.io-scheduler"],
        "/etc/udev/rules.d/60-scheduler.rules:1 queue/scheduler=bfq",
        |r| {
            write(
                r,
                "/etc/udev/rules.d/60-scheduler.rules",
                "ACTION==\"add|change\", KERNEL==\"vd[a-z]\", ATTR{queue/scheduler}=\"bfq\"\n",
            )
        },
    ),
    (
        &["perf.transparent-hugepages"],
        "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y",
        |r| {
            replace(
                r,
                "/boot/config-6.1.0-25-amd64",
                "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE=y",
                "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y",
            )
        },
    ),
    (&["perf.tuned-profile"], "no active profile", |r| {
        std::fs::remove_file(r.join("etc/tuned/active_profile")).expect("rm")
    }),
    (&["perf.swap"], "no swap entry", |r| {
        replace(r, "/etc/fstab", "UUID=0a1f none swap sw 0 0\n", "")
    }),
    (&["perf.noatime"], "/ defaults", |r| {
        replace(
            r,
            "/etc/fstab",
            "/ ext4 defaults,noatime",
            "/ ext4 defaults",
        )
    }),
    (&["perf.journald-limits"], "SystemMaxUse unset", |r| {
        write(
            r,
            "/etc/systemd/journald.conf",
            "[Journal]\nStorage=persistent\n",
        )
    }),
];

fn tested_ids() -> BTreeSet<&'static str> {
    MUTATIONS
        .iter()
        .flat_map(|(ids, _, _)| ids.iter().copied())
        .collect()
}

#[test]
fn hardened_tree_fails_none_of_the_checks() {
    let tmp = tempfile::tempdir().expect("tmp");
    hardened(tmp.path());
    // As a directory tree and as a disk image: the same findings.
    let tree = profile_tree(tmp.path());
    let r = profile_image(tmp.path());
    for id in tested_ids() {
        let f = finding(&r, id);
        assert_eq!(f.status, Status::Pass, "{id}: {f:?}");
    }
    assert_eq!(failing(&r), Vec::<&str>::new());
    assert!(r.findings.iter().all(|f| !f.id.starts_with("mac.selinux")));
    let statuses = |r: &guestkit_profile::ProfileResult| -> Vec<(&str, Status)> {
        r.findings.iter().map(|f| (f.id, f.status)).collect()
    };
    assert_eq!(statuses(&tree), statuses(&r));
}

#[test]
fn each_misconfiguration_fails_exactly_its_check() {
    let mut problems = Vec::new();
    for (ids, evidence, mutate) in MUTATIONS {
        let tmp = tempfile::tempdir().expect("tmp");
        hardened(tmp.path());
        mutate(tmp.path());
        let r = profile_image(tmp.path());
        let got: BTreeSet<&str> = failing(&r).into_iter().collect();
        let want: BTreeSet<&str> = ids.iter().copied().collect();
        if got != want {
            problems.push(format!("{ids:?}: failing {got:?}"));
            continue;
        }
        let f = finding(&r, ids[0]);
        let mut text: Vec<String> = f
            .evidence
            .iter()
            .map(|e| format!("{}:{} {}", e.source, e.line.unwrap_or(0), e.value))
            .collect();
        text.extend(f.note.clone());
        let text = text.join("\n");
        if !text.contains(evidence) {
            problems.push(format!("{ids:?}: evidence {text} lacks {evidence:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_linux_check_is_exercised_or_listed_as_untestable_here() {
    // Checks a directory tree cannot express (or that only report);
    // family-specific checks (SELinux, crypto policy) are in
    // distributions.rs.
    let untestable = ["migration.boot-firmware"];
    let tested = tested_ids();
    for c in guestkit_profile::checks::all() {
        if c.applies.os == guestkit_profile::OsKind::Linux
            && c.applies.families.is_empty()
            && !untestable.contains(&c.id)
        {
            assert!(
                tested.contains(c.id),
                "{} has no misconfiguration test",
                c.id
            );
        }
    }
}

#[test]
fn boot_drivers_and_scheduler_edge_cases() {
    // A corrupt initramfs: the check cannot decide, and says so.
    let tmp = tempfile::tempdir().expect("tmp");
    let r = tmp.path();
    hardened(r);
    // Root modules only as modules, so the initramfs must decide.
    replace(
        r,
        "/boot/config-6.1.0-25-amd64",
        "CONFIG_VIRTIO_PCI=y",
        "CONFIG_VIRTIO_PCI=m",
    );
    let mut img = std::fs::read(r.join("boot/initrd.img-6.1.0-25-amd64")).expect("read");
    let cut = img.len() - 40;
    img.truncate(cut);
    std::fs::write(r.join("boot/initrd.img-6.1.0-25-amd64"), &img).expect("write");
    let p = profile_tree(r);
    let f = finding(&p, "migration.initramfs-virtio");
    assert_eq!(f.status, Status::Error, "{f:?}");
    assert!(
        f.note
            .as_deref()
            .unwrap_or("")
            .contains("/boot/initrd.img-6.1.0-25-amd64: initramfs:"),
        "{f:?}"
    );

    // Root on LVM: device-mapper must be in the initramfs too.
    let tmp = tempfile::tempdir().expect("tmp");
    let r = tmp.path();
    hardened(r);
    replace(
        r,
        "/etc/fstab",
        "UUID=0a1b / ext4",
        "/dev/mapper/vg0-root / ext4",
    );
    let p = profile_tree(r);
    let f = finding(&p, "migration.root-fs-support");
    assert_eq!(f.status, Status::Fail, "{f:?}");
    assert!(f.evidence[0].value.contains("dm_mod missing"), "{f:?}");
    initramfs(
        r,
        "lz4 -q -l -c",
        &[
            "kernel/drivers/block/virtio_blk.ko.xz",
            "kernel/fs/ext4/ext4.ko.xz",
            "kernel/drivers/md/dm-mod.ko.xz",
        ],
    );
    let p = profile_tree(r);
    assert_eq!(
        finding(&p, "migration.root-fs-support").status,
        Status::Pass
    );

    // elevator= on a blk-mq kernel is ignored: the intended setting is lost.
    let tmp = tempfile::tempdir().expect("tmp");
    let r = tmp.path();
    hardened(r);
    write(
        r,
        "/boot/grub/grub.cfg",
        "set superusers=\"root\"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AB.CD\nset default=0\n\
         menuentry 'Debian GNU/Linux' {\n  linux /boot/vmlinuz-6.1.0-25-amd64 root=UUID=0a1b ro elevator=noop\n  initrd /boot/initrd.img-6.1.0-25-amd64\n}\n",
    );
    chmod(r, "/boot/grub/grub.cfg", 0o600);
    let p = profile_tree(r);
    let f = finding(&p, "perf.io-scheduler");
    assert_eq!(f.status, Status::Fail, "{f:?}");
    assert!(
        f.evidence[0]
            .value
            .contains("elevator=noop: ignored by kernel 6.1"),
        "{f:?}"
    );
    // A udev rule choosing none passes, with its line as evidence.
    write(r, "/boot/grub/grub.cfg", "set superusers=\"root\"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AB.CD\nset default=0\n");
    chmod(r, "/boot/grub/grub.cfg", 0o600);
    write(
        r,
        "/usr/lib/udev/rules.d/60-block-scheduler.rules",
        "ACTION==\"add\", ATTR{queue/scheduler}==\"bfq\", ATTR{queue/scheduler}=\"none\"\n",
    );
    let p = profile_tree(r);
    let f = finding(&p, "perf.io-scheduler");
    assert_eq!(f.status, Status::Pass, "{f:?}");
    assert_eq!(f.evidence[0].line, Some(1), "{f:?}");
    assert!(
        f.evidence[0].value.contains("queue/scheduler=none"),
        "{f:?}"
    );
}
