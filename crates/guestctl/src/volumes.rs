//! The volume tree, printed for people.

use std::io::Write;

use anyhow::Result;
use guestkit_disk::volume::scan::{Content, Volume, VolumeTree};

use crate::human;

/// Prints every disk's tree, then the volume groups and warnings.
pub fn write_tree(out: &mut impl Write, tree: &VolumeTree) -> Result<()> {
    writeln!(out, "volumes:")?;
    for disk in &tree.disks {
        write_volume(out, disk, "  ", "")?;
    }
    for array in &tree.md_arrays {
        writeln!(
            out,
            "  md {}  uuid {}  raid{}  members: {}",
            array.name.as_deref().unwrap_or("-"),
            array.array_uuid,
            array.level,
            array.members.join(", ")
        )?;
        if let Some(v) = &array.volume {
            write_volume(out, v, "    ", "└─ ")?;
        }
    }
    for node in &tree.volume_groups {
        let g = &node.group;
        writeln!(
            out,
            "  lvm vg {}  uuid {}  extent {}  seqno {}  pvs: {}",
            g.name,
            g.uuid,
            human::size(g.extent_size),
            g.seqno,
            g.pvs
                .iter()
                .map(|p| match &p.device {
                    Some(d) => format!("{} ({d})", p.name),
                    None => format!("{} (missing)", p.name),
                })
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        for lv in &g.lvs {
            let kinds: Vec<&str> = lv.segments.iter().map(|s| s.kind.as_str()).collect();
            let volume = node
                .volumes
                .iter()
                .find(|v| v.id == format!("{}/{}", g.name, lv.name));
            let what = match volume {
                Some(v) => describe(&v.content),
                None => "no device (see warnings)".to_string(),
            };
            let line = format!(
                "    └─ {}/{}  {}  {} segment(s): {}  {what}",
                g.name,
                lv.name,
                human::size(lv.size),
                lv.segments.len(),
                kinds.join(",")
            );
            writeln!(out, "{}", line.trim_end())?;
            if let Some(v) = volume {
                for child in &v.children {
                    write_volume(out, child, "       ", "└─ ")?;
                }
            }
        }
    }
    if !tree.warnings.is_empty() {
        writeln!(out, "warnings:")?;
        for w in &tree.warnings {
            writeln!(out, "  {w}")?;
        }
    }
    Ok(())
}

fn write_volume(out: &mut impl Write, v: &Volume, indent: &str, branch: &str) -> Result<()> {
    let mut line = format!("{indent}{branch}{}  {}", v.id, human::size(v.size));
    if let Some(offset) = v.offset {
        line.push_str(&format!("  at {offset}"));
    }
    if let Some(p) = &v.partition {
        line.push_str(&format!("  type {}", p.type_id));
        if let Some(name) = p.type_name {
            line.push_str(&format!(" ({name})"));
        }
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            line.push_str(&format!("  name {name:?}"));
        }
        if let Some(uuid) = &p.uuid {
            line.push_str(&format!("  partuuid {uuid}"));
        }
        if p.bootable {
            line.push_str("  bootable");
        }
    }
    let what = describe(&v.content);
    if !what.is_empty() {
        line.push_str("  ");
        line.push_str(&what);
    }
    writeln!(out, "{line}")?;
    let child_indent = format!("{indent}{}", if branch.is_empty() { "" } else { "   " });
    for child in &v.children {
        write_volume(out, child, &child_indent, "└─ ")?;
    }
    Ok(())
}

fn describe(content: &Content) -> String {
    match content {
        Content::PartitionTable {
            scheme,
            disk_id,
            sector_size,
        } => format!(
            "{} table, id {disk_id}, {sector_size}-byte sectors",
            format!("{scheme:?}").to_lowercase()
        ),
        Content::LvmPv { pv_uuid, vg_name } => match vg_name {
            Some(vg) => format!("lvm pv {pv_uuid} of vg {vg}"),
            None => format!("lvm pv {pv_uuid} (no vg)"),
        },
        Content::Luks(l) => format!(
            "luks{} uuid {}{}",
            l.version,
            l.uuid,
            l.cipher
                .as_deref()
                .map(|c| format!(" cipher {c}"))
                .unwrap_or_default()
        ),
        Content::Swap(s) => format!(
            "swap{}{}",
            s.label
                .as_deref()
                .map(|l| format!(" label {l}"))
                .unwrap_or_default(),
            s.uuid
                .as_deref()
                .map(|u| format!(" uuid {u}"))
                .unwrap_or_default()
        ),
        Content::MdMember(m) => format!(
            "md member ({}) of {} role {}",
            m.version,
            m.array_uuid,
            m.device_role
                .map(|r| r.to_string())
                .unwrap_or_else(|| "spare/faulty".into())
        ),
        Content::Extended => "extended partition".to_string(),
        Content::Data => String::new(),
    }
}
