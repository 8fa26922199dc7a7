//! The services section on hand-written guest trees (systemd, System V
//! init, OpenRC), on the real Debian guest (compared with its files read
//! here with std::fs), and on the corpus's real Windows SYSTEM hives
//! (compared with hivexsh/hivexget where installed).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::services::systemd::{LinkState, UnitState};
use guestkit_inspect::services::{self, windows_services, ServicesSection};
use guestkit_inspect::{GuestFiles, Warning};

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    symlink(target, p).unwrap();
}

fn inspect(root: &Path) -> (ServicesSection, Vec<Warning>) {
    let fs = HostDirFs::open(root, FsLimits::default()).unwrap();
    let tree = GuestTree::new(Arc::new(fs), "test", FsLimits::default());
    let files = GuestFiles::new(&tree);
    let s = services::inspect(&files);
    (s, files.take_warnings())
}

const SSH_UNIT: &str = "[Unit]\nDescription=OpenBSD Secure Shell server\n\
    After=network.target auditd.service\n\n[Service]\nEnvironmentFile=-/etc/default/ssh\n\
    ExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\n\
    ExecReload=/bin/kill -HUP $MAINPID\nKillMode=process\nRestart=on-failure\n\n\
    [Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n";

#[test]
fn systemd_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    link(r, "/lib", "usr/lib");
    link(r, "/sbin", "usr/sbin");
    link(r, "/usr/sbin/init", "/lib/systemd/systemd");
    write(r, "/usr/lib/systemd/systemd", "ELF");
    let u = "/usr/lib/systemd/system";
    write(r, &format!("{u}/ssh.service"), SSH_UNIT);
    write(
        r,
        &format!("{u}/getty@.service"),
        "[Unit]\nDescription=Getty on %I\n[Service]\nExecStart=-/sbin/agetty -o '-p -- \\\\u' --noclear - $TERM\n\
         [Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n",
    );
    write(
        r,
        &format!("{u}/serial-getty@.service"),
        "[Unit]\nDescription=Serial Getty on %I\n[Install]\nWantedBy=getty.target\n",
    );
    write(
        r,
        &format!("{u}/systemd-logind.service"),
        "[Unit]\nDescription=User Login Management\n[Service]\nExecStart=/lib/systemd/systemd-logind\n",
    );
    link(
        r,
        &format!("{u}/multi-user.target.wants/systemd-logind.service"),
        "../systemd-logind.service",
    );
    write(
        r,
        &format!("{u}/multi-user.target"),
        "[Unit]\nDescription=Multi-User System\n",
    );
    write(
        r,
        &format!("{u}/graphical.target"),
        "[Unit]\nDescription=Graphical Interface\n",
    );
    link(r, &format!("{u}/default.target"), "graphical.target");
    link(r, &format!("{u}/runlevel3.target"), "multi-user.target");
    write(
        r,
        &format!("{u}/apt-daily.timer"),
        "[Unit]\nDescription=Daily apt download activities\n[Install]\nWantedBy=timers.target\n",
    );
    write(
        r,
        &format!("{u}/helper.service"),
        "[Unit]\nDescription=Helper\n[Install]\nAlso=ssh.service\n",
    );
    write(
        r,
        &format!("{u}/ssh.service.d/vendor.conf"),
        "[Service]\nUser=vendor\n",
    );
    let e = "/etc/systemd/system";
    // The admin's default target goes through a runlevel alias.
    link(
        r,
        &format!("{e}/default.target"),
        "/lib/systemd/system/runlevel3.target",
    );
    link(
        r,
        &format!("{e}/sshd.service"),
        "/lib/systemd/system/ssh.service",
    );
    link(
        r,
        &format!("{e}/multi-user.target.wants/ssh.service"),
        "/lib/systemd/system/ssh.service",
    );
    link(
        r,
        &format!("{e}/multi-user.target.wants/gone.service"),
        "/lib/systemd/system/gone.service",
    );
    link(
        r,
        &format!("{e}/getty.target.wants/getty@tty1.service"),
        "/lib/systemd/system/getty@.service",
    );
    link(r, &format!("{e}/apt-daily.timer"), "/dev/null");
    link(
        r,
        &format!("{e}/timers.target.wants/apt-daily.timer"),
        "/lib/systemd/system/apt-daily.timer",
    );
    write(
        r,
        &format!("{e}/ssh.service.d/vendor.conf"),
        "[Service]\nUser=admin\n",
    );
    write(
        r,
        &format!("{e}/ssh.service.d/override.conf"),
        "[Service]\nExecStart=\nExecStart=/usr/sbin/sshd -D -e \\\n  -o LogLevel=VERBOSE\n",
    );

    let (s, warnings) = inspect(r);
    assert_eq!(s.init.name, "systemd");
    assert_eq!(s.init.evidence, vec!["/sbin/init -> /lib/systemd/systemd"]);
    let sd = s.systemd.expect("systemd section");
    // /lib/systemd/system is /usr/lib/systemd/system: searched once.
    assert_eq!(
        sd.unit_dirs,
        vec!["/etc/systemd/system", "/usr/lib/systemd/system"]
    );
    assert_eq!(sd.default_target.as_deref(), Some("multi-user.target"));
    assert_eq!(
        sd.default_target_chain,
        vec![
            "/etc/systemd/system/default.target -> /lib/systemd/system/runlevel3.target",
            "/usr/lib/systemd/system/runlevel3.target -> multi-user.target",
        ]
    );
    let state = |n: &str| sd.unit(n).map(|u| u.state);
    assert_eq!(state("ssh.service"), Some(UnitState::Enabled));
    assert_eq!(state("sshd.service"), Some(UnitState::Alias));
    assert_eq!(
        sd.unit("sshd.service").unwrap().alias_of.as_deref(),
        Some("ssh.service")
    );
    assert_eq!(state("getty@.service"), Some(UnitState::Enabled));
    assert_eq!(state("serial-getty@.service"), Some(UnitState::Disabled));
    assert_eq!(state("systemd-logind.service"), Some(UnitState::Static));
    assert_eq!(state("apt-daily.timer"), Some(UnitState::Masked));
    assert_eq!(state("helper.service"), Some(UnitState::Indirect));
    assert_eq!(state("runlevel3.target"), Some(UnitState::Alias));
    assert_eq!(state("gone.service"), None);

    let ssh = sd.unit("ssh.service").unwrap();
    assert_eq!(
        ssh.description.as_deref(),
        Some("OpenBSD Secure Shell server")
    );
    assert_eq!(ssh.wanted_by, vec!["multi-user.target"]);
    assert_eq!(ssh.aliases, vec!["sshd.service"]);
    // Same-named drop-ins: /etc hides /usr/lib; applied sorted by name.
    assert_eq!(
        ssh.drop_ins,
        vec![
            "/etc/systemd/system/ssh.service.d/override.conf",
            "/etc/systemd/system/ssh.service.d/vendor.conf",
        ]
    );
    assert_eq!(ssh.user.as_deref(), Some("admin"));
    assert_eq!(
        ssh.exec_start,
        vec!["/usr/sbin/sshd -D -e  -o LogLevel=VERBOSE"]
    );
    let getty = sd.unit("getty@.service").unwrap();
    assert_eq!(getty.default_instance.as_deref(), Some("tty1"));

    let dep = |n: &str| sd.dependencies.iter().find(|d| d.unit == n).unwrap();
    let ssh_link = dep("ssh.service");
    assert_eq!(ssh_link.wanted_by, "multi-user.target");
    assert_eq!(ssh_link.dependency, "wants");
    assert_eq!(ssh_link.state, LinkState::Enabled);
    assert_eq!(ssh_link.target, "/lib/systemd/system/ssh.service");
    assert_eq!(
        ssh_link.unit_path.as_deref(),
        Some("/usr/lib/systemd/system/ssh.service")
    );
    let tty1 = dep("getty@tty1.service");
    assert_eq!(tty1.template.as_deref(), Some("getty@.service"));
    assert_eq!(tty1.state, LinkState::Enabled);
    assert_eq!(dep("gone.service").state, LinkState::Broken);
    assert_eq!(dep("apt-daily.timer").state, LinkState::Masked);
    assert_eq!(dep("systemd-logind.service").state, LinkState::Static);
    assert_eq!(
        sd.enabled_units().into_iter().collect::<Vec<_>>(),
        vec!["getty@tty1.service", "ssh.service"]
    );
    assert_eq!(sd.masked.len(), 1);
    assert_eq!(sd.masked[0].link, "/etc/systemd/system/apt-daily.timer");

    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].path.as_deref(),
        Some("/etc/systemd/system/multi-user.target.wants/gone.service")
    );
    assert!(warnings[0].message.contains("does not exist"));
    assert!(s.sysv.is_none() && s.openrc.is_none());
}

#[test]
fn sysvinit_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    write(r, "/sbin/init", "ELF");
    write(
        r,
        "/etc/inittab",
        "# /etc/inittab: init(8) configuration.\nid:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n\
         ~~:S:wait:/sbin/sulogin --force\nl0:0:wait:/etc/init.d/rc 0\nl2:2:wait:/etc/init.d/rc 2\n\
         ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now\n1:2345:respawn:/sbin/getty 38400 tty1\n\
         this is not an entry\n",
    );
    for s in ["ssh", "cron", "rsyslog", "README", "skeleton"] {
        write(r, &format!("/etc/init.d/{s}"), "#!/bin/sh\n");
    }
    link(r, "/etc/rc2.d/S01rsyslog", "../init.d/rsyslog");
    link(r, "/etc/rc2.d/S02ssh", "../init.d/ssh");
    link(r, "/etc/rc2.d/S02cron", "../init.d/cron");
    write(r, "/etc/rc2.d/README", "links\n");
    link(r, "/etc/rc0.d/K01ssh", "../init.d/ssh");
    link(r, "/etc/rcS.d/S01missing", "../init.d/missing");

    let (s, warnings) = inspect(r);
    assert_eq!(s.init.name, "sysvinit");
    assert_eq!(
        s.init.evidence,
        vec!["/sbin/init is a file", "/etc/inittab exists"]
    );
    let v = s.sysv.expect("sysv section");
    assert_eq!(v.default_runlevel.as_deref(), Some("2"));
    assert_eq!(v.inittab.len(), 7);
    assert_eq!(v.inittab[6].process, "/sbin/getty 38400 tty1");
    assert_eq!(v.started_in("2"), vec!["rsyslog", "cron", "ssh"]);
    assert!(v.started_in("3").is_empty());
    let k = v.links.iter().find(|l| l.runlevel == "0").unwrap();
    assert_eq!((k.action.as_str(), k.order), ("stop", 1));
    assert_eq!(k.target.as_deref(), Some("../init.d/ssh"));
    assert!(k.script_present);
    let missing = v.links.iter().find(|l| l.service == "missing").unwrap();
    assert!(!missing.script_present);
    assert_eq!(v.scripts, vec!["cron", "rsyslog", "ssh"]);
    let msgs: Vec<String> = warnings
        .iter()
        .map(|w| format!("{}: {}", w.path.as_deref().unwrap_or(""), w.message))
        .collect();
    assert_eq!(
        msgs,
        vec![
            "/etc/inittab: line 9: not id:runlevels:action:process",
            "/etc/rcS.d/S01missing: rc link to ../init.d/missing, which is not a file",
        ]
    );
    assert!(s.systemd.is_none());
}

#[test]
fn openrc_alpine_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    write(r, "/bin/busybox", "ELF");
    link(r, "/sbin/init", "/bin/busybox");
    write(r, "/sbin/openrc", "ELF");
    write(
        r,
        "/etc/inittab",
        "::sysinit:/sbin/openrc sysinit\n::sysinit:/sbin/openrc boot\n::wait:/sbin/openrc default\n\
         tty1::respawn:/sbin/getty 38400 tty1\n::shutdown:/sbin/openrc shutdown\n",
    );
    for s in [
        "sshd",
        "crond",
        "networking",
        "devfs",
        "dmesg",
        "killprocs",
        "hostname",
    ] {
        write(r, &format!("/etc/init.d/{s}"), "#!/sbin/openrc-run\n");
    }
    for (level, svc) in [
        ("sysinit", "devfs"),
        ("sysinit", "dmesg"),
        ("boot", "hostname"),
        ("boot", "networking"),
        ("default", "sshd"),
        ("default", "crond"),
        ("shutdown", "killprocs"),
    ] {
        link(
            r,
            &format!("/etc/runlevels/{level}/{svc}"),
            &format!("/etc/init.d/{svc}"),
        );
    }
    std::fs::create_dir_all(r.join("etc/runlevels/nonetwork")).unwrap();

    let (s, warnings) = inspect(r);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.init.name, "openrc");
    assert_eq!(
        s.init.evidence,
        vec!["/sbin/init -> /bin/busybox", "/sbin/openrc exists"]
    );
    let o = s.openrc.expect("openrc section");
    assert_eq!(o.default_runlevel, "default");
    assert_eq!(
        o.runlevels,
        vec!["boot", "default", "nonetwork", "shutdown", "sysinit"]
    );
    assert_eq!(o.in_runlevel("default"), vec!["crond", "sshd"]);
    assert_eq!(o.in_runlevel("boot"), vec!["hostname", "networking"]);
    assert_eq!(o.in_runlevel("sysinit"), vec!["devfs", "dmesg"]);
    assert!(o.in_runlevel("nonetwork").is_empty());
    assert_eq!(o.scripts.len(), 7);
    let sshd = o.services.iter().find(|x| x.service == "sshd").unwrap();
    assert_eq!(sshd.target.as_deref(), Some("/etc/init.d/sshd"));
    assert!(sshd.script_present);
    // Busybox's inittab has no initdefault.
    assert_eq!(s.sysv.unwrap().default_runlevel, None);
}

/// The real Debian 12 guest: its links read here with std::fs.
#[test]
fn debian_guest() {
    let root = guestkit_fixtures::debian::debian_tree().expect("debian tree");
    let (s, warnings) = inspect(&root);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.init.name, "systemd");
    let sd = s.systemd.expect("systemd");

    // The default target, independently: the admin's link, else the
    // vendor's, followed through one alias.
    let etc = root.join("etc/systemd/system/default.target");
    let vendor = root.join("usr/lib/systemd/system/default.target");
    let link = std::fs::read_link(&etc).or_else(|_| std::fs::read_link(&vendor));
    let want = link
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(want == "graphical.target" || want == "multi-user.target");
    assert_eq!(sd.default_target.as_deref(), Some(want.as_str()));

    let enabled = sd.enabled_units();
    // Every link in /etc/systemd/system/*.wants, read here, is enabled
    // unless its unit is masked.
    let mut expected = std::collections::BTreeSet::new();
    for d in std::fs::read_dir(root.join("etc/systemd/system")).unwrap() {
        let d = d.unwrap();
        let name = d.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".wants") {
            continue;
        }
        for l in std::fs::read_dir(d.path()).unwrap() {
            let unit = l.unwrap().file_name().to_string_lossy().into_owned();
            let masked = std::fs::read_link(root.join("etc/systemd/system").join(&unit))
                .is_ok_and(|t| t == Path::new("/dev/null"));
            if !masked {
                expected.insert(unit);
            }
        }
    }
    assert_eq!(
        enabled
            .iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>(),
        expected
    );
    for unit in ["ssh.service", "nftables.service", "cron.service"] {
        assert!(enabled.contains(unit), "{unit} not enabled: {enabled:?}");
        assert_eq!(sd.unit(unit).unwrap().state, UnitState::Enabled, "{unit}");
    }
    let ssh = sd
        .dependencies
        .iter()
        .find(|d| d.unit == "ssh.service")
        .unwrap();
    assert_eq!(ssh.wanted_by, "multi-user.target");
    assert_eq!(
        sd.unit("ssh.service").unwrap().wanted_by,
        vec!["multi-user.target"]
    );
    let nft = sd
        .dependencies
        .iter()
        .find(|d| d.unit == "nftables.service")
        .unwrap();
    assert_eq!(nft.wanted_by, "sysinit.target");
    for timer in ["apt-daily.timer", "apt-daily-upgrade.timer"] {
        assert!(!enabled.contains(timer), "{timer} must not be enabled");
        assert_eq!(sd.unit(timer).unwrap().state, UnitState::Masked, "{timer}");
        assert!(sd
            .masked
            .iter()
            .any(|m| m.name == timer && m.link == format!("/etc/systemd/system/{timer}")));
    }
    assert_eq!(
        sd.unit("sshd.service").unwrap().alias_of.as_deref(),
        Some("ssh.service")
    );
    // Debian keeps rc links for its init scripts: reported, with ssh
    // started in runlevel 2 as /etc/rc2.d says.
    let sysv = s.sysv.expect("rc links");
    let rc2: Vec<String> = std::fs::read_dir(root.join("etc/rc2.d"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_prefix('S')
                .map(|s| s.trim_start_matches(char::is_numeric).to_string())
        })
        .collect();
    let mut got: Vec<&str> = sysv.started_in("2");
    got.sort();
    let mut rc2_sorted: Vec<&str> = rc2.iter().map(String::as_str).collect();
    rc2_sorted.sort();
    assert_eq!(got, rc2_sorted);
    assert!(got.contains(&"ssh"));
}

fn hivexsh_ls(hive: &Path, key: &str) -> Option<Vec<String>> {
    let mut child = Command::new("hivexsh")
        .arg(hive)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child
        .stdin
        .take()?
        .write_all(format!("cd {key}\nls\n").as_bytes())
        .ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    })
}

fn hivexget(hive: &Path, key: &str, value: &str) -> Option<String> {
    let out = Command::new("hivexget")
        .arg(hive)
        .arg(key)
        .arg(value)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn windows_corpus_hives() {
    let Some((dir, files)) = guestkit_fixtures::corpus::corpus_files() else {
        eprintln!("corpus absent: skipped");
        return;
    };
    let mut checked = 0;
    for f in files.iter().filter(|f| f.kind == "windows-hive-system") {
        let path = dir.join(&f.path);
        let bytes = std::fs::read(&path).unwrap();
        let hive = guestkit_regf::Hive::parse(&bytes).unwrap();
        let (list, warnings) = windows_services(&hive, "ControlSet001");
        assert!(warnings.is_empty(), "{}: {warnings:?}", f.path);
        let count = f.expected["services_subkey_count"].as_u64().unwrap() as usize;
        assert_eq!(list.len(), count, "{}", f.path);
        if let Some(mut names) = hivexsh_ls(&path, "\\ControlSet001\\Services") {
            let mut ours: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
            names.sort_by_key(|n| n.to_lowercase());
            ours.sort_by_key(|n| n.to_lowercase());
            assert_eq!(ours, names, "{}", f.path);
        }
        let get = |n: &str| {
            list.iter()
                .find(|s| s.name.eq_ignore_ascii_case(n))
                .unwrap()
        };
        let dhcp = get("Dhcp");
        assert_eq!(dhcp.start, Some(2));
        assert_eq!(dhcp.service_type, Some(0x20));
        assert!(dhcp.start_mode.as_deref().unwrap().starts_with("automatic"));
        assert_eq!(dhcp.type_names, vec!["share-process"]);
        let tcpip = get("Tcpip");
        assert_eq!(tcpip.service_type, Some(1));
        assert!(matches!(tcpip.start, Some(0 | 1)));
        assert_eq!(tcpip.type_names, vec!["kernel-driver"]);
        // Every field of these two, read independently with hivexget.
        for s in [dhcp, tcpip] {
            let key = format!("\\ControlSet001\\Services\\{}", s.name);
            let Some(start) = hivexget(&path, &key, "Start") else {
                continue;
            };
            assert_eq!(s.start.map(|v| v.to_string()), Some(start));
            assert_eq!(
                s.service_type.map(|v| v.to_string()),
                hivexget(&path, &key, "Type")
            );
            assert_eq!(s.image_path, hivexget(&path, &key, "ImagePath"));
            assert_eq!(s.object_name, hivexget(&path, &key, "ObjectName"));
            let delayed = hivexget(&path, &key, "DelayedAutostart").as_deref() == Some("1");
            if s.start == Some(2) {
                let want = if delayed {
                    "automatic-delayed"
                } else {
                    "automatic"
                };
                assert_eq!(s.start_mode.as_deref(), Some(want));
            }
        }
        // Subkeys without Type are parameter holders, not services.
        assert!(list.iter().filter(|s| s.is_service).count() > count / 2);
        checked += 1;
    }
    assert_eq!(checked, 2);
}
