//! Users, sshd, sudoers and password policy of the real Debian 12 guest
//! (mmdebstrap, configured by `guestkit_fixtures::debian`), checked against
//! its files and, where the test runs as root, against the guest's own
//! tools run in a chroot that only reads (`passwd -S -a`, `id -nG`,
//! `visudo -c`, and `sshd -T` in a private mount namespace with a tmpfs
//! on the guest's `/run`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use guestkit_inspect::security::sshd::{Location, Origin};
use guestkit_inspect::security::{password_policy, sshd, sudoers};
use guestkit_inspect::users::{self, HashAlgorithm, PasswordState};
use guestkit_inspect::GuestFiles;

fn rootfs() -> PathBuf {
    guestkit_fixtures::debian::debian_tree().expect("the Debian guest fixture")
}

/// Output of `chroot ROOT args…`, `None` where chroot is not possible
/// (not root), with a note saying so.
fn in_guest(root: &Path, script: &str) -> Option<String> {
    let out = Command::new("unshare")
        .arg("-m")
        .arg("sh")
        .arg("-c")
        .arg(format!(
            "mount -t tmpfs tmpfs '{r}/run' && mkdir '{r}/run/sshd' && chroot '{r}' {script}",
            r = root.display()
        ))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "skipping the comparison with the guest's `{script}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// 1-based number of the first line of `path` equal to `line`.
fn line_of(path: &Path, line: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().position(|l| l == line).expect(line) + 1
}

fn at(file: &str, line: usize) -> Origin {
    Origin::File {
        file: file.into(),
        line,
        more: vec![],
    }
}

#[test]
fn debian_accounts() {
    let root = rootfs();
    let tree = common::open(&root);
    let files = GuestFiles::new(&tree);
    let s = users::inspect(&files);
    assert!(files.take_warnings().is_empty());
    let user = |name: &str| s.users.iter().find(|u| u.name == name).unwrap();

    let alice = user("alice");
    assert_eq!((alice.uid, alice.gid), (1000, 1000));
    assert_eq!(alice.gecos, "Alice Admin");
    assert_eq!(alice.home, "/home/alice");
    assert!(alice.login_shell);
    assert_eq!(
        alice.password,
        PasswordState::Set {
            algorithm: HashAlgorithm::Yescrypt
        }
    );
    assert_eq!(alice.supplementary_groups, vec!["sudo"]);
    assert!(alice.admin);

    // useradd left bob without a password ("!"), and `passwd -l` on that
    // keeps the single "!": no hash behind the lock.
    let bob = user("bob");
    assert_eq!(
        bob.password,
        PasswordState::NoPassword { marker: "!".into() }
    );
    assert!(!bob.admin);
    assert!(bob.login_shell);

    let svc = user("svc-backup");
    assert_eq!(svc.uid, 990);
    assert_eq!(svc.shell, "/usr/sbin/nologin");
    assert!(!svc.login_shell);
    assert_eq!(
        svc.password,
        PasswordState::NoPassword { marker: "!".into() }
    );
    assert_eq!(svc.aging.as_ref().unwrap().max_days, None);

    let r = user("root");
    assert_eq!(r.uid, 0);
    assert!(r.admin);
    assert_eq!(r.password, PasswordState::NoPassword { marker: "*".into() });
    assert!(s.uid0_non_root.is_empty());
    assert!(s.duplicate_uids.is_empty() && s.duplicate_gids.is_empty());
    assert!(s.shadow_without_account.is_empty());

    // passwd -S: P (usable password), NP (empty), L (locked or none).
    if let Some(out) = in_guest(&root, "passwd -S -a") {
        let status: BTreeMap<&str, &str> = out
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?, w.next()?))
            })
            .collect();
        assert_eq!(status.len(), s.users.len());
        for u in &s.users {
            let ours = match &u.password {
                PasswordState::Set { .. } => "P",
                PasswordState::Empty => "NP",
                _ => "L",
            };
            assert_eq!(status.get(u.name.as_str()), Some(&ours), "{}", u.name);
        }
    }
    if let Some(out) = in_guest(&root, "id -nG alice") {
        let mut theirs: Vec<&str> = out.split_whitespace().collect();
        theirs.sort();
        let mut ours = alice.supplementary_groups.clone();
        ours.extend(alice.primary_group.clone());
        ours.sort();
        assert_eq!(theirs, ours);
    }
}

/// The openssh-server version in the guest's dpkg status, read here by
/// hand.
fn openssh_version(root: &Path) -> String {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let stanza = status
        .split("\n\n")
        .find(|s| s.lines().any(|l| l == "Package: openssh-server"))
        .unwrap();
    stanza
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .unwrap()
        .to_string()
}

#[test]
fn debian_sshd_drop_in_wins() {
    let root = rootfs();
    let tree = common::open(&root);
    let files = GuestFiles::new(&tree);
    let version = openssh_version(&root);
    assert!(version.starts_with("1:9.2p1-2+deb12u"), "{version}");
    let c = sshd::effective_sshd_config(&files, Some(&version));
    assert!(files.take_warnings().is_empty());
    assert_eq!(c.defaults_version, "9.2");
    assert_eq!(
        c.files,
        vec![
            "/etc/ssh/sshd_config",
            "/etc/ssh/sshd_config.d/50-guestkit.conf"
        ]
    );
    let dropin = "/etc/ssh/sshd_config.d/50-guestkit.conf";
    let get = |k: &str| c.get(k).unwrap().clone();
    assert_eq!(get("PermitRootLogin").value.as_deref(), Some("no"));
    assert_eq!(get("PermitRootLogin").origin, at(dropin, 1));
    assert_eq!(get("PasswordAuthentication").value.as_deref(), Some("no"));
    assert_eq!(get("PasswordAuthentication").origin, at(dropin, 2));
    assert_eq!(get("X11Forwarding").value.as_deref(), Some("no"));
    assert_eq!(get("X11Forwarding").origin, at(dropin, 3));
    let main = root.join("etc/ssh/sshd_config");
    assert_eq!(get("UsePAM").value.as_deref(), Some("yes"));
    assert_eq!(
        get("UsePAM").origin,
        at("/etc/ssh/sshd_config", line_of(&main, "UsePAM yes"))
    );
    assert_eq!(get("AcceptEnv").value.as_deref(), Some("LANG LC_*"));
    assert_eq!(get("MaxAuthTries").origin, Origin::Default);
    assert!(c.match_blocks.is_empty());

    let Some(out) = in_guest(&root, "/usr/sbin/sshd -T") else {
        return;
    };
    let mut theirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in out.lines() {
        if let Some((k, v)) = l.split_once(' ') {
            theirs.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    let compared = [
        "PermitRootLogin",
        "PasswordAuthentication",
        "PermitEmptyPasswords",
        "X11Forwarding",
        "X11UseLocalhost",
        "MaxAuthTries",
        "MaxSessions",
        "MaxStartups",
        "Ciphers",
        "MACs",
        "PubkeyAuthentication",
        "UsePAM",
        "ClientAliveInterval",
        "ClientAliveCountMax",
        "LoginGraceTime",
        "Banner",
        "LogLevel",
        "HostbasedAuthentication",
        "IgnoreRhosts",
        "PermitUserEnvironment",
        "AllowTcpForwarding",
        "AllowAgentForwarding",
        "KbdInteractiveAuthentication",
        "GatewayPorts",
        "PermitTunnel",
        "PermitTTY",
        "StrictModes",
        "TCPKeepAlive",
        "PrintMotd",
        "PrintLastLog",
        "UseDNS",
        "Compression",
        "Port",
        "AcceptEnv",
        "Subsystem",
        "SyslogFacility",
    ];
    for k in compared {
        let ours = c.value(k).unwrap_or("");
        let theirs = theirs
            .get(&k.to_ascii_lowercase())
            .map(|v| v.join(" "))
            .unwrap_or_default();
        assert_eq!(ours, theirs, "{k}");
    }
    // Debian backported the standard name of the sntrup761 method into
    // 9.2 (deb12u4 and later): upstream 9.2's list follows it.
    let kex = theirs["kexalgorithms"].join(" ");
    assert_eq!(
        kex,
        format!(
            "sntrup761x25519-sha512,{}",
            c.value("KexAlgorithms").unwrap()
        )
    );
}

#[test]
fn debian_sudoers() {
    let root = rootfs();
    let tree = common::open(&root);
    let files = GuestFiles::new(&tree);
    let s = sudoers::sudoers(&files);
    assert!(files.take_warnings().is_empty());
    assert_eq!(
        s.files,
        vec![
            "/etc/sudoers",
            "/etc/sudoers.d/90-alice",
            "/etc/sudoers.d/README"
        ]
    );
    let main = root.join("etc/sudoers");
    let rules: Vec<(Vec<String>, String, Location)> = s
        .rules
        .iter()
        .map(|r| {
            (
                r.users.clone(),
                format!("{:?}", r.commands[0].runas_users),
                r.at.clone(),
            )
        })
        .collect();
    let l = |file: &str, line: usize| Location {
        file: file.into(),
        line,
    };
    assert_eq!(
        rules,
        vec![
            (
                vec!["root".to_string()],
                "Some([\"ALL\"])".to_string(),
                l("/etc/sudoers", line_of(&main, "root\tALL=(ALL:ALL) ALL"))
            ),
            (
                vec!["%sudo".to_string()],
                "Some([\"ALL\"])".to_string(),
                l("/etc/sudoers", line_of(&main, "%sudo\tALL=(ALL:ALL) ALL"))
            ),
            (
                vec!["alice".to_string()],
                "Some([\"ALL\"])".to_string(),
                l("/etc/sudoers.d/90-alice", 1)
            ),
        ]
    );
    assert_eq!(
        s.rules[1].commands[0].runas_groups,
        Some(vec!["ALL".into()])
    );
    assert!(!s.rules[1].commands[0].nopasswd());
    assert_eq!(s.rules[2].commands[0].tags, vec!["NOPASSWD"]);
    assert_eq!(s.nopasswd_all.len(), 1);
    assert_eq!(s.nopasswd_all[0].users, vec!["alice"]);
    assert_eq!(s.nopasswd_all[0].at, l("/etc/sudoers.d/90-alice", 1));
    assert!(s.authenticate_disabled.is_empty());
    let names: Vec<&str> = s
        .defaults
        .iter()
        .flat_map(|d| d.params.iter().map(|p| p.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec!["env_reset", "mail_badpass", "secure_path", "use_pty"]
    );

    if let Some(out) = in_guest(&root, "visudo -c") {
        let checked: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_suffix(": parsed OK"))
            .collect();
        assert_eq!(checked, s.files);
    }
}

#[test]
fn debian_password_policy() {
    let root = rootfs();
    let tree = common::open(&root);
    let files = GuestFiles::new(&tree);
    let p = password_policy::password_policy(&files);
    assert!(files.take_warnings().is_empty());
    let d = &p.login_defs;
    assert_eq!(d.pass_max_days, Some(99999));
    assert_eq!(d.pass_min_days, Some(0));
    assert_eq!(d.pass_warn_age, Some(7));
    assert_eq!(d.encrypt_method.as_deref(), Some("SHA512"));
    assert_eq!(d.umask.as_deref(), Some("022"));
    assert!(p.pwquality.files.is_empty());
    assert_eq!(
        p.pam.files,
        vec!["/etc/pam.d/common-password", "/etc/pam.d/common-auth"]
    );
    // PAM, not login.defs, hashes passwords on Debian: yescrypt.
    assert_eq!(p.pam.unix_hash.as_deref(), Some("yescrypt"));
    assert_eq!(p.pam.quality_module, None);
    assert_eq!(p.pam.lockout_module, None);
    assert_eq!(p.pam.remember, None);
    let auth = root.join("etc/pam.d/common-auth");
    assert_eq!(
        p.pam.nullok,
        vec![Location {
            file: "/etc/pam.d/common-auth".into(),
            line: line_of(
                &auth,
                "auth\t[success=1 default=ignore]\tpam_unix.so nullok"
            ),
        }]
    );
}
