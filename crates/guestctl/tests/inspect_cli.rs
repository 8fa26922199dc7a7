//! `guestctl inspect` on the demo VM the repository ships: the OS from its
//! release files, the architecture from a real ELF program, the packages
//! from the dpkg database on its `/var` LV, `/home` from a Btrfs subvolume,
//! and every output format.

mod cli;

use cli::{demo, guestctl, stdout};

use serde_json::Value;

fn json_report() -> Value {
    let out = stdout(&guestctl(&["inspect", "--format", "json", &demo()]));
    serde_json::from_str(&out).expect("inspect --format json prints JSON")
}

#[test]
fn demo_os_is_debian_12_on_x86_64() {
    let report = json_report();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["warnings"], Value::Array(vec![]));
    let oses = report["operating_systems"].as_array().expect("array");
    assert_eq!(oses.len(), 1);
    let os = &oses[0];
    assert_eq!(os["root"], "demo/root");
    assert_eq!(os["type"], "linux");
    assert_eq!(os["distro"], "debian");
    // libguestfs's rule: os-release says only "12", debian_version "12.7".
    assert_eq!(
        (os["version_major"].as_u64(), os["version_minor"].as_u64()),
        (Some(12), Some(7))
    );
    assert_eq!(os["product_name"], "12.7");
    assert_eq!(os["pretty_name"], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(os["arch"], "x86_64");
    assert_eq!(os["hostname"], "guestkit-demo");
    assert_eq!(os["osinfo"], "debian12");
    assert_eq!(os["package_format"], "deb");
    assert_eq!(os["package_management"], "apt");
    let mounts: Vec<(&str, &str)> = os["mountpoints"]
        .as_array()
        .expect("mountpoints")
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap_or(""),
                m["device"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for want in [
        ("/", "demo/root"),
        ("/boot", "disk0p2"),
        ("/boot/efi", "disk0p1"),
        ("/var", "demo/var"),
        ("/home", "demo/home"),
    ] {
        assert!(mounts.contains(&want), "{want:?} in {mounts:?}");
    }
}

#[test]
fn demo_packages_come_from_dpkg_on_the_var_volume() {
    let report = json_report();
    let list = &report["operating_systems"][0]["packages"];
    assert_eq!(list["database"], "dpkg");
    assert_eq!(list["path"], "/var/lib/dpkg/status");
    // Six stanzas, one only "config-files": five installed.
    assert_eq!(list["count"], 5);
    let packages = list["packages"].as_array().expect("packages");
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(
        names,
        ["base-files", "bash", "coreutils", "libc6", "openssh-server"]
    );
    let ssh = packages
        .iter()
        .find(|p| p["name"] == "openssh-server")
        .expect("ssh");
    assert_eq!(ssh["version"], "1:9.2p1-2+deb12u3");
    assert_eq!(ssh["source_name"], "openssh");
    assert_eq!(ssh["source_version"], "1:9.2p1-2+deb12u3");
    let coreutils = packages
        .iter()
        .find(|p| p["name"] == "coreutils")
        .expect("coreutils");
    assert_eq!(coreutils["source_version"], "9.1-1");
}

#[test]
fn home_is_the_btrfs_subvolume_fstab_names() {
    // fstab: LABEL=home /home btrfs subvol=@home,compress=zstd
    let listing = stdout(&guestctl(&["ls", &demo(), "/home"]));
    assert_eq!(listing.lines().collect::<Vec<_>>(), ["user"]);
    let journal = stdout(&guestctl(&["cat", &demo(), "/home/user/journal.txt"]));
    assert_eq!(journal.lines().count(), 2000);
    assert_eq!(
        journal.lines().nth(1234),
        Some("day 1234: nothing happened, compressibly")
    );
}

#[test]
fn xml_follows_virt_inspector() {
    let xml = stdout(&guestctl(&["inspect", "--format", "xml", &demo()]));
    assert!(
        xml.starts_with("<?xml version=\"1.0\"?>\n<operatingsystems>\n  <operatingsystem>\n"),
        "{xml}"
    );
    for want in [
        "<root>demo/root</root>",
        "<name>linux</name>",
        "<arch>x86_64</arch>",
        "<distro>debian</distro>",
        "<major_version>12</major_version>",
        "<minor_version>7</minor_version>",
        "<package_format>deb</package_format>",
        "<osinfo>debian12</osinfo>",
        "<mountpoint dev=\"demo/home\">/home</mountpoint>",
        "<filesystem dev=\"demo/home\">\n        <type>btrfs</type>\n        <label>home</label>",
        // dpkg's "1:9.2p1-2+deb12u3" split as libguestfs splits it.
        "<name>openssh-server</name>\n        <epoch>1</epoch>\n        <version>9.2p1</version>\n        <release>2+deb12u3</release>",
    ] {
        assert!(xml.contains(want), "missing {want:?} in\n{xml}");
    }
    assert!(xml.ends_with("</operatingsystems>\n"));
    assert_eq!(xml.matches("<application>").count(), 5);
}

#[test]
fn yaml_table_and_sections() {
    let yaml = stdout(&guestctl(&["inspect", "--format", "yaml", &demo()]));
    assert!(yaml.contains("distro: debian"), "{yaml}");
    assert!(yaml.contains("schema_version: 1"), "{yaml}");
    let table = stdout(&guestctl(&["inspect", &demo()]));
    assert!(
        table.contains("product     Debian GNU/Linux 12 (bookworm)"),
        "{table}"
    );
    assert!(
        table.contains("packages    5 (dpkg at /var/lib/dpkg/status)"),
        "{table}"
    );
    let json = stdout(&guestctl(&[
        "inspect",
        "--format",
        "json",
        "--sections",
        "",
        &demo(),
    ]));
    let v: Value = serde_json::from_str(&json).expect("json");
    assert!(v["operating_systems"][0].get("packages").is_none());
    let bad = guestctl(&["inspect", "--sections", "nonsense", &demo()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown section \"nonsense\""));
}

#[test]
fn a_plain_directory_is_inspected_like_an_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(&etc).expect("etc");
    std::fs::write(
        etc.join("os-release"),
        "ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
    )
    .expect("write");
    let db = dir.path().join("lib/apk/db");
    std::fs::create_dir_all(&db).expect("db");
    std::fs::write(
        db.join("installed"),
        "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n",
    )
    .expect("write");
    let out = stdout(&guestctl(&[
        "inspect",
        "--format",
        "json",
        dir.path().to_str().expect("utf-8"),
    ]));
    let v: Value = serde_json::from_str(&out).expect("json");
    let os = &v["operating_systems"][0];
    assert_eq!(os["distro"], "alpinelinux");
    assert_eq!(os["osinfo"], "alpinelinux3.19");
    assert_eq!(os["packages"]["database"], "apk");
    assert_eq!(os["packages"]["count"], 2);
}

#[test]
fn windows_guest_reports_product_version_hostname_and_applications() {
    use guestkit_fixtures::windows;
    let (raw, qcow2) = windows::windows_guest().expect("windows fixture");
    for image in [raw, qcow2] {
        let image = image.display().to_string();
        let out = stdout(&guestctl(&["inspect", "--format", "json", &image]));
        let report: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(report["warnings"], Value::Array(vec![]), "{image}");
        let os = &report["operating_systems"][0];
        assert_eq!(os["root"], "disk0p1");
        assert_eq!(os["type"], "windows");
        assert_eq!(os["distro"], "windows");
        assert_eq!(os["product_name"], "Windows Server 2022 Datacenter");
        assert_eq!(
            os["pretty_name"],
            "Windows Server 2022 Datacenter (ServerDatacenter)"
        );
        assert_eq!(os["product_variant"], "Server");
        assert_eq!(
            (os["version_major"].as_u64(), os["version_minor"].as_u64()),
            (Some(10), Some(0))
        );
        assert_eq!(os["build_id"], "20348");
        assert_eq!(os["osinfo"], "win2k22");
        assert_eq!(os["hostname"], windows::HOSTNAME);
        assert_eq!(os["arch"], "x86_64");
        assert_eq!(os["windows"]["system_root"], "/Windows");
        let c = &os["windows"]["drive_mappings"][0];
        assert_eq!(
            (c["letter"].as_str(), c["device"].as_str()),
            (Some("C:"), Some("mbr:5eed2022:1048576"))
        );
        let apps = &os["packages"];
        assert_eq!(apps["database"], "windows-uninstall");
        let mut want: Vec<(&str, &str, &str)> = windows::APPS_64
            .iter()
            .map(|a| (a.1.trim(), a.2, "native"))
            .chain(windows::APPS_32.iter().map(|a| (a.1.trim(), a.2, "x86")))
            .collect();
        want.sort();
        let got: Vec<(&str, &str, &str)> = apps["packages"]
            .as_array()
            .expect("apps")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or(""),
                    p["version"].as_str().unwrap_or(""),
                    p["arch"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(got, want, "{image}");
        let seven = apps["packages"]
            .as_array()
            .expect("apps")
            .iter()
            .find(|p| p["source_name"] == "7-Zip")
            .expect("7-Zip");
        assert_eq!(seven["vendor"], "Igor Pavlov");
        assert_eq!(seven["installed_size"], 2048 * 1024);
        let xml = stdout(&guestctl(&["inspect", "--format", "xml", &image]));
        for want in [
            "<name>windows</name>",
            "<product_name>Windows Server 2022 Datacenter</product_name>",
            "<osinfo>win2k22</osinfo>",
            "<name>7-Zip 23.01 (x64)</name>",
        ] {
            assert!(xml.contains(want), "{want} in {xml}");
        }
    }
}

#[test]
fn every_operating_system_of_a_vm_is_reported() {
    // A VM with the demo disk and the Windows disk: two roots, each with
    // its own mounts.
    let (_, windows) = guestkit_fixtures::windows::windows_guest().expect("windows fixture");
    let out = stdout(&guestctl(&[
        "inspect",
        "--format",
        "json",
        &demo(),
        windows.to_str().expect("utf-8"),
    ]));
    let report: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["warnings"], Value::Array(vec![]));
    let oses = report["operating_systems"].as_array().expect("array");
    let mut roots: Vec<(&str, &str, &str)> = oses
        .iter()
        .map(|o| {
            (
                o["root"].as_str().unwrap_or(""),
                o["type"].as_str().unwrap_or(""),
                o["hostname"].as_str().unwrap_or(""),
            )
        })
        .collect();
    roots.sort();
    assert_eq!(
        roots,
        [
            ("demo/root", "linux", "guestkit-demo"),
            ("disk1p1", "windows", "win-guestkit")
        ]
    );
    let linux = oses.iter().find(|o| o["type"] == "linux").expect("linux");
    assert_eq!(linux["mountpoints"].as_array().map(Vec::len), Some(5));
    let win = oses
        .iter()
        .find(|o| o["type"] == "windows")
        .expect("windows");
    assert_eq!(win["mountpoints"].as_array().map(Vec::len), Some(1));
}
