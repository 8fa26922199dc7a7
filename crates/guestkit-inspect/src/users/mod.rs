//! Local accounts and groups from `/etc/passwd`, `/etc/shadow` and
//! `/etc/group`: who can log in, how their passwords are stored, who is
//! an administrator, and the anomalies a security profile looks for
//! (extra uid 0 accounts, duplicate ids and names).

pub mod parse;
pub mod password;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::files::{GuestFiles, MAX_CONFIG_BYTES};
pub use parse::{GroupEntry, Parsed, PasswdEntry, ShadowEntry, MAX_ENTRIES};
pub use password::{HashAlgorithm, PasswordState};

pub(crate) const SECTION: &str = "users";

/// Where the account files are.
pub const PASSWD_PATH: &str = "/etc/passwd";
pub const SHADOW_PATH: &str = "/etc/shadow";
pub const GROUP_PATH: &str = "/etc/group";

/// Groups whose members may become root through sudo or su (Debian's
/// `sudo`, Red Hat's `wheel`, Ubuntu's old `admin`).
pub const ADMIN_GROUPS: &[&str] = &["sudo", "wheel", "admin"];

/// Shells (by file name) that refuse an interactive login.
pub const NON_LOGIN_SHELLS: &[&str] = &["nologin", "false", "true", "sync", "halt", "shutdown"];

/// The users section of the report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UsersSection {
    /// Accounts in `/etc/passwd` order.
    pub users: Vec<User>,
    /// Groups in `/etc/group` order.
    pub groups: Vec<Group>,
    /// Whether `/etc/shadow` was found (without it every `x` password is
    /// `no_shadow_entry`).
    pub shadow_present: bool,
    /// NIS compatibility lines (`+`/`-`) in passwd, not accounts of their own.
    pub nis_compat_entries: usize,
    /// Accounts with uid 0 other than `root`.
    pub uid0_non_root: Vec<String>,
    /// Uids shared by more than one account.
    pub duplicate_uids: Vec<DuplicateId>,
    /// Gids shared by more than one group.
    pub duplicate_gids: Vec<DuplicateId>,
    /// Account names listed more than once in passwd.
    pub duplicate_user_names: Vec<String>,
    /// Group names listed more than once in group.
    pub duplicate_group_names: Vec<String>,
    /// Shadow entries without a passwd account (stale or hand-edited).
    pub shadow_without_account: Vec<String>,
}

/// An id held by several names.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DuplicateId {
    pub id: u32,
    pub names: Vec<String>,
}

/// One account.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Name of the group with `gid`, if there is one.
    pub primary_group: Option<String>,
    /// The comment field (full name, room, phone …).
    pub gecos: String,
    pub home: String,
    /// The login shell as written (empty means `/bin/sh`).
    pub shell: String,
    /// Whether the shell allows an interactive login (false for
    /// `nologin`, `false`, `true`, `sync`, `halt`, `shutdown`).
    pub login_shell: bool,
    pub password: PasswordState,
    /// Whether the hash (or emptiness) came from passwd itself rather than
    /// shadow (passwd's field is not `x`).
    pub password_in_passwd: bool,
    /// Password ageing from shadow; `None` without a shadow entry.
    pub aging: Option<PasswordAging>,
    /// Groups listing the account as a member, by name.
    pub supplementary_groups: Vec<String>,
    /// uid 0, or a member (primary or supplementary) of `sudo`, `wheel`
    /// or `admin`.
    pub admin: bool,
    /// Line in `/etc/passwd`.
    pub line: usize,
}

/// The shadow ageing fields: days since 1970-01-01 for dates, days for
/// periods; `None` where the field is empty (no limit).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PasswordAging {
    /// Day of the last password change (0: must change at next login).
    pub last_change: Option<i64>,
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub warn_days: Option<i64>,
    pub inactive_days: Option<i64>,
    /// Day the account expires.
    pub expire: Option<i64>,
}

/// One group.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    /// Members listed in `/etc/group` (not the accounts whose primary
    /// group it is).
    pub members: Vec<String>,
    pub line: usize,
}

/// Whether `shell` allows an interactive login.
pub fn is_login_shell(shell: &str) -> bool {
    let base = shell.trim().rsplit('/').next().unwrap_or("");
    !NON_LOGIN_SHELLS.contains(&base)
}

/// Reads `path` for the users section: its text and whether it was cut.
fn read(files: &GuestFiles, path: &str) -> Option<(String, bool)> {
    let bytes = files.read_prefix(SECTION, path, MAX_CONFIG_BYTES)?;
    let cut = bytes.len() as u64 >= MAX_CONFIG_BYTES;
    Some((String::from_utf8_lossy(&bytes).into_owned(), cut))
}

fn warn_all(files: &GuestFiles, path: &str, warnings: &[String]) {
    for w in warnings {
        files.warn(SECTION, path, w.clone());
    }
}

/// The accounts and groups of the guest. A guest without `/etc/passwd`
/// gives an empty section and a warning; malformed lines are skipped with
/// a warning naming file and line.
pub fn inspect(files: &GuestFiles) -> UsersSection {
    let passwd = match read(files, PASSWD_PATH) {
        Some((text, cut)) => parse::parse_passwd(&text, cut),
        None => {
            files.warn(SECTION, PASSWD_PATH, "no passwd file: no accounts listed");
            Parsed::default()
        }
    };
    let shadow = read(files, SHADOW_PATH).map(|(text, cut)| parse::parse_shadow(&text, cut));
    let group = read(files, GROUP_PATH)
        .map(|(text, cut)| parse::parse_group(&text, cut))
        .unwrap_or_default();
    warn_all(files, PASSWD_PATH, &passwd.warnings);
    if let Some(s) = &shadow {
        warn_all(files, SHADOW_PATH, &s.warnings);
    }
    warn_all(files, GROUP_PATH, &group.warnings);
    assemble(&passwd, shadow.as_ref(), &group)
}

/// The section from parsed files (`shadow` is `None` when there is no
/// shadow file).
pub fn assemble(
    passwd: &Parsed<PasswdEntry>,
    shadow: Option<&Parsed<ShadowEntry>>,
    group: &Parsed<GroupEntry>,
) -> UsersSection {
    // First entry wins for lookups, as getpwnam/getgrgid read the files.
    let mut group_by_gid: HashMap<u32, &str> = HashMap::new();
    let mut groups_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for g in &group.entries {
        group_by_gid.entry(g.gid).or_insert(&g.name);
        for m in &g.members {
            groups_of.entry(m).or_default().insert(&g.name);
        }
    }
    let mut shadow_by_name: HashMap<&str, &ShadowEntry> = HashMap::new();
    if let Some(s) = shadow {
        for e in &s.entries {
            shadow_by_name.entry(&e.name).or_insert(e);
        }
    }
    let users: Vec<User> = passwd
        .entries
        .iter()
        .map(|p| {
            let entry = shadow_by_name.get(p.name.as_str()).copied();
            let password_in_passwd = p.password != "x";
            let password = if password_in_passwd {
                PasswordState::of_field(&p.password)
            } else {
                entry.map_or(PasswordState::NoShadowEntry, |e| {
                    PasswordState::of_field(&e.password)
                })
            };
            let primary_group = group_by_gid.get(&p.gid).map(|g| g.to_string());
            let supplementary_groups: Vec<String> = groups_of
                .get(p.name.as_str())
                .map(|s| s.iter().map(|g| g.to_string()).collect())
                .unwrap_or_default();
            let admin = p.uid == 0
                || supplementary_groups
                    .iter()
                    .chain(primary_group.iter())
                    .any(|g| ADMIN_GROUPS.contains(&g.as_str()));
            User {
                name: p.name.clone(),
                uid: p.uid,
                gid: p.gid,
                primary_group,
                gecos: p.gecos.clone(),
                home: p.home.clone(),
                shell: p.shell.clone(),
                login_shell: is_login_shell(&p.shell),
                password,
                password_in_passwd,
                aging: entry.map(|e| PasswordAging {
                    last_change: e.last_change,
                    min_days: e.min_days,
                    max_days: e.max_days,
                    warn_days: e.warn_days,
                    inactive_days: e.inactive_days,
                    expire: e.expire,
                }),
                supplementary_groups,
                admin,
                line: p.line,
            }
        })
        .collect();
    let groups: Vec<Group> = group
        .entries
        .iter()
        .map(|g| Group {
            name: g.name.clone(),
            gid: g.gid,
            members: g.members.clone(),
            line: g.line,
        })
        .collect();
    let account_names: BTreeSet<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let shadow_without_account = shadow
        .map(|s| {
            s.entries
                .iter()
                .filter(|e| !account_names.contains(e.name.as_str()))
                .map(|e| e.name.clone())
                .collect()
        })
        .unwrap_or_default();
    UsersSection {
        uid0_non_root: users
            .iter()
            .filter(|u| u.uid == 0 && u.name != "root")
            .map(|u| u.name.clone())
            .collect(),
        duplicate_uids: duplicate_ids(users.iter().map(|u| (u.uid, u.name.as_str()))),
        duplicate_gids: duplicate_ids(groups.iter().map(|g| (g.gid, g.name.as_str()))),
        duplicate_user_names: duplicate_names(users.iter().map(|u| u.name.as_str())),
        duplicate_group_names: duplicate_names(groups.iter().map(|g| g.name.as_str())),
        shadow_present: shadow.is_some(),
        nis_compat_entries: passwd.nis_compat,
        shadow_without_account,
        users,
        groups,
    }
}

fn duplicate_ids<'a>(items: impl Iterator<Item = (u32, &'a str)>) -> Vec<DuplicateId> {
    let mut by_id: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (id, name) in items {
        by_id.entry(id).or_default().push(name.to_string());
    }
    by_id
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(id, names)| DuplicateId { id, names })
        .collect()
}

fn duplicate_names<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for name in items {
        let n = count.entry(name).or_default();
        *n = n.saturating_add(1);
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name.to_string())
        .collect()
}
