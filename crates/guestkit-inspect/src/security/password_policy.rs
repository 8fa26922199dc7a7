//! The password policy: ageing and hashing defaults from
//! `/etc/login.defs`, quality rules from `/etc/security/pwquality.conf`
//! (and `pwquality.conf.d/*.conf`, read after it and overriding it), and
//! which PAM modules enforce them in the password and auth stacks
//! (Debian's `common-password`/`common-auth`, Red Hat's
//! `system-auth`/`password-auth`), each with file and line.

use serde::Serialize;

use super::sshd::{ConfigSource, GuestSource, Location};
use crate::files::GuestFiles;

pub(crate) const SECTION: &str = "security";

/// shadow-utils' defaults file.
pub const LOGIN_DEFS: &str = "/etc/login.defs";
/// libpwquality's configuration and its drop-in directory.
pub const PWQUALITY_CONF: &str = "/etc/security/pwquality.conf";
pub const PWQUALITY_DIR: &str = "/etc/security/pwquality.conf.d";
/// The PAM stacks read (those present).
pub const PAM_STACKS: &[&str] = &[
    "/etc/pam.d/common-password",
    "/etc/pam.d/common-auth",
    "/etc/pam.d/system-auth",
    "/etc/pam.d/password-auth",
];
/// PAM modules the report names (others are listed too, without flags).
pub const POLICY_MODULES: &[&str] = &[
    "pam_pwquality",
    "pam_cracklib",
    "pam_passwdqc",
    "pam_faillock",
    "pam_tally2",
    "pam_tally",
    "pam_unix",
    "pam_pwhistory",
];
/// Most drop-in files and lines kept per file.
pub const MAX_DROPINS: usize = 256;
pub const MAX_LINES: usize = 20_000;

/// One `key value` setting with where it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub key: String,
    /// Empty for a flag without value (pwquality's `enforce_for_root`).
    pub value: String,
    pub at: Location,
}

/// `/etc/login.defs`: every setting (the last of a key winning, as
/// shadow-utils reads it) and the ones a policy check needs, typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoginDefs {
    pub present: bool,
    pub pass_max_days: Option<i64>,
    pub pass_min_days: Option<i64>,
    pub pass_warn_age: Option<i64>,
    pub pass_min_len: Option<i64>,
    /// `SHA512`, `YESCRYPT`, `MD5`, `DES` … (upper-cased).
    pub encrypt_method: Option<String>,
    /// As written (`022`, `027`).
    pub umask: Option<String>,
    pub sha_crypt_min_rounds: Option<i64>,
    pub sha_crypt_max_rounds: Option<i64>,
    pub yescrypt_cost_factor: Option<i64>,
    pub settings: Vec<Setting>,
}

/// libpwquality's settings after the main file and the drop-ins (later
/// files override earlier ones); module arguments in PAM override these
/// again and are in [`PamLine::args`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PwQuality {
    /// Files read, in order.
    pub files: Vec<String>,
    pub minlen: Option<i64>,
    pub dcredit: Option<i64>,
    pub ucredit: Option<i64>,
    pub lcredit: Option<i64>,
    pub ocredit: Option<i64>,
    pub minclass: Option<i64>,
    pub maxrepeat: Option<i64>,
    pub maxclassrepeat: Option<i64>,
    pub maxsequence: Option<i64>,
    pub difok: Option<i64>,
    pub retry: Option<i64>,
    pub dictcheck: Option<i64>,
    pub usercheck: Option<i64>,
    pub enforcing: Option<i64>,
    pub enforce_for_root: bool,
    pub local_users_only: bool,
    pub settings: Vec<Setting>,
}

/// One module line of a PAM stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PamLine {
    /// `auth`, `account`, `password`, `session` (a leading `-` removed).
    pub kind: String,
    /// `required`, `requisite`, `sufficient`, `optional`, or `[…]`.
    pub control: String,
    /// Module name without directory and `.so` (`pam_unix`).
    pub module: String,
    pub args: Vec<String>,
    pub at: Location,
}

impl PamLine {
    /// The value of `name=value` among the arguments.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args.iter().find_map(|a| {
            a.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }

    /// Whether the flag `name` is among the arguments.
    pub fn has(&self, name: &str) -> bool {
        self.args.iter().any(|a| a == name)
    }
}

/// What the PAM stacks enforce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PamPolicy {
    /// Stacks read.
    pub files: Vec<String>,
    /// Module lines of the policy modules ([`POLICY_MODULES`]).
    pub lines: Vec<PamLine>,
    /// pam_pwquality or pam_cracklib (or pam_passwdqc) in a password stack.
    pub quality_module: Option<String>,
    /// pam_faillock or pam_tally2/pam_tally in an auth stack.
    pub lockout_module: Option<String>,
    /// The hash pam_unix writes (`yescrypt`, `sha512`, `md5` …), from its
    /// password line.
    pub unix_hash: Option<String>,
    /// `remember=` of pam_unix or pam_pwhistory.
    pub remember: Option<i64>,
    /// pam_unix lines with `nullok` (empty passwords accepted).
    pub nullok: Vec<Location>,
}

/// The password policy section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PasswordPolicy {
    pub login_defs: LoginDefs,
    pub pwquality: PwQuality,
    pub pam: PamPolicy,
}

/// `KEY value` lines of login.defs (`#` comments, optional double quotes
/// around the value), in order, with warnings for lines without a value.
pub fn parse_login_defs(text: &str, file: &str) -> (Vec<Setting>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, raw) in text.lines().enumerate().take(MAX_LINES) {
        let line_no = i.saturating_add(1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(2, |c: char| c.is_ascii_whitespace());
        let key = parts.next().unwrap_or("");
        let value = parts.next().unwrap_or("").trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.is_empty() {
            warnings.push(format!("line {line_no}: {key} without a value"));
            continue;
        }
        out.push(Setting {
            key: key.to_string(),
            value: value.to_string(),
            at: Location {
                file: file.to_string(),
                line: line_no,
            },
        });
    }
    (out, warnings)
}

/// `key = value` lines of pwquality.conf (`#` starts a comment anywhere,
/// a key alone is a flag).
pub fn parse_pwquality(text: &str, file: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate().take(MAX_LINES) {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match line.split_once(|c: char| c.is_ascii_whitespace()) {
                Some((k, v)) => (k, v.trim()),
                None => (line, ""),
            },
        };
        out.push(Setting {
            key: key.to_string(),
            value: value.to_string(),
            at: Location {
                file: file.to_string(),
                line: i.saturating_add(1),
            },
        });
    }
    out
}

/// The module lines of a PAM configuration file (continuations joined,
/// bracketed controls and arguments kept whole); `@include` and
/// `include`/`substack` lines are skipped.
pub fn parse_pam(text: &str, file: &str) -> (Vec<PamLine>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    for (i, raw) in text.lines().enumerate().take(MAX_LINES) {
        let line_no = i.saturating_add(1);
        if cur.is_empty() {
            start = line_no;
        }
        if let Some(body) = raw.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(raw);
        let logical = std::mem::take(&mut cur);
        let line = logical.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('@') {
            continue;
        }
        let words = pam_words(line);
        let [kind, control, module, args @ ..] = words.as_slice() else {
            warnings.push(format!(
                "line {start}: expected 'type control module [arguments]'"
            ));
            continue;
        };
        if control == "include" || control == "substack" {
            continue;
        }
        let name = module.rsplit('/').next().unwrap_or(module);
        let name = name.strip_suffix(".so").unwrap_or(name);
        out.push(PamLine {
            kind: kind.trim_start_matches('-').to_ascii_lowercase(),
            control: control.clone(),
            module: name.to_string(),
            args: args.to_vec(),
            at: Location {
                file: file.to_string(),
                line: start,
            },
        });
    }
    (out, warnings)
}

/// Words of a PAM line, `[…]` groups (controls, arguments with spaces)
/// kept as one word (brackets of arguments removed, as PAM does).
fn pam_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in line.chars() {
        match c {
            '[' => {
                depth = depth.saturating_add(1);
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            c if c.is_ascii_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    // Arguments (past type, control and module) lose their brackets.
    for w in words.iter_mut().skip(3) {
        if let Some(inner) = w.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
            *w = inner.replace("\\]", "]");
        }
    }
    words
}

fn int(settings: &[Setting], key: &str) -> Option<i64> {
    settings
        .iter()
        .rev()
        .find(|s| s.key.eq_ignore_ascii_case(key))
        .and_then(|s| s.value.trim().parse().ok())
}

fn text(settings: &[Setting], key: &str) -> Option<String> {
    settings
        .iter()
        .rev()
        .find(|s| s.key == key)
        .map(|s| s.value.clone())
}

/// login.defs from its settings.
pub fn login_defs_of(settings: Vec<Setting>) -> LoginDefs {
    LoginDefs {
        present: true,
        pass_max_days: int(&settings, "PASS_MAX_DAYS"),
        pass_min_days: int(&settings, "PASS_MIN_DAYS"),
        pass_warn_age: int(&settings, "PASS_WARN_AGE"),
        pass_min_len: int(&settings, "PASS_MIN_LEN"),
        encrypt_method: text(&settings, "ENCRYPT_METHOD").map(|m| m.to_ascii_uppercase()),
        umask: text(&settings, "UMASK"),
        sha_crypt_min_rounds: int(&settings, "SHA_CRYPT_MIN_ROUNDS"),
        sha_crypt_max_rounds: int(&settings, "SHA_CRYPT_MAX_ROUNDS"),
        yescrypt_cost_factor: int(&settings, "YESCRYPT_COST_FACTOR"),
        settings,
    }
}

/// pwquality from its settings, in reading order.
pub fn pwquality_of(settings: Vec<Setting>, files: Vec<String>) -> PwQuality {
    let flag = |k: &str| settings.iter().any(|s| s.key == k);
    PwQuality {
        minlen: int(&settings, "minlen"),
        dcredit: int(&settings, "dcredit"),
        ucredit: int(&settings, "ucredit"),
        lcredit: int(&settings, "lcredit"),
        ocredit: int(&settings, "ocredit"),
        minclass: int(&settings, "minclass"),
        maxrepeat: int(&settings, "maxrepeat"),
        maxclassrepeat: int(&settings, "maxclassrepeat"),
        maxsequence: int(&settings, "maxsequence"),
        difok: int(&settings, "difok"),
        retry: int(&settings, "retry"),
        dictcheck: int(&settings, "dictcheck"),
        usercheck: int(&settings, "usercheck"),
        enforcing: int(&settings, "enforcing"),
        enforce_for_root: flag("enforce_for_root"),
        local_users_only: flag("local_users_only"),
        files,
        settings,
    }
}

/// Hash methods pam_unix accepts as flags.
const UNIX_HASHES: &[&str] = &[
    "yescrypt",
    "gost_yescrypt",
    "sha512",
    "sha256",
    "blowfish",
    "bigcrypt",
    "md5",
];

/// What the module lines of the stacks enforce.
pub fn pam_policy_of(all: Vec<PamLine>, files: Vec<String>) -> PamPolicy {
    let lines: Vec<PamLine> = all
        .into_iter()
        .filter(|l| POLICY_MODULES.contains(&l.module.as_str()))
        .collect();
    let quality_module = lines
        .iter()
        .find(|l| {
            l.kind == "password"
                && matches!(
                    l.module.as_str(),
                    "pam_pwquality" | "pam_cracklib" | "pam_passwdqc"
                )
        })
        .map(|l| l.module.clone());
    let lockout_module = lines
        .iter()
        .find(|l| {
            l.kind == "auth"
                && matches!(
                    l.module.as_str(),
                    "pam_faillock" | "pam_tally2" | "pam_tally"
                )
        })
        .map(|l| l.module.clone());
    let unix_password = lines
        .iter()
        .filter(|l| l.module == "pam_unix" && l.kind == "password");
    let unix_hash = unix_password.clone().find_map(|l| {
        l.args
            .iter()
            .rev()
            .find(|a| UNIX_HASHES.contains(&a.as_str()))
            .cloned()
    });
    let remember = lines
        .iter()
        .filter(|l| {
            l.kind == "password" && matches!(l.module.as_str(), "pam_unix" | "pam_pwhistory")
        })
        .find_map(|l| l.arg("remember").and_then(|v| v.parse().ok()));
    let nullok = lines
        .iter()
        .filter(|l| l.module == "pam_unix" && l.has("nullok"))
        .map(|l| l.at.clone())
        .collect();
    PamPolicy {
        files,
        lines,
        quality_module,
        lockout_module,
        unix_hash,
        remember,
        nullok,
    }
}

/// The password policy from `source`.
pub fn password_policy_from(source: &dyn ConfigSource) -> PasswordPolicy {
    let login_defs = match source.read(LOGIN_DEFS) {
        Some(t) => {
            let (settings, warnings) = parse_login_defs(&t, LOGIN_DEFS);
            for w in warnings {
                source.warn(LOGIN_DEFS, w);
            }
            login_defs_of(settings)
        }
        None => LoginDefs::default(),
    };
    let mut pw_settings = Vec::new();
    let mut pw_files = Vec::new();
    let dropins = source
        .list_dir(PWQUALITY_DIR)
        .into_iter()
        .filter(|n| n.ends_with(".conf") && !n.starts_with('.'))
        .take(MAX_DROPINS)
        .map(|n| format!("{PWQUALITY_DIR}/{n}"));
    for path in std::iter::once(PWQUALITY_CONF.to_string()).chain(dropins) {
        if let Some(t) = source.read(&path) {
            pw_settings.extend(parse_pwquality(&t, &path));
            pw_files.push(path);
        }
    }
    let mut pam_lines = Vec::new();
    let mut pam_files = Vec::new();
    for path in PAM_STACKS {
        if let Some(t) = source.read(path) {
            let (lines, warnings) = parse_pam(&t, path);
            for w in warnings {
                source.warn(path, w);
            }
            pam_lines.extend(lines);
            pam_files.push(path.to_string());
        }
    }
    PasswordPolicy {
        login_defs,
        pwquality: pwquality_of(pw_settings, pw_files),
        pam: pam_policy_of(pam_lines, pam_files),
    }
}

/// The password policy of the guest.
pub fn password_policy(files: &GuestFiles) -> PasswordPolicy {
    password_policy_from(&GuestSource {
        files,
        section: SECTION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_defs_last_wins() {
        let (s, w) = parse_login_defs(
            "# c\nPASS_MAX_DAYS\t99999\nPASS_MAX_DAYS 90\nENCRYPT_METHOD yescrypt\nUMASK \"027\"\nLONELY\n",
            "/etc/login.defs",
        );
        assert_eq!(w, vec!["line 6: LONELY without a value".to_string()]);
        let d = login_defs_of(s);
        assert_eq!(d.pass_max_days, Some(90));
        assert_eq!(d.encrypt_method.as_deref(), Some("YESCRYPT"));
        assert_eq!(d.umask.as_deref(), Some("027"));
    }

    #[test]
    fn pam_lines() {
        let (l, w) = parse_pam(
            "#%PAM-1.0\npassword [success=1 default=ignore] pam_unix.so obscure \\\n  yescrypt remember=5\n-auth required /lib/security/pam_faillock.so preauth\n@include common-auth\nauth include system-auth\nbroken\npassword optional pam_x.so [arg with space]\n",
            "/etc/pam.d/x",
        );
        assert_eq!(
            w,
            vec!["line 7: expected 'type control module [arguments]'".to_string()]
        );
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].control, "[success=1 default=ignore]");
        assert_eq!(l[0].module, "pam_unix");
        assert_eq!(l[0].args, vec!["obscure", "yescrypt", "remember=5"]);
        assert_eq!(l[0].at.line, 2);
        assert_eq!(l[1].kind, "auth");
        assert_eq!(l[1].module, "pam_faillock");
        assert_eq!(l[2].args, vec!["arg with space"]);
        let p = pam_policy_of(l, vec![]);
        assert_eq!(p.unix_hash.as_deref(), Some("yescrypt"));
        assert_eq!(p.remember, Some(5));
        assert_eq!(p.lockout_module.as_deref(), Some("pam_faillock"));
        assert_eq!(p.quality_module, None);
    }
}
