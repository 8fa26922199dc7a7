//! Every real data file of the shared corpus, placed at its guest path in a
//! fixture tree, must give the answers its manifest lists (obtained
//! independently of guestkit: bash sourcing os-release, dpkg-query, the
//! upstream projects' own tests).

use std::collections::BTreeMap;
use std::sync::Arc;

use guestkit_fixtures::corpus::{corpus_files, place, CorpusFile};
use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::os::OsRelease;
use guestkit_inspect::{inspect_root, InspectOptions, OsReport, Section};
use serde_json::Value;

/// Inspects a tree made of `files`.
fn inspect_files(dir: &std::path::Path, files: &[&CorpusFile]) -> OsReport {
    let (report, warnings) = inspect_with_warnings(dir, files);
    assert!(warnings.is_empty(), "{warnings:?}");
    report
}

/// Inspects a tree made of `files`, returning the warnings too.
fn inspect_with_warnings(
    dir: &std::path::Path,
    files: &[&CorpusFile],
) -> (OsReport, Vec<guestkit_inspect::Warning>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    place(dir, files, tmp.path()).expect("placing corpus files");
    let fs = HostDirFs::open(tmp.path(), FsLimits::default()).expect("host dir");
    let tree = GuestTree::new(Arc::new(fs), "corpus", FsLimits::default());
    // The corpus holds release files and package databases only: a tree
    // without /etc/passwd would (rightly) warn in the users section.
    let options = InspectOptions {
        sections: vec![Section::Packages],
        ..InspectOptions::default()
    };
    inspect_root(&tree, "corpus", None, &options)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn u32_field(v: &Value, key: &str) -> Option<u32> {
    v.get(key).and_then(Value::as_u64).map(|n| n as u32)
}

/// Distribution names guestkit gives where libguestfs has none (its own
/// naming, by os-release `ID`).
fn own_distro(id: &str) -> &'static str {
    match id {
        "almalinux" => "almalinux",
        "amzn" => "amazonlinux",
        "buildroot" => "buildroot",
        "cloudlinux" => "cloudlinux",
        "exherbo" => "exherbo",
        "guix" => "guix",
        "manjaro" => "manjaro",
        "ol" => "oraclelinux",
        "raspbian" => "raspbian",
        "slackware" => "slackware",
        "azurelinux" => "azurelinux",
        "mariner" => "mariner",
        "bottlerocket" => "bottlerocket",
        "photon" => "photon",
        "sl-micro" => "slmicro",
        "wolfi" => "wolfi",
        other => panic!("no expectation for os-release ID {other}"),
    }
}

/// "13.5" → (13, 5): the version a release file's first line states.
fn version_of_line(line: &str) -> Option<(u32, u32)> {
    let start = line.find(|c: char| c.is_ascii_digit())?;
    let rest = &line[start..];
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = if rest[rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())..]
        .starts_with('.')
    {
        parts.next().and_then(|m| m.parse().ok()).unwrap_or(0)
    } else {
        0
    };
    Some((major, minor))
}

#[test]
fn os_release_files_parse_as_bash_sources_them() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    let mut checked = 0;
    for f in files.iter().filter(|f| f.kind == "os-release") {
        let text = std::fs::read_to_string(dir.join(&f.path)).expect("read");
        let rel = OsRelease::parse(&text);
        let e = &f.expected;
        for (key, field) in [
            ("ID", "id"),
            ("VERSION_ID", "version_id"),
            ("NAME", "name"),
            ("PRETTY_NAME", "pretty_name"),
            ("VERSION", "version"),
            ("ID_LIKE", "id_like"),
            ("BUILD_ID", "build_id"),
            ("VARIANT_ID", "variant_id"),
            ("VERSION_CODENAME", "version_codename"),
        ] {
            if let Some(want) = e.get(field) {
                assert_eq!(rel.values.raw(key), want.as_str(), "{}: {key}", f.path);
            }
        }
        let want =
            u32_field(e, "version_major").map(|m| (m, u32_field(e, "version_minor").unwrap_or(0)));
        assert_eq!(rel.version(), want, "{}: version", f.path);
        checked += 1;
    }
    assert_eq!(checked, 51);
}

#[test]
fn os_release_roots_are_identified() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    // Files of one upstream tree (os/<label>/...) make one guest.
    let mut groups: BTreeMap<String, Vec<&CorpusFile>> = BTreeMap::new();
    for f in files.iter().filter(|f| f.path.starts_with("os/")) {
        groups.entry(f.group()).or_default().push(f);
    }
    let mut checked = 0;
    for (group, members) in &groups {
        let report = inspect_files(&dir, members);
        let os = &report.os;
        let rel = members
            .iter()
            .find(|f| f.kind == "os-release")
            .expect("os-release");
        let e = &rel.expected;
        let id = str_field(e, "id").expect("id");
        let accepted = e
            .get("libguestfs_os_release_accepted")
            .and_then(Value::as_bool)
            == Some(true);
        let release_file = members.iter().find(|f| f.kind == "release-file");
        match str_field(e, "libguestfs_distro") {
            Some(d) => assert_eq!(os.distro.as_deref(), Some(d), "{group}"),
            None => assert_eq!(os.distro.as_deref(), Some(own_distro(id)), "{group}"),
        }
        let version = (
            os.version_major.unwrap_or(u32::MAX),
            os.version_minor.unwrap_or(u32::MAX),
        );
        if accepted {
            let v = e
                .get("libguestfs_version")
                .and_then(Value::as_array)
                .expect("libguestfs_version");
            let want = (
                v[0].as_u64().unwrap_or(0) as u32,
                v[1].as_u64().unwrap_or(0) as u32,
            );
            assert_eq!(version, want, "{group}: libguestfs's version");
            assert_eq!(
                os.product_name.as_deref(),
                str_field(e, "pretty_name"),
                "{group}"
            );
        } else if let Some(rf) = release_file {
            // Rejected (major-only VERSION_ID): the release file decides.
            let line = str_field(&rf.expected, "content_first_line").expect("line");
            assert_eq!(
                Some(version),
                version_of_line(line),
                "{group}: from {}",
                rf.path
            );
            assert_eq!(os.product_name.as_deref(), Some(line.trim_end()), "{group}");
        } else if let Some(major) = u32_field(e, "version_major") {
            assert_eq!(
                version,
                (major, u32_field(e, "version_minor").unwrap_or(0)),
                "{group}"
            );
        }
        assert_eq!(os.os_release_id.as_deref(), Some(id), "{group}");
        assert_eq!(
            os.pretty_name.as_deref(),
            str_field(e, "pretty_name"),
            "{group}"
        );
        checked += 1;
    }
    assert!(checked >= 50, "{checked} roots");
}

#[test]
fn release_files_alone_identify_their_distribution() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    // guestkit's distribution names for the tree holding only this file.
    let want: BTreeMap<&str, &str> = [
        ("release-files/rocky-release", "rocky"),
        ("release-files/alma-release", "almalinux"),
        ("release-files/ubuntu-lsb", "ubuntu"),
        ("release-files/debian9-version", "debian"),
        ("release-files/alpine-release", "alpinelinux"),
        ("release-files/centos7-release", "centos"),
        ("release-files/fedora29-release", "fedora"),
        ("release-files/rhel6-release", "rhel"),
        ("release-files/oracle7-release", "oraclelinux"),
        ("release-files/debian-sid-version", "debian"),
    ]
    .into_iter()
    .collect();
    let mut checked = 0;
    for f in files
        .iter()
        .filter(|f| f.path.starts_with("release-files/"))
    {
        let report = inspect_files(&dir, &[f]);
        let os = &report.os;
        let group = f.group();
        assert_eq!(
            os.distro.as_deref(),
            want.get(group.as_str()).copied(),
            "{group}"
        );
        let e = &f.expected;
        if let Some(release) = str_field(e, "distrib_release") {
            assert_eq!(
                (os.version_major, os.version_minor),
                (Some(18), Some(4)),
                "{release}"
            );
            assert_eq!(
                os.product_name.as_deref(),
                str_field(e, "distrib_description")
            );
        } else {
            let line = str_field(e, "content_first_line").expect("line");
            let v = version_of_line(line);
            assert_eq!(os.version_major, v.map(|v| v.0), "{group}");
            assert_eq!(os.version_minor, v.map(|v| v.1), "{group}");
            assert_eq!(os.product_name.as_deref(), Some(line.trim_end()), "{group}");
        }
        checked += 1;
    }
    assert_eq!(checked, 10);
}

/// Compares `fields` of each expected sample with the package of that name.
fn check_samples(
    label: &str,
    e: &Value,
    packages: &[guestkit_inspect::packages::Package],
    fields: &[(&str, &str)],
) {
    let samples = e.get("sample").and_then(Value::as_array).expect("sample");
    for s in samples {
        let name = str_field(s, "name").expect("name");
        let p = packages
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{label}: package {name} missing"));
        let got = serde_json::to_value(p).expect("json");
        for (want_key, got_key) in fields {
            assert_eq!(
                s.get(*want_key),
                got.get(*got_key),
                "{label}: {name}: {want_key}"
            );
        }
    }
}

#[test]
fn dpkg_apk_and_pacman_databases() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    let mut checked = 0;
    for f in &files {
        let fields: &[(&str, &str)] = match f.kind.as_str() {
            "dpkg-status" => &[
                ("version", "version"),
                ("arch", "arch"),
                ("source_name", "source_name"),
                ("source_version", "source_version"),
            ],
            "apk-installed" => &[
                ("version", "version"),
                ("arch", "arch"),
                ("origin", "source_name"),
            ],
            "pacman-local-dir" => &[],
            _ => continue,
        };
        let (report, warnings) = inspect_with_warnings(&dir, &[f]);
        // One upstream record has no version: it is skipped, with a warning
        // naming its line.
        for w in &warnings {
            assert!(w.message.contains("has no V: (version)"), "{}: {w}", f.path);
            assert!(w.message.starts_with("line "), "{w}");
        }
        let list = report
            .packages
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no packages", f.path));
        let e = &f.expected;
        assert_eq!(
            list.count as u64,
            e.get("count").and_then(Value::as_u64).expect("count"),
            "{}",
            f.path
        );
        if f.kind == "pacman-local-dir" {
            let names: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
            let want: Vec<&str> = e["names"]
                .as_array()
                .expect("names")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(names, want);
        } else {
            check_samples(&f.path, e, &list.packages, fields);
        }
        if let Some(all) = e.get("all_names").and_then(Value::as_array) {
            let mut want: Vec<&str> = all.iter().filter_map(Value::as_str).collect();
            want.sort();
            let got: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(got, want, "{}", f.path);
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn pacman_desc_files() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    let mut checked = 0;
    for f in files.iter().filter(|f| f.kind == "pacman-desc") {
        let text = std::fs::read_to_string(dir.join(&f.path)).expect("read");
        let p = guestkit_inspect::packages::pacman::package_of_desc(&text).expect("package");
        let e = &f.expected;
        assert_eq!(Some(p.name.as_str()), str_field(e, "name"));
        assert_eq!(Some(p.version.as_str()), str_field(e, "version"));
        assert_eq!(p.arch.as_deref(), str_field(e, "arch"));
        assert_eq!(p.source_name.as_deref(), str_field(e, "base"));
        let fields = guestkit_inspect::packages::pacman::parse_desc(&text);
        let depends = fields
            .iter()
            .find(|(k, _)| k == "DEPENDS")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let want: Vec<String> = e["depends"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(depends, want, "{}", f.path);
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn windows_system_hives() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    let mut checked = 0;
    for f in files.iter().filter(|f| f.kind == "windows-hive-system") {
        let (report, warnings) = inspect_with_warnings(&dir, &[f]);
        for w in &warnings {
            // The Windows 10 hive was copied from a running system.
            assert!(w.message.contains("the hive is dirty"), "{}: {w}", f.path);
        }
        let os = &report.os;
        let e = &f.expected;
        assert_eq!(os.os_type, "windows");
        assert_eq!(
            os.hostname.as_deref(),
            str_field(e, "tcpip_hostname"),
            "{}",
            f.path
        );
        let arch = match str_field(e, "processor_architecture") {
            Some("AMD64") => "x86_64",
            Some("x86") => "i386",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(os.arch.as_deref(), Some(arch), "{}", f.path);
        assert_eq!(str_field(e, "product_type"), Some("WinNT"));
        assert_eq!(os.product_variant.as_deref(), Some("Client"), "{}", f.path);
        let win = report.windows.as_ref().expect("windows facts");
        assert_eq!(win.system_root.as_deref(), Some("/Windows"));
        assert!(
            win.drive_mappings.iter().any(|m| m.letter == "C:"),
            "{:?}",
            win.drive_mappings
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn rpm_databases_in_every_format() {
    let Some((dir, files)) = corpus_files() else {
        return;
    };
    let mut checked = 0;
    for f in &files {
        let guest_path = match f.kind.as_str() {
            "rpm-sqlite" => "usr/lib/sysimage/rpm/rpmdb.sqlite",
            "rpm-ndb" => "usr/lib/sysimage/rpm/Packages.db",
            "rpm-bdb" => "var/lib/rpm/Packages",
            _ => continue,
        };
        let mut placed = f.clone();
        placed.guest_path = Some(guest_path.into());
        let report = inspect_files(&dir, &[&placed]);
        let list = report.packages.as_ref().expect("packages");
        assert_eq!(list.database, f.kind, "{}", f.path);
        assert_eq!(list.path, format!("/{guest_path}"));
        let e = &f.expected;
        assert_eq!(
            list.count as u64,
            e["count"].as_u64().expect("count"),
            "{}",
            f.path
        );
        for s in e["sample"].as_array().expect("sample") {
            let name = str_field(s, "name").expect("name");
            let p = list.packages.iter().find(|p| p.name == name).expect(name);
            assert_eq!(
                u64::from(p.epoch.unwrap_or(0)),
                s["epoch"].as_u64().expect("epoch"),
                "{name}"
            );
            assert_eq!(Some(p.version.as_str()), str_field(s, "version"), "{name}");
            assert_eq!(p.release.as_deref(), str_field(s, "release"), "{name}");
            assert_eq!(p.arch.as_deref(), str_field(s, "arch"), "{name}");
            let srpm = format!(
                "{}-{}.src.rpm",
                p.source_name.as_deref().unwrap_or(""),
                p.source_version.as_deref().unwrap_or("")
            );
            assert_eq!(Some(srpm.as_str()), str_field(s, "sourcerpm"), "{name}");
        }
        if let Some(all) = e.get("all_names").and_then(Value::as_array) {
            let mut want: Vec<&str> = all.iter().filter_map(Value::as_str).collect();
            want.sort();
            let got: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(got, want, "{}", f.path);
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
}
