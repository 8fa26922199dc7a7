//! sudoers and the password policy on hand-written Red Hat and Debian
//! style trees.

mod common;

use guestkit_inspect::security::password_policy;
use guestkit_inspect::security::sshd::Location;
use guestkit_inspect::security::sudoers::{self, AliasKind};
use guestkit_inspect::GuestFiles;

fn loc(file: &str, line: usize) -> Location {
    Location {
        file: file.into(),
        line,
    }
}

const RHEL_SUDOERS: &str = "\
## Sudoers allows particular users to run various commands as
## the root user, without needing the root password.
Host_Alias     FILESERVERS = fs1, fs2
User_Alias ADMINS = jsmith, mikem
Cmnd_Alias SOFTWARE = /bin/rpm, /usr/bin/up2date, /usr/bin/yum
Cmnd_Alias EVERYTHING = ALL
Defaults   !visiblepw
Defaults    always_set_home
Defaults    env_reset
Defaults    env_keep =  \"COLORS DISPLAY HOSTNAME HISTSIZE KDEDIR LS_COLORS\"
Defaults    env_keep += \"MAIL QTDIR USERNAME LANG LC_ADDRESS LC_CTYPE\"
Defaults    secure_path = /sbin:/bin:/usr/sbin:/usr/bin
Defaults:ops !authenticate
root\tALL=(ALL) \tALL
%wheel\tALL=(ALL)\tALL
# %wheel\tALL=(ALL)\tNOPASSWD: ALL
ADMINS FILESERVERS = (root) NOPASSWD: SOFTWARE, \\
    EVERYTHING
ops ALL = NOPASSWD: /usr/bin/systemctl restart httpd, PASSWD: ALL
#1001 ALL = (ALL) NOPASSWD:ALL
this line is not sudoers
#includedir /etc/sudoers.d
";

#[test]
fn red_hat_style_sudoers_with_includedir() {
    let t = common::tree(&[
        ("/etc/sudoers", RHEL_SUDOERS),
        (
            "/etc/sudoers.d/cloud-init",
            "# cloud-init\ncloud-user ALL=(ALL) NOPASSWD:ALL\n",
        ),
        ("/etc/sudoers.d/foo~", "backup ALL=(ALL) NOPASSWD: ALL\n"),
        ("/etc/sudoers.d/a.b", "dotted ALL=(ALL) NOPASSWD: ALL\n"),
        ("/etc/sudoers.d/zz-nested", "@include ../sudoers.extra\n"),
        ("/etc/sudoers.extra", "Defaults !authenticate\n"),
    ]);
    let files = GuestFiles::new(&t.tree);
    let s = sudoers::sudoers(&files);
    let w: Vec<String> = files
        .take_warnings()
        .into_iter()
        .map(|w| format!("{}: {}", w.path.unwrap_or_default(), w.message))
        .collect();
    assert_eq!(
        w,
        vec!["/etc/sudoers: line 21: not a Defaults, alias or user specification line".to_string()]
    );
    assert!(s.present);
    assert_eq!(
        s.files,
        vec![
            "/etc/sudoers",
            "/etc/sudoers.d/cloud-init",
            "/etc/sudoers.d/zz-nested",
            "/etc/sudoers.d/../sudoers.extra",
        ]
    );
    assert_eq!(s.defaults.len(), 8);
    assert_eq!(s.defaults[0].params[0].name, "visiblepw");
    assert!(s.defaults[0].params[0].negated);
    assert_eq!(
        s.defaults[4].params[0].value.as_deref(),
        Some("MAIL QTDIR USERNAME LANG LC_ADDRESS LC_CTYPE")
    );
    assert_eq!(s.aliases.len(), 4);
    assert_eq!(s.aliases[0].kind, AliasKind::Host);
    assert_eq!(s.aliases[1].members, vec!["jsmith", "mikem"]);

    assert_eq!(s.rules.len(), 6);
    let wheel = &s.rules[1];
    assert_eq!(wheel.users, vec!["%wheel"]);
    assert_eq!(wheel.at, loc("/etc/sudoers", 15));
    assert_eq!(wheel.commands[0].command, "ALL");
    assert!(!wheel.commands[0].nopasswd());
    let admins = &s.rules[2];
    assert_eq!(admins.at, loc("/etc/sudoers", 17));
    assert_eq!(admins.users_expanded, vec!["jsmith", "mikem"]);
    assert_eq!(admins.hosts, vec!["FILESERVERS"]);
    assert_eq!(admins.commands.len(), 2);
    assert_eq!(admins.commands[1].command, "EVERYTHING");
    assert_eq!(admins.commands[1].tags, vec!["NOPASSWD"]);
    let ops = &s.rules[3];
    assert!(ops.commands[0].nopasswd());
    assert!(
        !ops.commands[1].nopasswd(),
        "PASSWD: overrides the earlier tag"
    );
    assert_eq!(s.rules[4].users, vec!["#1001"]);

    let grants: Vec<(Vec<String>, Location)> = s
        .nopasswd_all
        .iter()
        .map(|g| (g.users.clone(), g.at.clone()))
        .collect();
    assert_eq!(
        grants,
        vec![
            (
                vec!["jsmith".to_string(), "mikem".to_string()],
                loc("/etc/sudoers", 17)
            ),
            (vec!["#1001".to_string()], loc("/etc/sudoers", 20)),
            (
                vec!["cloud-user".to_string()],
                loc("/etc/sudoers.d/cloud-init", 2)
            ),
        ]
    );
    let auth_off: Vec<(Option<String>, Location)> = s
        .authenticate_disabled
        .iter()
        .map(|d| (d.scope.clone(), d.at.clone()))
        .collect();
    assert_eq!(
        auth_off,
        vec![
            (Some(":ops".to_string()), loc("/etc/sudoers", 13)),
            (None, loc("/etc/sudoers.d/../sudoers.extra", 1)),
        ]
    );
}

#[test]
fn sudoers_include_loops_and_missing_files() {
    let t = common::tree(&[(
        "/etc/sudoers",
        "@include /etc/sudoers\n@include /etc/nothere\nroot ALL=(ALL) ALL\n",
    )]);
    let files = GuestFiles::new(&t.tree);
    let s = sudoers::sudoers(&files);
    let w: Vec<String> = files
        .take_warnings()
        .into_iter()
        .map(|w| w.message)
        .collect();
    assert_eq!(
        w,
        vec![
            "include loop: the file includes itself".to_string(),
            "included file not found".to_string()
        ]
    );
    assert_eq!(s.rules.len(), 1);
    let t = common::tree(&[("/etc/hostname", "x\n")]);
    let files = GuestFiles::new(&t.tree);
    let s = sudoers::sudoers(&files);
    assert!(!s.present);
    assert!(files.take_warnings().is_empty());
}

const RHEL_LOGIN_DEFS: &str = "\
MAIL_DIR\t/var/spool/mail
UMASK\t\t022
HOME_MODE\t0700
PASS_MAX_DAYS\t99999
PASS_MIN_DAYS\t0
PASS_WARN_AGE\t7
UID_MIN                  1000
ENCRYPT_METHOD SHA512
SHA_CRYPT_MIN_ROUNDS 5000
SHA_CRYPT_MAX_ROUNDS 10000
PASS_MAX_DAYS\t90
";

const RHEL_SYSTEM_AUTH: &str = "\
# Generated by authselect on Mon Jan  1 00:00:00 2024
# Do not modify this file manually.

auth        required                                     pam_env.so
auth        required                                     pam_faillock.so preauth silent
auth        sufficient                                   pam_unix.so nullok
auth        required                                     pam_faillock.so authfail
auth        required                                     pam_deny.so

account     required                                     pam_faillock.so
account     required                                     pam_unix.so

password    requisite                                    pam_pwquality.so local_users_only minlen=12
password    required                                     pam_pwhistory.so use_authtok remember=24
password    sufficient                                   pam_unix.so sha512 shadow nullok use_authtok
password    required                                     pam_deny.so
";

#[test]
fn red_hat_style_password_policy() {
    let t = common::tree(&[
        ("/etc/login.defs", RHEL_LOGIN_DEFS),
        ("/etc/pam.d/system-auth", RHEL_SYSTEM_AUTH),
        ("/etc/pam.d/password-auth", RHEL_SYSTEM_AUTH),
        (
            "/etc/security/pwquality.conf",
            "# minlen = 9\nminlen = 8\ndcredit = -1\nucredit=-1\nretry = 3\nenforce_for_root\n",
        ),
        (
            "/etc/security/pwquality.conf.d/50-site.conf",
            "minlen = 14 # site\nminclass = 3\n",
        ),
        ("/etc/security/pwquality.conf.d/README", "minlen = 1\n"),
    ]);
    let files = GuestFiles::new(&t.tree);
    let p = password_policy::password_policy(&files);
    assert!(files.take_warnings().is_empty());
    let d = &p.login_defs;
    assert!(d.present);
    assert_eq!(d.pass_max_days, Some(90), "the last line wins");
    assert_eq!(d.pass_min_days, Some(0));
    assert_eq!(d.pass_warn_age, Some(7));
    assert_eq!(d.pass_min_len, None);
    assert_eq!(d.encrypt_method.as_deref(), Some("SHA512"));
    assert_eq!(d.umask.as_deref(), Some("022"));
    assert_eq!(d.sha_crypt_min_rounds, Some(5000));
    assert_eq!(d.sha_crypt_max_rounds, Some(10000));
    assert_eq!(d.yescrypt_cost_factor, None);

    let q = &p.pwquality;
    assert_eq!(
        q.files,
        vec![
            "/etc/security/pwquality.conf",
            "/etc/security/pwquality.conf.d/50-site.conf"
        ]
    );
    assert_eq!(q.minlen, Some(14));
    assert_eq!(q.dcredit, Some(-1));
    assert_eq!(q.ucredit, Some(-1));
    assert_eq!(q.lcredit, None);
    assert_eq!(q.minclass, Some(3));
    assert_eq!(q.retry, Some(3));
    assert!(q.enforce_for_root);

    let pam = &p.pam;
    assert_eq!(
        pam.files,
        vec!["/etc/pam.d/system-auth", "/etc/pam.d/password-auth"]
    );
    assert_eq!(pam.quality_module.as_deref(), Some("pam_pwquality"));
    assert_eq!(pam.lockout_module.as_deref(), Some("pam_faillock"));
    assert_eq!(pam.unix_hash.as_deref(), Some("sha512"));
    assert_eq!(pam.remember, Some(24));
    assert_eq!(
        pam.nullok,
        vec![
            loc("/etc/pam.d/system-auth", 6),
            loc("/etc/pam.d/system-auth", 15),
            loc("/etc/pam.d/password-auth", 6),
            loc("/etc/pam.d/password-auth", 15),
        ]
    );
    let pwq = pam
        .lines
        .iter()
        .find(|l| l.module == "pam_pwquality")
        .unwrap();
    assert_eq!(pwq.arg("minlen"), Some("12"));
    assert_eq!(pwq.at, loc("/etc/pam.d/system-auth", 13));
    assert!(pam.lines.iter().all(|l| l.module != "pam_deny"));
}

#[test]
fn debian_style_password_policy_with_cracklib_and_tally2() {
    let t = common::tree(&[
        ("/etc/login.defs", "PASS_MAX_DAYS 60\nENCRYPT_METHOD yescrypt\nYESCRYPT_COST_FACTOR 7\nPASS_MIN_LEN 10\n"),
        (
            "/etc/pam.d/common-password",
            "password\trequisite\t\t\tpam_cracklib.so retry=3 minlen=8 difok=3\npassword\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt remember=5\npassword\trequisite\t\t\tpam_deny.so\n",
        ),
        (
            "/etc/pam.d/common-auth",
            "auth\trequired\tpam_tally2.so onerr=fail deny=5 unlock_time=900\nauth\t[success=1 default=ignore]\tpam_unix.so\n",
        ),
    ]);
    let files = GuestFiles::new(&t.tree);
    let p = password_policy::password_policy(&files);
    assert!(files.take_warnings().is_empty());
    assert_eq!(p.login_defs.encrypt_method.as_deref(), Some("YESCRYPT"));
    assert_eq!(p.login_defs.yescrypt_cost_factor, Some(7));
    assert_eq!(p.login_defs.pass_min_len, Some(10));
    assert!(p.pwquality.files.is_empty());
    assert_eq!(p.pwquality.minlen, None);
    assert_eq!(p.pam.quality_module.as_deref(), Some("pam_cracklib"));
    assert_eq!(p.pam.lockout_module.as_deref(), Some("pam_tally2"));
    assert_eq!(p.pam.unix_hash.as_deref(), Some("yescrypt"));
    assert_eq!(p.pam.remember, Some(5));
    assert!(p.pam.nullok.is_empty());
}
