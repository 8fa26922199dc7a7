//! The effective sshd configuration on hand-written Red Hat and Debian
//! style trees: includes, first value wins, Match blocks, version defaults
//! and relative algorithm lists.

mod common;

use guestkit_inspect::security::sshd::{self, Location, Origin};
use guestkit_inspect::GuestFiles;

fn at(file: &str, line: usize) -> Origin {
    Origin::File {
        file: file.into(),
        line,
        more: vec![],
    }
}

const RHEL_MAIN: &str = "\
#\t$OpenBSD: sshd_config,v 1.104 2021/07/02 05:11:21 dtucker Exp $

# To modify the system-wide sshd configuration, create a  *.conf  file under
#  /etc/ssh/sshd_config.d/  which will be automatically included below
Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#PermitRootLogin prohibit-password
PasswordAuthentication yes
AuthorizedKeysFile\t.ssh/authorized_keys
Subsystem\tsftp\t/usr/libexec/openssh/sftp-server

# Example of overriding settings on a per-user basis
Match User anoncvs
\tX11Forwarding no
\tPermitTTY no
";

const RHEL_50: &str = "\
# This system is following system-wide crypto policy. The changes to
# crypto properties (Ciphers, MACs, ...) will not have any effect in
# this or following included files. To override some configuration option,
# write it before this block or in a file in sshd_config.d/ before 50-redhat.conf.
Include /etc/crypto-policies/back-ends/opensshserver.config

SyslogFacility AUTHPRIV

ChallengeResponseAuthentication no

GSSAPIAuthentication yes
GSSAPICleanupCredentials no

UsePAM yes

X11Forwarding yes

PrintMotd no
";

const CRYPTO_POLICY: &str = "\
Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes128-gcm@openssh.com,aes128-ctr
MACs hmac-sha2-256-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha1,umac-128@openssh.com,hmac-sha2-512
GSSAPIKexAlgorithms gss-curve25519-sha256-,gss-nistp256-sha256-,gss-group14-sha256-,gss-group16-sha512-
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512
";

#[test]
fn red_hat_style_drop_ins_and_crypto_policy() {
    let t = common::tree(&[
        ("/etc/ssh/sshd_config", RHEL_MAIN),
        ("/etc/ssh/sshd_config.d/50-redhat.conf", RHEL_50),
        (
            "/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "PasswordAuthentication no\n",
        ),
        (
            "/etc/crypto-policies/back-ends/opensshserver.config",
            CRYPTO_POLICY,
        ),
    ]);
    let files = GuestFiles::new(&t.tree);
    let c = sshd::effective_sshd_config(&files, Some("8.7p1-38.el9"));
    assert!(files.take_warnings().is_empty());
    assert!(c.present);
    assert_eq!(c.defaults_version, "8.7");
    assert!(!c.version_assumed);
    assert_eq!(
        c.files,
        vec![
            "/etc/ssh/sshd_config",
            "/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "/etc/ssh/sshd_config.d/50-redhat.conf",
            "/etc/crypto-policies/back-ends/opensshserver.config",
        ]
    );
    let get = |k: &str| c.get(k).unwrap().clone();
    // cloud-init's drop-in sorts before 50-redhat and both come before the
    // main file's own line.
    let pa = get("PasswordAuthentication");
    assert_eq!(pa.value.as_deref(), Some("no"));
    assert_eq!(
        pa.origin,
        at("/etc/ssh/sshd_config.d/50-cloud-init.conf", 1)
    );
    let x11 = get("X11Forwarding");
    assert_eq!(x11.value.as_deref(), Some("yes"));
    assert_eq!(x11.origin, at("/etc/ssh/sshd_config.d/50-redhat.conf", 16));
    let ciphers = get("Ciphers");
    assert_eq!(
        ciphers.value.as_deref(),
        Some("aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes128-gcm@openssh.com,aes128-ctr")
    );
    assert_eq!(
        ciphers.origin,
        at("/etc/crypto-policies/back-ends/opensshserver.config", 1)
    );
    // The old name sets the new keyword.
    let kbd = get("KbdInteractiveAuthentication");
    assert_eq!(kbd.value.as_deref(), Some("no"));
    let prl = get("PermitRootLogin");
    assert_eq!(prl.value.as_deref(), Some("prohibit-password"));
    assert_eq!(prl.origin, Origin::Default);
    assert_eq!(c.value("MaxAuthTries"), Some("6"));
    assert_eq!(c.value("UsePAM"), Some("yes"));
    assert_eq!(
        c.value("PermitTTY"),
        Some("yes"),
        "the Match block is not applied"
    );
    assert_eq!(c.value("AllowUsers"), None);
    assert_eq!(c.value("GSSAPICleanupCredentials"), Some("no"));
    assert_eq!(c.match_blocks.len(), 1);
    let m = &c.match_blocks[0];
    assert_eq!(m.criteria, "User anoncvs");
    assert_eq!(
        m.at,
        Location {
            file: "/etc/ssh/sshd_config".into(),
            line: 14
        }
    );
    assert_eq!(m.settings.len(), 2);
    assert_eq!(m.settings[1].keyword, "PermitTTY");
    assert_eq!(m.settings[1].at.line, 16);
}

#[test]
fn include_order_first_match_and_match_scope() {
    let t = common::tree(&[
        (
            "/etc/ssh/sshd_config",
            "permitrootlogin=without-password\n\
             Include sshd_config.d/*.conf extra/one\n\
             AllowUsers alice\n\
             Match Group admins\n\
             \x20 PasswordAuthentication yes\n\
             Include late.conf\n\
             AllowUsers carol\n",
        ),
        (
            "/etc/ssh/sshd_config.d/20-b.conf",
            "MaxAuthTries 3\nPermitRootLogin yes\n",
        ),
        (
            "/etc/ssh/sshd_config.d/10-a.conf",
            "MAXAUTHTRIES 4\nMatch User bob\nPermitEmptyPasswords yes\n",
        ),
        ("/etc/ssh/sshd_config.d/.hidden.conf", "MaxAuthTries 1\n"),
        ("/etc/ssh/sshd_config.d/30-c.conf~", "MaxAuthTries 2\n"),
        (
            "/etc/ssh/extra/one",
            "AllowUsers bob dave\nCiphers -*-cbc,aes128-ctr\nMACs ^hmac-sha2-512-etm@openssh.com\nKexAlgorithms +diffie-hellman-group14-sha1\nLogLevel VERBOSE\n",
        ),
        ("/etc/ssh/late.conf", "LoginGraceTime 30\n"),
    ]);
    let files = GuestFiles::new(&t.tree);
    let c = sshd::effective_sshd_config(&files, Some("1:9.2p1-2+deb12u3"));
    assert!(files.take_warnings().is_empty());
    // The first value wins, and the main file's first line comes first.
    assert_eq!(c.value("PermitRootLogin"), Some("without-password"));
    // 10-a sorts before 20-b; hidden and backup files are not matched.
    let mat = c.get("MaxAuthTries").unwrap();
    assert_eq!(mat.value.as_deref(), Some("4"));
    assert_eq!(mat.origin, at("/etc/ssh/sshd_config.d/10-a.conf", 1));
    // 10-a's Match ends with its file: LogLevel in extra/one is global.
    assert_eq!(c.value("LogLevel"), Some("VERBOSE"));
    assert_eq!(c.value("PermitEmptyPasswords"), Some("no"));
    assert_eq!(c.value("PasswordAuthentication"), Some("yes"));
    assert_eq!(
        c.get("PasswordAuthentication").unwrap().origin,
        Origin::Default
    );
    // Include inside a Match block: its lines belong to the block.
    assert_eq!(c.value("LoginGraceTime"), Some("120"));
    assert_eq!(c.match_blocks.len(), 2);
    assert_eq!(c.match_blocks[0].criteria, "User bob");
    assert_eq!(c.match_blocks[1].criteria, "Group admins");
    let late: Vec<_> = c.match_blocks[1]
        .settings
        .iter()
        .map(|s| (s.keyword.as_str(), s.value.as_str(), s.at.line))
        .collect();
    assert_eq!(
        late,
        vec![
            ("PasswordAuthentication", "yes", 5),
            ("LoginGraceTime", "30", 1),
            ("AllowUsers", "carol", 7)
        ]
    );
    // AllowUsers accumulates over the global lines.
    let au = c.get("AllowUsers").unwrap();
    assert_eq!(au.value.as_deref(), Some("bob dave alice"));
    assert_eq!(
        au.origin,
        Origin::File {
            file: "/etc/ssh/extra/one".into(),
            line: 1,
            more: vec![Location {
                file: "/etc/ssh/sshd_config".into(),
                line: 3
            }]
        }
    );
    let ciphers = c.get("Ciphers").unwrap();
    assert_eq!(ciphers.written.as_deref(), Some("-*-cbc,aes128-ctr"));
    assert_eq!(
        ciphers.value.as_deref(),
        Some("chacha20-poly1305@openssh.com,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com")
    );
    assert_eq!(
        c.value("MACs"),
        Some("hmac-sha2-512-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1")
    );
    assert!(c
        .value("KexAlgorithms")
        .unwrap()
        .ends_with(",diffie-hellman-group14-sha256,diffie-hellman-group14-sha1"));
    assert!(c
        .value("KexAlgorithms")
        .unwrap()
        .starts_with("sntrup761x25519-sha512@openssh.com,"));
}

#[test]
fn loops_depth_and_bad_lines_are_warnings() {
    let mut files_list = vec![
        ("/etc/ssh/sshd_config", "Include /etc/ssh/loop.conf\nPort 22\nPort 2222\nBanner \"/etc/issue.net\nX11Forwarding\n".to_string()),
        ("/etc/ssh/loop.conf", "Include /etc/ssh/sshd_config\nInclude /etc/ssh/d0.conf\n".to_string()),
    ];
    for i in 0..20 {
        files_list.push((
            Box::leak(format!("/etc/ssh/d{i}.conf").into_boxed_str()),
            format!("Include /etc/ssh/d{}.conf\n", i + 1),
        ));
    }
    let refs: Vec<(&str, &str)> = files_list.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let t = common::tree(&refs);
    let files = GuestFiles::new(&t.tree);
    let c = sshd::effective_sshd_config(&files, None);
    let w: Vec<String> = files
        .take_warnings()
        .into_iter()
        .map(|w| format!("{}: {}", w.path.unwrap_or_default(), w.message))
        .collect();
    assert_eq!(
        w,
        vec![
            "/etc/ssh/sshd_config: line 4: unterminated quote".to_string(),
            "/etc/ssh/sshd_config: line 5: no argument after keyword \"X11Forwarding\"".to_string(),
            "/etc/ssh/sshd_config: Include loop: the file includes itself".to_string(),
            "/etc/ssh/d14.conf: line 1: Include nested deeper than 16: not followed".to_string(),
        ]
    );
    assert!(c.version_assumed);
    assert_eq!(c.defaults_version, "10.0");
    assert_eq!(c.value("Port"), Some("22 2222"));
    assert_eq!(c.value("Banner"), Some("none"));
}

#[test]
fn old_versions_and_absent_config() {
    let t = common::tree(&[("/etc/hostname", "x\n")]);
    let files = GuestFiles::new(&t.tree);
    let c = sshd::effective_sshd_config(&files, Some("1:6.6p1-2ubuntu2.13"));
    assert!(!c.present);
    assert!(c.files.is_empty());
    assert_eq!(c.value("PermitRootLogin"), Some("yes"));
    assert_eq!(c.value("UseDNS"), Some("yes"));
    assert!(c.value("Ciphers").unwrap().contains("3des-cbc"));
    assert!(c.value("MACs").unwrap().contains("hmac-md5"));
    assert!(c
        .value("KexAlgorithms")
        .unwrap()
        .ends_with("diffie-hellman-group1-sha1"));
    let c = sshd::effective_sshd_config(&files, Some("not a version"));
    assert!(c.version_assumed);
    assert_eq!(files.take_warnings().len(), 1);
}
