//! A database written by the real rpm (Debian's rpm 4.18, sqlite backend),
//! read back by us and compared field by field with `rpm -qa --qf`.
//! Skips with a message where `rpm`/`rpmbuild` are not installed.

use std::path::Path;
use std::process::Command;

use guestkit_rpmdb::{read_database, DbKind, RpmPackage};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

struct Spec {
    name: &'static str,
    epoch: Option<u32>,
    version: &'static str,
    release: &'static str,
    arch: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "gk-plain",
        epoch: None,
        version: "1.0",
        release: "1",
        arch: "noarch",
    },
    Spec {
        name: "gk-epoch",
        epoch: Some(3),
        version: "2.4.1",
        release: "7.gk9",
        arch: "noarch",
    },
    Spec {
        name: "gk-zero-epoch",
        epoch: Some(0),
        version: "0.9~rc1",
        release: "0.1",
        arch: "noarch",
    },
];

fn build_rpm(top: &Path, s: &Spec) -> std::path::PathBuf {
    let spec = top.join(format!("{}.spec", s.name));
    let epoch = s.epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!(
            "Name: {}\n{epoch}Version: {}\nRelease: {}\nSummary: guestkit test package {}\nLicense: MIT OR Apache-2.0\nVendor: guestkit tests\nBuildArch: {}\n%description\ntest\n%install\nmkdir -p %{{buildroot}}/usr/share/{0}\necho hello > %{{buildroot}}/usr/share/{0}/file\n%files\n/usr/share/{0}/file\n",
            s.name, s.version, s.release, s.name, s.arch
        ),
    )
    .expect("write spec");
    run(Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("--quiet")
        .arg("-bb")
        .arg(&spec));
    top.join("RPMS").join(s.arch).join(format!(
        "{}-{}-{}.{}.rpm",
        s.name, s.version, s.release, s.arch
    ))
}

#[test]
fn sqlite_database_written_by_rpm() {
    if !have("rpm") || !have("rpmbuild") {
        eprintln!("SKIP: rpm and rpmbuild are not installed (apt-get install rpm)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let top = tmp.path().join("top");
    let db = tmp.path().join("db");
    std::fs::create_dir_all(&db).expect("mkdir");
    std::fs::create_dir_all(&top).expect("mkdir");
    let rpms: Vec<_> = SPECS.iter().map(|s| build_rpm(&top, s)).collect();
    let rpm = |args: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--dbpath")
            .arg(&db)
            .args(["--define", "_db_backend sqlite"])
            .args(args);
        c
    };
    run(&mut rpm(&["--initdb"]));
    run(rpm(&["-i", "--justdb", "--nodeps", "--nosignature"]).args(&rpms));

    let qf = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{SUMMARY}\\t%{LICENSE}\\t%{VENDOR}\\t%{LONGSIZE}\\t%{INSTALLTIME}\\n";
    let text = run(&mut rpm(&["-qa", "--qf", qf]));
    let mut want: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    want.sort();
    assert_eq!(want.len(), SPECS.len(), "rpm -qa: {text}");

    let bytes = std::fs::read(db.join("rpmdb.sqlite")).expect("read rpmdb.sqlite");
    assert_eq!(DbKind::detect(&bytes), Some(DbKind::Sqlite));
    let list = read_database(DbKind::Sqlite, &bytes).expect("read");
    assert!(list.warnings.is_empty(), "{:?}", list.warnings);
    let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    let row = |p: &RpmPackage| {
        vec![
            p.name.clone(),
            p.epoch.map_or("(none)".into(), |e| e.to_string()),
            p.version.clone(),
            p.release.clone(),
            none(&p.arch),
            none(&p.sourcerpm),
            none(&p.summary),
            none(&p.license),
            none(&p.vendor),
            p.size.map_or("(none)".into(), |s| s.to_string()),
            p.install_time.map_or("(none)".into(), |t| t.to_string()),
        ]
    };
    let mut got: Vec<Vec<String>> = list.packages.iter().map(row).collect();
    got.sort();
    assert_eq!(got, want);
    for s in SPECS {
        let p = list
            .packages
            .iter()
            .find(|p| p.name == s.name)
            .expect("package");
        assert_eq!(p.epoch, s.epoch, "{}", s.name);
    }
}
