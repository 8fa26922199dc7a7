//! Image checksums: `sha256:<64 hex digits>` or the 64 hex digits alone.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The one digest algorithm the protocol accepts.
pub const SHA256_PREFIX: &str = "sha256";

/// At most this many characters of an unsupported algorithm name are kept in
/// [`ChecksumError::UnsupportedAlgorithm`].
const MAX_ECHOED_ALGORITHM: usize = 32;

/// Why a checksum text is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// An `algorithm:` prefix other than `sha256:`.
    #[error(
        "unsupported checksum algorithm `{0}` (only sha256 is accepted: `sha256:<64 hex digits>`)"
    )]
    UnsupportedAlgorithm(String),
    /// The digest is not 64 characters long.
    #[error("a sha256 digest has 64 hex digits, this one has {0} characters")]
    BadLength(usize),
    /// The digest has a character that is not a hex digit.
    #[error("a sha256 digest is hex digits only, found {0:?}")]
    NotHex(char),
}

/// A SHA-256 digest of an image, as given by `image.checksum`.
///
/// Parses `sha256:<hex>` (any case for the prefix and the digits) and bare
/// 64-digit hex; prints and serializes as `sha256:<lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum {
    digest: [u8; 32],
}

impl Checksum {
    /// The checksum of these 32 digest bytes.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Checksum { digest }
    }

    /// Parses `sha256:<hex>` or bare hex.
    pub fn parse(text: &str) -> Result<Self, ChecksumError> {
        let text = text.trim();
        let hex = match text.split_once(':') {
            Some((algorithm, rest)) => {
                if !algorithm.eq_ignore_ascii_case(SHA256_PREFIX) {
                    // Untrusted text: the error names at most the first
                    // MAX_ECHOED_ALGORITHM characters of it.
                    let algorithm = algorithm.chars().take(MAX_ECHOED_ALGORITHM).collect();
                    return Err(ChecksumError::UnsupportedAlgorithm(algorithm));
                }
                rest
            }
            None => text,
        };
        let count = hex.chars().count();
        if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            // A wrong length with valid digits says "length"; a stray
            // character (`abc123...`) says which one.
            return Err(ChecksumError::NotHex(bad));
        }
        if count != 64 {
            return Err(ChecksumError::BadLength(count));
        }
        let mut digest = [0u8; 32];
        for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let high = hex_value(pair.first().copied());
            let low = hex_value(pair.get(1).copied());
            *byte = (high << 4) | low;
        }
        Ok(Checksum { digest })
    }

    /// The 32 digest bytes.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The digest as 64 lowercase hex digits (no prefix).
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.digest {
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
        out
    }

    /// The algorithm name, always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        SHA256_PREFIX
    }

    /// True when `other_hex` (bare hex or `sha256:` form, any case) is the
    /// same digest.
    pub fn matches(&self, other: &str) -> bool {
        Checksum::parse(other).is_ok_and(|c| c == *self)
    }
}

/// The value of one hex digit already checked by the caller.
fn hex_value(c: Option<u8>) -> u8 {
    match c {
        Some(c @ b'0'..=b'9') => c - b'0',
        Some(c @ b'a'..=b'f') => c - b'a' + 10,
        Some(c @ b'A'..=b'F') => c - b'A' + 10,
        _ => 0,
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

impl FromStr for Checksum {
    type Err = ChecksumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Checksum::parse(s)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SHA256_PREFIX}:{}", self.hex())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

impl Serialize for Checksum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        Checksum::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Checksum {
    fn schema_name() -> Cow<'static, str> {
        "Checksum".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "SHA-256 digest of the image: `sha256:<64 hex digits>` or the 64 hex digits alone.",
            "pattern": "^([sS][hH][aA]256:)?[0-9a-fA-F]{64}$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn prefixed_and_bare_forms_are_the_same_digest() {
        let a = Checksum::parse(&format!("sha256:{EMPTY}")).unwrap();
        let b = Checksum::parse(EMPTY).unwrap();
        let c = Checksum::parse(&format!("SHA256:{}", EMPTY.to_uppercase())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.hex(), EMPTY);
        assert_eq!(a.to_string(), format!("sha256:{EMPTY}"));
        assert_eq!(a.digest()[0], 0xe3);
        assert_eq!(a.digest()[31], 0x55);
        assert!(a.matches(EMPTY));
        assert_eq!(Checksum::from_digest(*a.digest()), a);
    }

    #[test]
    fn other_algorithms_and_bad_digests_are_refused() {
        assert_eq!(
            Checksum::parse("md5:d41d8cd98f00b204e9800998ecf8427e"),
            Err(ChecksumError::UnsupportedAlgorithm("md5".into()))
        );
        assert_eq!(
            Checksum::parse("sha256:abc123..."),
            Err(ChecksumError::NotHex('.'))
        );
        assert_eq!(Checksum::parse("abcd"), Err(ChecksumError::BadLength(4)));
        assert_eq!(Checksum::parse(""), Err(ChecksumError::BadLength(0)));
        assert!(Checksum::parse(&format!("{EMPTY}00")).is_err());
        assert!(Checksum::parse("sha256:é").is_err());
        // Untrusted input is not echoed in full.
        let long = format!("{}:{EMPTY}", "x".repeat(10_000));
        let Err(ChecksumError::UnsupportedAlgorithm(name)) = Checksum::parse(&long) else {
            panic!("expected an unsupported algorithm");
        };
        assert_eq!(name.chars().count(), MAX_ECHOED_ALGORITHM);
    }

    #[test]
    fn serde_round_trip() {
        let c: Checksum = serde_json::from_str(&format!("\"{EMPTY}\"")).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text, format!("\"sha256:{EMPTY}\""));
        let back: Checksum = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
        let err = serde_json::from_str::<Checksum>("\"sha1:abc\"").unwrap_err();
        assert!(err.to_string().contains("sha1"), "{err}");
    }
}
