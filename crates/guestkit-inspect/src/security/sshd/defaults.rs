//! OpenSSH's compiled-in sshd defaults by version, from upstream's
//! `servconf.c` (`fill_default_server_options`) and `myproposal.h`
//! (`KEX_SERVER_*`) at each release tag. Distributions patch some of them
//! (Debian and Red Hat ship `UsePAM yes` in the config file rather than in
//! the binary), so these are upstream's values; a distribution's choices
//! show up as lines of its shipped config.

/// An OpenSSH release: (major, minor), e.g. (9, 2) for 9.2p1.
pub type Version = (u32, u32);

/// The newest release whose defaults this table knows; used when the
/// version is unknown.
pub const LATEST: Version = (10, 0);

/// The upstream version in a package version: `1:9.2p1-2+deb12u3` →
/// (9, 2), `8.7p1-38.el9` → (8, 7), `10.0p2` → (10, 0).
pub fn parse_version(package_version: &str) -> Option<Version> {
    let v = package_version.trim();
    // dpkg epoch: digits then ':'.
    let v = match v.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => v,
    };
    let mut parts = v.splitn(2, '.');
    let major: u32 = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let minor_digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let minor: u32 = minor_digits.parse().ok()?;
    Some((major, minor))
}

fn join(names: &[&str]) -> String {
    names.join(",")
}

/// The default server cipher list.
pub fn ciphers(v: Version) -> String {
    if v >= (10, 0) {
        join(&[
            "chacha20-poly1305@openssh.com",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
            "aes128-ctr",
            "aes192-ctr",
            "aes256-ctr",
        ])
    } else if v >= (6, 9) {
        join(&[
            "chacha20-poly1305@openssh.com",
            "aes128-ctr",
            "aes192-ctr",
            "aes256-ctr",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
        ])
    } else if v >= (6, 7) {
        join(&[
            "aes128-ctr",
            "aes192-ctr",
            "aes256-ctr",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
            "chacha20-poly1305@openssh.com",
        ])
    } else {
        // 6.5 and 6.6 (older releases lack chacha20 and GCM but share the
        // weak CBC and arcfour ciphers that matter here).
        join(&[
            "aes128-ctr",
            "aes192-ctr",
            "aes256-ctr",
            "arcfour256",
            "arcfour128",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
            "chacha20-poly1305@openssh.com",
            "aes128-cbc",
            "3des-cbc",
            "blowfish-cbc",
            "cast128-cbc",
            "aes192-cbc",
            "aes256-cbc",
            "arcfour",
            "rijndael-cbc@lysator.liu.se",
        ])
    }
}

/// The default server MAC list.
pub fn macs(v: Version) -> String {
    if v >= (6, 7) {
        join(&[
            "umac-64-etm@openssh.com",
            "umac-128-etm@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha1-etm@openssh.com",
            "umac-64@openssh.com",
            "umac-128@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512",
            "hmac-sha1",
        ])
    } else {
        join(&[
            "hmac-md5-etm@openssh.com",
            "hmac-sha1-etm@openssh.com",
            "umac-64-etm@openssh.com",
            "umac-128-etm@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-ripemd160-etm@openssh.com",
            "hmac-sha1-96-etm@openssh.com",
            "hmac-md5-96-etm@openssh.com",
            "hmac-md5",
            "hmac-sha1",
            "umac-64@openssh.com",
            "umac-128@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512",
            "hmac-ripemd160",
            "hmac-ripemd160@openssh.com",
            "hmac-sha1-96",
            "hmac-md5-96",
        ])
    }
}

const ECDH: [&str; 3] = [
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
];
const DH_SHA2: [&str; 4] = [
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
];

/// The default server key exchange list.
pub fn kex(v: Version) -> String {
    let mut out: Vec<&str> = Vec::new();
    if v >= (10, 0) {
        out.extend([
            "mlkem768x25519-sha256",
            "sntrup761x25519-sha512",
            "sntrup761x25519-sha512@openssh.com",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
        ]);
        out.extend(ECDH);
    } else if v >= (9, 9) {
        out.extend([
            "sntrup761x25519-sha512",
            "sntrup761x25519-sha512@openssh.com",
            "mlkem768x25519-sha256",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
        ]);
        out.extend(ECDH);
        out.extend(DH_SHA2);
    } else if v >= (9, 0) {
        out.extend([
            "sntrup761x25519-sha512@openssh.com",
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
        ]);
        out.extend(ECDH);
        out.extend(DH_SHA2);
    } else if v >= (8, 2) {
        out.extend(["curve25519-sha256", "curve25519-sha256@libssh.org"]);
        out.extend(ECDH);
        if v >= (8, 9) {
            out.push("sntrup761x25519-sha512@openssh.com");
        }
        out.extend(DH_SHA2);
    } else if v >= (7, 3) {
        if v >= (7, 4) {
            out.push("curve25519-sha256");
        }
        out.push("curve25519-sha256@libssh.org");
        out.extend(ECDH);
        out.extend(DH_SHA2);
        out.push("diffie-hellman-group14-sha1");
    } else if v >= (6, 7) {
        out.push("curve25519-sha256@libssh.org");
        out.extend(ECDH);
        out.extend([
            "diffie-hellman-group-exchange-sha256",
            "diffie-hellman-group14-sha1",
        ]);
    } else {
        if v >= (6, 5) {
            out.push("curve25519-sha256@libssh.org");
        }
        out.extend(ECDH);
        out.extend([
            "diffie-hellman-group-exchange-sha256",
            "diffie-hellman-group-exchange-sha1",
            "diffie-hellman-group14-sha1",
            "diffie-hellman-group1-sha1",
        ]);
    }
    join(&out)
}

/// Keywords whose value is a comma-separated algorithm list that may be
/// written relative to the default (`+`, `-`, `^`).
pub const ALGORITHM_LISTS: &[&str] = &["Ciphers", "MACs", "KexAlgorithms"];

/// The canonical spelling of every keyword given a default here, with that
/// default for version `v` (`None`: no value, e.g. `Banner none`).
pub fn default_of(keyword: &str, v: Version) -> Option<String> {
    let s = |x: &str| Some(x.to_string());
    match keyword {
        "PermitRootLogin" => {
            if v >= (7, 0) {
                s("prohibit-password")
            } else {
                s("yes")
            }
        }
        "Protocol" => s("2"),
        "PasswordAuthentication" => s("yes"),
        "PermitEmptyPasswords" => s("no"),
        "X11Forwarding" => s("no"),
        "X11UseLocalhost" => s("yes"),
        "MaxAuthTries" => s("6"),
        "MaxSessions" => s("10"),
        "MaxStartups" => s("10:30:100"),
        "PubkeyAuthentication" => s("yes"),
        "UsePAM" => s("no"),
        "ClientAliveInterval" => s("0"),
        "ClientAliveCountMax" => s("3"),
        "LoginGraceTime" => s("120"),
        "Banner" => s("none"),
        "LogLevel" => s("INFO"),
        "SyslogFacility" => s("AUTH"),
        "HostbasedAuthentication" => s("no"),
        "IgnoreRhosts" => s("yes"),
        "PermitUserEnvironment" => s("no"),
        "AllowTcpForwarding" => s("yes"),
        "AllowAgentForwarding" => s("yes"),
        "AllowStreamLocalForwarding" => s("yes"),
        "GatewayPorts" => s("no"),
        "PermitTunnel" => s("no"),
        "PermitTTY" => s("yes"),
        "StrictModes" => s("yes"),
        "TCPKeepAlive" => s("yes"),
        "PrintMotd" => s("yes"),
        "PrintLastLog" => s("yes"),
        "KbdInteractiveAuthentication" => s("yes"),
        "KerberosAuthentication" => s("no"),
        "GSSAPIAuthentication" => s("no"),
        "UseDNS" => {
            if v >= (6, 8) {
                s("no")
            } else {
                s("yes")
            }
        }
        // `delayed` became a synonym of `yes` in 7.4 (sshd -T says yes).
        "Compression" => {
            if v >= (7, 4) {
                s("yes")
            } else {
                s("delayed")
            }
        }
        "Port" => s("22"),
        "AddressFamily" => s("any"),
        "AuthorizedKeysFile" => s(".ssh/authorized_keys .ssh/authorized_keys2"),
        "AuthenticationMethods" => s("any"),
        "DisableForwarding" => s("no"),
        "ChrootDirectory" => s("none"),
        "ForceCommand" => s("none"),
        "PermitOpen" => s("any"),
        "AllowUsers" | "AllowGroups" | "DenyUsers" | "DenyGroups" | "AcceptEnv"
        | "ListenAddress" | "HostKey" | "Subsystem" => None,
        "Ciphers" => Some(ciphers(v)),
        "MACs" => Some(macs(v)),
        "KexAlgorithms" => Some(kex(v)),
        _ => None,
    }
}

/// Every keyword the report always lists (with its default when unset).
pub const REPORTED: &[&str] = &[
    "AcceptEnv",
    "AddressFamily",
    "AllowAgentForwarding",
    "AllowGroups",
    "AllowStreamLocalForwarding",
    "AllowTcpForwarding",
    "AllowUsers",
    "AuthenticationMethods",
    "AuthorizedKeysFile",
    "Banner",
    "ChrootDirectory",
    "Ciphers",
    "ClientAliveCountMax",
    "ClientAliveInterval",
    "Compression",
    "DenyGroups",
    "DenyUsers",
    "DisableForwarding",
    "ForceCommand",
    "GatewayPorts",
    "GSSAPIAuthentication",
    "HostbasedAuthentication",
    "HostKey",
    "IgnoreRhosts",
    "KbdInteractiveAuthentication",
    "KerberosAuthentication",
    "KexAlgorithms",
    "ListenAddress",
    "LoginGraceTime",
    "LogLevel",
    "MACs",
    "MaxAuthTries",
    "MaxSessions",
    "MaxStartups",
    "PasswordAuthentication",
    "PermitEmptyPasswords",
    "PermitOpen",
    "PermitRootLogin",
    "PermitTTY",
    "PermitTunnel",
    "PermitUserEnvironment",
    "Port",
    "PrintLastLog",
    "PrintMotd",
    "Protocol",
    "PubkeyAuthentication",
    "StrictModes",
    "Subsystem",
    "SyslogFacility",
    "TCPKeepAlive",
    "UseDNS",
    "UsePAM",
    "X11Forwarding",
    "X11UseLocalhost",
];

/// Keywords whose every line adds to the value instead of the first line
/// winning.
pub const ACCUMULATING: &[&str] = &[
    "AllowUsers",
    "AllowGroups",
    "DenyUsers",
    "DenyGroups",
    "AcceptEnv",
    "ListenAddress",
    "HostKey",
    "HostCertificate",
    "Port",
    "Subsystem",
];

/// Old spellings sshd still accepts, mapped to the keyword they set.
pub fn alias_of(lower: &str) -> Option<&'static str> {
    match lower {
        "challengeresponseauthentication" => Some("KbdInteractiveAuthentication"),
        "pubkeyacceptedkeytypes" => Some("PubkeyAcceptedAlgorithms"),
        "hostbasedacceptedkeytypes" => Some("HostbasedAcceptedAlgorithms"),
        "dsaauthentication" => Some("PubkeyAuthentication"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("1:9.2p1-2+deb12u3"), Some((9, 2)));
        assert_eq!(parse_version("8.7p1-38.el9"), Some((8, 7)));
        assert_eq!(parse_version("10.0p2-1"), Some((10, 0)));
        assert_eq!(parse_version("1:7.4p1-10+deb9u7"), Some((7, 4)));
        assert_eq!(parse_version("6.6.1p1-2ubuntu2"), Some((6, 6)));
        assert_eq!(parse_version("garbage"), None);
        assert_eq!(parse_version(":"), None);
    }

    #[test]
    fn defaults_by_version() {
        assert_eq!(
            default_of("PermitRootLogin", (6, 9)).as_deref(),
            Some("yes")
        );
        assert_eq!(
            default_of("PermitRootLogin", (7, 0)).as_deref(),
            Some("prohibit-password")
        );
        assert!(kex((7, 4)).ends_with("diffie-hellman-group14-sha1"));
        assert!(!kex((8, 2)).contains("group14-sha1"));
        assert!(kex((9, 2)).starts_with("sntrup761x25519-sha512@openssh.com,curve25519-sha256,"));
        assert!(ciphers((6, 6)).contains("3des-cbc"));
        assert!(ciphers((10, 0)).starts_with("chacha20-poly1305@openssh.com,aes128-gcm"));
        assert!(macs((6, 5)).contains("hmac-md5"));
        assert!(!macs((9, 2)).contains("md5"));
    }
}
