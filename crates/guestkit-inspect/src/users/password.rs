//! What a password field says: a usable hash (and which algorithm made
//! it, from `crypt(5)` prefixes), an empty password, a locked hash, or no
//! password at all.

use serde::Serialize;

/// The hashing method of a crypt(3) string, from its prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    /// `$y$`
    Yescrypt,
    /// `$gy$`
    GostYescrypt,
    /// `$7$`
    Scrypt,
    /// `$6$`
    Sha512,
    /// `$5$`
    Sha256,
    /// `$2a$`, `$2b$`, `$2x$`, `$2y$`
    Bcrypt,
    /// `$md5`, Sun's MD5
    SunMd5,
    /// `$1$`
    Md5,
    /// `$3$`, FreeBSD's NT hash
    Nt,
    /// `_` followed by 19 characters: BSDi extended DES
    BsdiDes,
    /// 13 characters of `[./0-9A-Za-z]`: traditional DES
    Des,
    /// Anything else (the system cannot verify it: effectively locked).
    #[default]
    Unknown,
}

impl HashAlgorithm {
    /// The algorithm of the crypt string `hash`.
    pub fn of(hash: &str) -> HashAlgorithm {
        let des_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
        if hash.starts_with("$y$") {
            HashAlgorithm::Yescrypt
        } else if hash.starts_with("$gy$") {
            HashAlgorithm::GostYescrypt
        } else if hash.starts_with("$7$") {
            HashAlgorithm::Scrypt
        } else if hash.starts_with("$6$") {
            HashAlgorithm::Sha512
        } else if hash.starts_with("$5$") {
            HashAlgorithm::Sha256
        } else if ["$2a$", "$2b$", "$2x$", "$2y$", "$2$"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            HashAlgorithm::Bcrypt
        } else if hash.starts_with("$md5") {
            HashAlgorithm::SunMd5
        } else if hash.starts_with("$1$") {
            HashAlgorithm::Md5
        } else if hash.starts_with("$3$") {
            HashAlgorithm::Nt
        } else if hash.len() == 20 && hash.starts_with('_') && hash.chars().skip(1).all(des_char) {
            HashAlgorithm::BsdiDes
        } else if hash.len() == 13 && hash.chars().all(des_char) {
            HashAlgorithm::Des
        } else {
            HashAlgorithm::Unknown
        }
    }
}

/// The state of an account's password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PasswordState {
    /// A hash: password login works.
    Set { algorithm: HashAlgorithm },
    /// An empty field: login needs no password at all.
    Empty,
    /// A hash behind a lock marker (`passwd -l` puts `!` in front; `*`
    /// and `!!` also lock). `marker` is the prefix, `algorithm` what the
    /// hash behind it is.
    Locked {
        marker: String,
        algorithm: HashAlgorithm,
    },
    /// No password was ever set: `marker` is the whole field (`*`, `!`,
    /// `!!`, `!*`, …). Password login is impossible; other methods (keys)
    /// may still work.
    NoPassword { marker: String },
    /// passwd says the password is in shadow (`x`) but shadow has no
    /// entry for the account (or there is no shadow file).
    #[default]
    NoShadowEntry,
}

impl PasswordState {
    /// The state a password field (from shadow, or from passwd when it
    /// holds the hash itself) describes.
    pub fn of_field(field: &str) -> PasswordState {
        if field.is_empty() {
            return PasswordState::Empty;
        }
        let marker_len = field
            .char_indices()
            .find(|(_, c)| *c != '!' && *c != '*')
            .map_or(field.len(), |(i, _)| i);
        let (marker, hash) = field.split_at(marker_len);
        if hash.is_empty() {
            return PasswordState::NoPassword {
                marker: marker.to_string(),
            };
        }
        if !marker.is_empty() {
            return PasswordState::Locked {
                marker: marker.to_string(),
                algorithm: HashAlgorithm::of(hash),
            };
        }
        match HashAlgorithm::of(hash) {
            // Not a crypt string ("x" where shadow is absent, "LK", …):
            // nothing can match it, the account is locked in effect.
            HashAlgorithm::Unknown => PasswordState::Locked {
                marker: String::new(),
                algorithm: HashAlgorithm::Unknown,
            },
            algorithm => PasswordState::Set { algorithm },
        }
    }

    /// Whether password login can succeed (a hash, or no password at all).
    pub fn allows_password_login(&self) -> bool {
        matches!(self, PasswordState::Set { .. } | PasswordState::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms() {
        let cases = [
            ("$y$j9T$salt$hash", HashAlgorithm::Yescrypt),
            ("$gy$j9T$salt$hash", HashAlgorithm::GostYescrypt),
            ("$6$salt$hash", HashAlgorithm::Sha512),
            ("$5$rounds=5000$salt$hash", HashAlgorithm::Sha256),
            ("$1$salt$hash", HashAlgorithm::Md5),
            ("$2b$12$abcdefghijklmnopqrstuv", HashAlgorithm::Bcrypt),
            ("$2y$10$x", HashAlgorithm::Bcrypt),
            ("abJnggxhB/yWI", HashAlgorithm::Des),
            ("_J9..rasmBYk8r9AiWNc", HashAlgorithm::BsdiDes),
            ("$9$what", HashAlgorithm::Unknown),
        ];
        for (hash, want) in cases {
            assert_eq!(HashAlgorithm::of(hash), want, "{hash}");
        }
    }

    #[test]
    fn states() {
        assert_eq!(PasswordState::of_field(""), PasswordState::Empty);
        for m in ["*", "!", "!!", "!*"] {
            assert_eq!(
                PasswordState::of_field(m),
                PasswordState::NoPassword {
                    marker: m.to_string()
                }
            );
        }
        assert_eq!(
            PasswordState::of_field("!$6$s$h"),
            PasswordState::Locked {
                marker: "!".into(),
                algorithm: HashAlgorithm::Sha512
            }
        );
        assert_eq!(
            PasswordState::of_field("*LK*$y$x"),
            PasswordState::Locked {
                marker: "*".into(),
                algorithm: HashAlgorithm::Unknown
            }
        );
        assert_eq!(
            PasswordState::of_field("$y$j9T$a$b"),
            PasswordState::Set {
                algorithm: HashAlgorithm::Yescrypt
            }
        );
        assert!(!PasswordState::of_field("!").allows_password_login());
        assert!(PasswordState::of_field("").allows_password_login());
    }
}
