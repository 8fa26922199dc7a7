//! The users section on hand-written Red Hat and Debian style account
//! files, tricky cases and a hostile (1 GB) passwd.

mod common;

use guestkit_inspect::users::{self, DuplicateId, HashAlgorithm, PasswordState};
use guestkit_inspect::GuestFiles;

const RHEL_PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
sshd:x:74:74:Privilege-separated SSH:/usr/share/empty.sshd:/sbin/nologin
cloud-user:x:1000:1000:Cloud User:/home/cloud-user:/bin/bash
toor:x:0:0:backdoor:/root:/bin/bash
dev:x:1001:1001::/home/dev:/bin/zsh
legacy:$1$abcdefgh$0123456789abcdefghijkl:1002:1002::/home/legacy:/bin/bash
nopw:x:1003:1003::/home/nopw:/bin/bash
clone:x:1001:1001:same uid as dev:/home/clone:/bin/bash
";

const RHEL_SHADOW: &str = "\
root:$6$Wp3yZ3Fo$Yd5l8rWq0ivD4YtYkzVvM0lB2m6oX1XJqE9S1JWjA8H2bY0pV1cQ/:19600:0:99999:7:::
bin:*:19469:0:99999:7:::
daemon:*:19469:0:99999:7:::
sync:*:19469:0:99999:7:::
shutdown:*:19469:0:99999:7:::
halt:*:19469:0:99999:7:::
sshd:!!:19600::::::
cloud-user:!!$6$saltsalt$hashhashhash:19600:1:90:14:30:20000:
toor:$y$j9T$abc$def:19600:0:99999:7:::
dev::19601:0:99999:7:::
clone:$2b$12$abcdefghijklmnopqrstuvwxyz012345:19601::::::
ghost:$6$x$y:19601::::::
";

const RHEL_GROUP: &str = "\
root:x:0:
bin:x:1:
daemon:x:2:
wheel:x:10:cloud-user,dev
sshd:x:74:
cloud-user:x:1000:
dev:x:1001:
legacy:x:1002:
nopw:x:1003:
docker:x:1001:dev
";

fn rhel() -> common::Tree {
    common::tree(&[
        ("/etc/passwd", RHEL_PASSWD),
        ("/etc/shadow", RHEL_SHADOW),
        ("/etc/group", RHEL_GROUP),
    ])
}

#[test]
fn red_hat_style_accounts() {
    let t = rhel();
    let files = GuestFiles::new(&t.tree);
    let s = users::inspect(&files);
    assert!(files.take_warnings().is_empty());
    assert!(s.shadow_present);
    assert_eq!(s.users.len(), 13);
    let user = |name: &str| s.users.iter().find(|u| u.name == name).unwrap();

    let root = user("root");
    assert_eq!(
        root.password,
        PasswordState::Set {
            algorithm: HashAlgorithm::Sha512
        }
    );
    assert!(root.admin);
    assert_eq!(root.primary_group.as_deref(), Some("root"));

    for name in ["bin", "daemon", "sync", "shutdown", "halt", "sshd"] {
        assert!(!user(name).login_shell, "{name}");
    }
    assert_eq!(
        user("sshd").password,
        PasswordState::NoPassword {
            marker: "!!".into()
        }
    );
    assert_eq!(
        user("bin").password,
        PasswordState::NoPassword { marker: "*".into() }
    );

    let cu = user("cloud-user");
    assert!(cu.login_shell);
    assert_eq!(cu.gecos, "Cloud User");
    assert_eq!(
        cu.password,
        PasswordState::Locked {
            marker: "!!".into(),
            algorithm: HashAlgorithm::Sha512
        }
    );
    assert_eq!(cu.supplementary_groups, vec!["wheel"]);
    assert!(cu.admin);
    let aging = cu.aging.clone().unwrap();
    assert_eq!(aging.last_change, Some(19600));
    assert_eq!(aging.min_days, Some(1));
    assert_eq!(aging.max_days, Some(90));
    assert_eq!(aging.warn_days, Some(14));
    assert_eq!(aging.inactive_days, Some(30));
    assert_eq!(aging.expire, Some(20000));

    let dev = user("dev");
    assert_eq!(dev.password, PasswordState::Empty);
    assert_eq!(dev.supplementary_groups, vec!["docker", "wheel"]);
    // gid 1001 is listed twice in group: the first one names it.
    assert_eq!(dev.primary_group.as_deref(), Some("dev"));

    let legacy = user("legacy");
    assert!(legacy.password_in_passwd);
    assert_eq!(
        legacy.password,
        PasswordState::Set {
            algorithm: HashAlgorithm::Md5
        }
    );
    assert_eq!(legacy.aging, None);
    assert_eq!(user("nopw").password, PasswordState::NoShadowEntry);
    assert_eq!(
        user("clone").password,
        PasswordState::Set {
            algorithm: HashAlgorithm::Bcrypt
        }
    );
    assert!(!user("nopw").admin);

    assert_eq!(s.uid0_non_root, vec!["toor"]);
    assert_eq!(
        s.duplicate_uids,
        vec![
            DuplicateId {
                id: 0,
                names: vec!["root".into(), "toor".into()]
            },
            DuplicateId {
                id: 1001,
                names: vec!["dev".into(), "clone".into()]
            },
        ]
    );
    assert_eq!(
        s.duplicate_gids,
        vec![DuplicateId {
            id: 1001,
            names: vec!["dev".into(), "docker".into()]
        }]
    );
    assert!(s.duplicate_user_names.is_empty());
    assert_eq!(s.shadow_without_account, vec!["ghost"]);
    let wheel = s.groups.iter().find(|g| g.name == "wheel").unwrap();
    assert_eq!((wheel.gid, wheel.line), (10, 4));
    assert_eq!(wheel.members, vec!["cloud-user", "dev"]);
}

#[test]
fn debian_style_with_bad_lines_and_duplicate_names() {
    let t = common::tree(&[
        (
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\n\
             www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
             ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n\
             broken:x:1001\n\
             ubuntu:x:1005:1005::/home/u2:/bin/sh\n\
             +@netgroup::::::\n",
        ),
        (
            "/etc/shadow",
            "root:*:19000:0:99999:7:::\nubuntu:$y$j9T$s$h:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\nbad:x:notanumber:::::\n",
        ),
        (
            "/etc/group",
            "root:x:0:\nsudo:x:27:ubuntu\nadm:x:4:syslog,ubuntu\nadmin:x:115:\nwww-data:x:33:\n",
        ),
    ]);
    let files = GuestFiles::new(&t.tree);
    let s = users::inspect(&files);
    let warnings: Vec<String> = files
        .take_warnings()
        .into_iter()
        .map(|w| format!("{}: {}", w.path.unwrap_or_default(), w.message))
        .collect();
    assert_eq!(
        warnings,
        vec![
            "/etc/passwd: line 4: 3 fields where passwd has 7".to_string(),
            "/etc/shadow: line 4: last change \"notanumber\" is not a number".to_string(),
        ]
    );
    assert_eq!(s.users.len(), 4);
    assert_eq!(s.nis_compat_entries, 1);
    assert_eq!(s.duplicate_user_names, vec!["ubuntu"]);
    let ubuntu = &s.users[2];
    assert_eq!(ubuntu.supplementary_groups, vec!["adm", "sudo"]);
    assert!(ubuntu.admin);
    assert_eq!(
        ubuntu.password,
        PasswordState::Set {
            algorithm: HashAlgorithm::Yescrypt
        }
    );
    // The second "ubuntu" gets the first shadow entry, as getspnam would.
    assert_eq!(s.users[3].uid, 1005);
    assert!(!s.users[1].login_shell);
    assert_eq!(s.users[1].primary_group.as_deref(), Some("www-data"));
}

#[test]
fn no_shadow_file_and_no_passwd() {
    let t = common::tree(&[("/etc/passwd", "root:x:0:0::/root:/bin/sh\nu:x:5:5::/:\n")]);
    let files = GuestFiles::new(&t.tree);
    let s = users::inspect(&files);
    assert!(!s.shadow_present);
    assert_eq!(s.users[0].password, PasswordState::NoShadowEntry);
    assert_eq!(s.users[0].primary_group, None);
    assert!(s.users[1].login_shell, "an empty shell is /bin/sh");
    assert!(files.take_warnings().is_empty());

    let t = common::tree(&[("/etc/hostname", "x\n")]);
    let files = GuestFiles::new(&t.tree);
    let s = users::inspect(&files);
    assert!(s.users.is_empty());
    let w = files.take_warnings();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].path.as_deref(), Some("/etc/passwd"));
}

#[test]
fn a_one_gigabyte_passwd_gives_a_bounded_partial_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut i = 0u32;
    while text.len() < 5 << 20 {
        i += 1;
        text.push_str(&format!("u{i}:x:{i}:1::/:/\n"));
    }
    common::write(dir.path(), "/etc/passwd", text.as_bytes());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("etc/passwd"))
        .unwrap();
    f.set_len(1 << 30).unwrap(); // sparse: 1 GiB without the disk space
    let tree = common::open(dir.path());
    let files = GuestFiles::new(&tree);
    let s = users::inspect(&files);
    assert_eq!(s.users.len(), users::MAX_ENTRIES);
    assert_eq!(s.users[0].name, "root");
    let w: Vec<String> = files
        .take_warnings()
        .into_iter()
        .map(|w| w.message)
        .collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert_eq!(
        w[0],
        "1073741824 bytes long: only the first 4194304 were read"
    );
    assert_eq!(
        w[1],
        "the file was cut short: its last, incomplete line was not read"
    );
    assert!(
        w[2].ends_with("more than 100000 entries: the rest were not read"),
        "{}",
        w[2]
    );
}

#[test]
fn serializes_password_states_by_name() {
    let t = rhel();
    let files = GuestFiles::new(&t.tree);
    let s = users::inspect(&files);
    let json = serde_json::to_value(&s).unwrap();
    let cu = &json["users"][7];
    assert_eq!(cu["name"], "cloud-user");
    assert_eq!(cu["password"]["state"], "locked");
    assert_eq!(cu["password"]["marker"], "!!");
    assert_eq!(cu["password"]["algorithm"], "sha512");
    assert_eq!(json["users"][9]["password"]["state"], "empty");
}
