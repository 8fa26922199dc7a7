//! `guestctl inspect --format xml` beside libguestfs's own virt-inspector on
//! the real Debian guest: the same operating-system fields and the same
//! applications, field by field. Runs where virt-inspector is installed
//! (it boots an appliance VM: ~20 s here), and says so where it is not.

mod cli;

use std::collections::BTreeMap;
use std::process::Command;

use cli::{guestctl, stdout};

type Fields = BTreeMap<String, String>;

/// The first operating system's leaf elements and its applications keyed
/// by (name, arch).
fn parse(xml: &str) -> (Fields, BTreeMap<(String, String), Fields>) {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let os = doc
        .descendants()
        .find(|n| n.has_tag_name("operatingsystem"))
        .expect("an operatingsystem element");
    let leaves = |node: roxmltree::Node| -> Fields {
        node.children()
            .filter(|c| c.is_element() && c.children().all(|g| !g.is_element()))
            .map(|c| {
                (
                    c.tag_name().name().to_string(),
                    c.text().unwrap_or("").trim().to_string(),
                )
            })
            .collect()
    };
    let top = leaves(os);
    let apps = os
        .descendants()
        .filter(|n| n.has_tag_name("application"))
        .map(|a| {
            let f = leaves(a);
            (
                (
                    f.get("name").cloned().unwrap_or_default(),
                    f.get("arch").cloned().unwrap_or_default(),
                ),
                f,
            )
        })
        .collect();
    (top, apps)
}

#[test]
fn xml_matches_virt_inspector_on_the_debian_guest() {
    let found = Command::new("sh")
        .args(["-c", "command -v virt-inspector"])
        .output();
    if !found.is_ok_and(|o| o.status.success()) {
        eprintln!("virt-inspector is not installed (Debian: libguestfs-tools): skipping");
        return;
    }
    let images = guestkit_fixtures::debian_images::debian_images().expect("debian images");
    let image = images
        .iter()
        .find(|i| i.name == "ext4-gpt.qcow2")
        .expect("qcow2");
    let path = image.path.to_str().expect("utf-8");
    // Direct backend, software emulation: nested KVM is not dependable here.
    let theirs = Command::new("virt-inspector")
        .args(["--format=qcow2", "-a", path])
        .env("LIBGUESTFS_BACKEND", "direct")
        .env("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        .output()
        .expect("running virt-inspector");
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let ours = stdout(&guestctl(&["inspect", "--format", "xml", path]));
    let (their_top, their_apps) = parse(&String::from_utf8_lossy(&theirs.stdout));
    let (our_top, our_apps) = parse(&ours);
    for (field, value) in &their_top {
        match field.as_str() {
            // Device naming differs by design (/dev/sda1 vs disk0p1); the
            // icon is an embedded PNG guestkit does not extract.
            "root" | "icon" => {}
            _ => assert_eq!(our_top.get(field), Some(value), "<{field}>"),
        }
    }
    assert!(their_apps.len() > 100, "{} applications", their_apps.len());
    assert_eq!(
        our_apps.keys().collect::<Vec<_>>(),
        their_apps.keys().collect::<Vec<_>>()
    );
    for (key, theirs) in &their_apps {
        assert_eq!(&our_apps[key], theirs, "application {key:?}");
    }
}
