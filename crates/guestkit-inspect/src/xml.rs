//! The report as virt-inspector's XML (same elements and nesting), so
//! consumers of libguestfs's inspector can switch without changes.

use std::fmt::Write;

use crate::packages::Package;
use crate::report::{OsReport, Report};

/// Escapes text for an XML element or attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn element(out: &mut String, indent: usize, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        let _ = writeln!(out, "{:indent$}<{name}>{}</{name}>", "", escape(v));
    }
}

/// A Debian version split as libguestfs splits it for `<application>`:
/// `epoch:` off the front, then the version up to the FIRST `-` and the
/// rest as release (`4.4.3-P1-2` → `4.4.3`, `P1-2`), where Debian policy
/// would split at the last. The XML follows libguestfs so its consumers see
/// the same values; the JSON report keeps dpkg's whole version.
fn split_deb_version(v: &str) -> (Option<&str>, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), r),
        _ => (None, v),
    };
    match rest.split_once('-') {
        Some((upstream, revision)) => (epoch, upstream, Some(revision)),
        None => (epoch, rest, None),
    }
}

fn application(out: &mut String, p: &Package, deb: bool) {
    out.push_str("      <application>\n");
    element(out, 8, "name", Some(&p.name));
    let epoch_text;
    let (epoch, version, release) = if deb {
        split_deb_version(&p.version)
    } else {
        epoch_text = p.epoch.filter(|e| *e != 0).map(|e| e.to_string());
        (
            epoch_text.as_deref(),
            p.version.as_str(),
            p.release.as_deref(),
        )
    };
    element(out, 8, "epoch", epoch.filter(|e| *e != "0"));
    element(out, 8, "version", Some(version));
    element(out, 8, "release", release);
    element(out, 8, "arch", p.arch.as_deref());
    let declared = p.source_declared || !deb;
    element(out, 8, "url", p.url.as_deref());
    element(
        out,
        8,
        "source_package",
        p.source_name.as_deref().filter(|_| declared),
    );
    element(out, 8, "summary", p.summary.as_deref());
    element(out, 8, "description", p.description.as_deref());
    out.push_str("      </application>\n");
}

fn operating_system(out: &mut String, os: &OsReport) {
    let i = &os.os;
    out.push_str("  <operatingsystem>\n");
    element(out, 4, "root", Some(&os.root));
    element(out, 4, "name", Some(&i.os_type));
    element(out, 4, "arch", i.arch.as_deref());
    element(out, 4, "distro", i.distro.as_deref());
    element(out, 4, "product_name", i.product_name.as_deref());
    element(out, 4, "product_variant", i.product_variant.as_deref());
    let major = i.version_major.map(|v| v.to_string());
    let minor = i.version_minor.map(|v| v.to_string());
    element(out, 4, "major_version", major.as_deref());
    element(out, 4, "minor_version", minor.as_deref());
    element(out, 4, "package_format", i.package_format.as_deref());
    element(
        out,
        4,
        "package_management",
        i.package_management.as_deref(),
    );
    element(out, 4, "hostname", i.hostname.as_deref());
    element(out, 4, "osinfo", i.osinfo.as_deref());
    if !os.mountpoints.is_empty() {
        out.push_str("    <mountpoints>\n");
        for m in &os.mountpoints {
            let _ = writeln!(
                out,
                "      <mountpoint dev=\"{}\">{}</mountpoint>",
                escape(&m.device),
                escape(&m.path)
            );
        }
        out.push_str("    </mountpoints>\n");
    }
    if !os.filesystems.is_empty() {
        out.push_str("    <filesystems>\n");
        for f in &os.filesystems {
            let _ = writeln!(out, "      <filesystem dev=\"{}\">", escape(&f.device));
            element(out, 8, "type", Some(&f.fs_type));
            element(out, 8, "label", f.label.as_deref());
            element(out, 8, "uuid", f.uuid.as_deref());
            out.push_str("      </filesystem>\n");
        }
        out.push_str("    </filesystems>\n");
    }
    if let Some(list) = &os.packages {
        out.push_str("    <applications>\n");
        let deb = list.database == "dpkg";
        for p in &list.packages {
            application(out, p, deb);
        }
        out.push_str("    </applications>\n");
    }
    out.push_str("  </operatingsystem>\n");
}

/// The report as virt-inspector XML.
pub fn to_xml(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<operatingsystems>\n");
    for os in &report.operating_systems {
        operating_system(&mut out, os);
    }
    out.push_str("</operatingsystems>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_versions_split_like_libguestfs() {
        assert_eq!(
            split_deb_version("1:2.36-9+deb12u4"),
            (Some("1"), "2.36", Some("9+deb12u4"))
        );
        assert_eq!(
            split_deb_version("5.2.15-2+b2"),
            (None, "5.2.15", Some("2+b2"))
        );
        assert_eq!(split_deb_version("20230311"), (None, "20230311", None));
        assert_eq!(
            split_deb_version("4.4.3-P1-2"),
            (None, "4.4.3", Some("P1-2"))
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
