//! LVM2: real LVM-written headers, disks built by our writer (checked against
//! the real bytes), assembly across files and partitions, and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use guestkit_disk::volume::lvm::{self, PhysicalVolume, VolumeGroup};
use guestkit_disk::{DeviceRef, DiskError, FileDevice, Layer, Limits, MemDevice, SliceDevice};
use guestkit_fixtures::lvm::{
    self as w, lv_pattern, LvSpec, PvSpec, SegmentSpec, VgSpec, CRC_INITIAL,
};

const MIB: u64 = 1 << 20;

fn data_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/lvm")
            .join(name),
    )
    .unwrap()
}

fn file_dev(path: &Path) -> DeviceRef {
    Arc::new(FileDevice::open(path, Default::default()).unwrap())
}

fn probe(dev: &DeviceRef) -> PhysicalVolume {
    lvm::probe_pv(dev.as_ref(), &Limits::default())
        .unwrap()
        .expect("a PV")
}

fn assemble_one(devs: &[DeviceRef]) -> VolumeGroup {
    let pvs = devs.iter().map(|d| (probe(d), Arc::clone(d))).collect();
    let mut vgs = lvm::assemble(pvs, &Limits::default());
    assert_eq!(vgs.len(), 1);
    vgs.remove(0).result.unwrap()
}

fn lv<'a>(vg: &'a VolumeGroup, name: &str) -> &'a lvm::LogicalVolume {
    vg.lvs.iter().find(|l| l.name == name).unwrap()
}

/// Asserts a Corrupt error from layer lvm naming `path_part`, `field_part`.
fn assert_corrupt(err: &DiskError, path_part: &str, field_part: &str) -> u64 {
    match err {
        DiskError::Corrupt {
            path,
            layer,
            offset,
            field,
            ..
        } => {
            assert_eq!(*layer, Layer::Lvm, "{err}");
            assert!(path.display().to_string().contains(path_part), "{err}");
            assert!(field.contains(field_part), "{err}");
            *offset
        }
        other => panic!("expected Corrupt naming {field_part}, got {other}"),
    }
}

// ---- real LVM 2.03.16 headers ------------------------------------------------

/// A 16 MiB device with the real header bytes, every extent filled with
/// (pv, extent, byte index) so LV reads show where they came from.
fn real_pv(idx: u8) -> DeviceRef {
    let mut data = vec![0u8; 16 << 20];
    let head = data_file(&format!("pv{idx}-head.bin"));
    data[..head.len()].copy_from_slice(&head);
    for (i, b) in data[MIB as usize..].iter_mut().enumerate() {
        *b = tag(idx, i as u64);
    }
    Arc::new(MemDevice::new(data, format!("real-pv{idx}")))
}

fn tag(pv: u8, data_off: u64) -> u8 {
    ((data_off / MIB) as u8)
        .wrapping_mul(16)
        .wrapping_add(pv * 7)
        .wrapping_add((data_off % 251) as u8)
}

#[test]
fn real_lvm_headers_probe_and_assemble() {
    let devs = [real_pv(0), real_pv(1)];
    let pv0 = probe(&devs[0]);
    assert_eq!(pv0.pv_uuid, "u4ahgd-iEfA-W7PU-cglc-4cdP-p3GV-3RJL3M");
    assert_eq!(pv0.device_size, 16 << 20);
    assert_eq!(pv0.pe_start, MIB);
    assert_eq!(pv0.label_sector, 1);
    let m = pv0.metadata.as_ref().unwrap();
    assert_eq!(
        (m.seqno, m.vg_name.as_str(), m.vg_uuid.as_str()),
        (5, "testvg", "elw6Oq-caNt-F5ci-jQ7z-yHaa-ZlW1-i02CVg")
    );
    assert_eq!(m.text_offset, 4096 + 6656);

    let vg = assemble_one(&devs);
    assert!(vg.warnings.is_empty(), "{:?}", vg.warnings);
    assert_eq!(
        (vg.name.as_str(), vg.seqno, vg.extent_size),
        ("testvg", 5, MIB)
    );
    assert_eq!(vg.pvs.len(), 2);
    assert!(vg.pvs.iter().all(|p| !p.missing && p.pe_count == 15));
    let names: Vec<_> = vg.lvs.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lin", "str", "other"]);

    // lvs: lin = pv0:0-2 + pv0:6-7.
    let lin = lv(&vg, "lin");
    assert_eq!(lin.uuid, "atmN30-34ak-r7qy-aFy0-o1Ro-InVG-IZdMKK");
    assert_eq!(lin.size, 5 * MIB);
    assert_eq!(lin.segments.len(), 2);
    assert_eq!(lin.segments[1].kind, "linear");
    assert_eq!(lin.segments[1].stripes, [("pv0".to_string(), 6)]);
    let dev = lin.device.as_ref().unwrap();
    let expect_pv_extent = [0u64, 1, 2, 6, 7];
    let mut buf = vec![0u8; MIB as usize];
    for (k, pe) in expect_pv_extent.iter().enumerate() {
        dev.read_at(&mut buf, k as u64 * MIB).unwrap();
        let want: Vec<u8> = (0..MIB).map(|i| tag(0, pe * MIB + i)).collect();
        assert!(buf == want, "lin extent {k}");
    }

    // str: striped 64 KiB over pv0:3-4 and pv1:0-1.
    let st = lv(&vg, "str");
    assert_eq!(st.size, 4 * MIB);
    assert_eq!(st.segments[0].kind, "striped");
    assert_eq!(st.segments[0].stripe_size, Some(64 << 10));
    let dev = st.device.as_ref().unwrap();
    let mut all = vec![0u8; 4 * MIB as usize];
    dev.read_at(&mut all, 0).unwrap();
    for (chunk, got) in all.chunks(64 << 10).enumerate() {
        let chunk = chunk as u64;
        let (pv, base) = if chunk.is_multiple_of(2) {
            (0, 3 * MIB)
        } else {
            (1, 0)
        };
        let off = base + (chunk / 2) * (64 << 10);
        let want: Vec<u8> = (0..64 << 10).map(|i| tag(pv, off + i)).collect();
        assert!(got == want, "str chunk {chunk}");
    }
    // Unaligned read across stripe boundaries equals the same bytes of `all`.
    let mut part = vec![0u8; 200_000];
    dev.read_at(&mut part, 12_345).unwrap();
    assert_eq!(part[..], all[12_345..212_345]);
    assert!(dev.read_at(&mut part, 4 * MIB - 10).is_err());
}

#[test]
fn writer_produces_the_bytes_real_lvm_wrote() {
    let real = data_file("pv0-head.bin");
    let real_text_start = 4096 + 6656;
    let dir = tempfile::tempdir().unwrap();
    let f0 = dir.path().join("pv0.img");
    let f1 = dir.path().join("pv1.img");
    std::fs::File::create(&f0).unwrap();
    std::fs::File::create(&f1).unwrap();
    let mut pv0 = PvSpec::new("pv0", &f0, 0, 16 << 20, "/dev/loop0");
    pv0.uuid = "u4ahgdiEfAW7PUcglc4cdPp3GV3RJL3M".into();
    let mut pv1 = PvSpec::new("pv1", &f1, 0, 16 << 20, "/dev/loop1");
    pv1.uuid = "ePBVHRHttzkJVlsYBCOq1YJKIZK9AFJW".into();
    let mut lin = LvSpec::new(
        "lin",
        vec![SegmentSpec::linear(0, 0, 3), SegmentSpec::linear(0, 6, 2)],
    );
    lin.uuid = "atmN3034akr7qyaFy0o1RoInVGIZdMKK".into();
    let mut st = LvSpec::new(
        "str",
        vec![SegmentSpec::striped(vec![(0, 3), (1, 0)], 64 << 10, 4)],
    );
    st.uuid = "gbdlOtGTSwMaszKYytdJ1UDysOIJmKLT".into();
    let mut other = LvSpec::new("other", vec![SegmentSpec::linear(0, 5, 1)]);
    other.uuid = "48sC6xBbXShwqUgXZwpOSppN3gkR6bXs".into();
    let mut vg = VgSpec::new("testvg", vec![pv0, pv1], vec![lin, st, other]);
    vg.uuid = "elw6OqcaNtF5cijQ7zyHaaZlW1i02CVg".into();
    vg.seqno = 5;
    vg.creation_time = 1_795_499_939;
    vg.creation_host = "vm".into();
    vg.host_comment = "Linux vm 6.18.44-fc-v669 #1 SMP PREEMPT_DYNAMIC @0 x86_64".into();
    vg.description =
        "Write from lvextend --config global/activation=0 -l +2 testvg/lin /dev/loop0.".into();

    let text = vg.metadata_text();
    let real_text = &real[real_text_start..real_text_start + 1890];
    assert_eq!(text, String::from_utf8_lossy(real_text));

    w::write_pv(&vg.pvs[0], true).unwrap();
    w::write_metadata_at(&vg.pvs[0], &text, 6656).unwrap();
    let ours = std::fs::read(&f0).unwrap();
    assert_eq!(ours.len() as u64, 16 << 20);
    assert_eq!(ours[512..1024], real[512..1024], "label sector");
    assert_eq!(ours[4096..4608], real[4096..4608], "mda header");
    assert_eq!(
        ours[real_text_start..real_text_start + 1891],
        real[real_text_start..real_text_start + 1891],
        "metadata text"
    );
    // The reader's CRC agrees with the writer's bitwise one on real bytes.
    assert_eq!(
        lvm::label::crc(CRC_INITIAL, &real[532..1024]),
        w::lvm_crc(CRC_INITIAL, &real[532..1024])
    );
}

// ---- the standard fixture: two files, whole disk + MBR partition ------------

fn partition_offset(disk: &Path) -> (u64, u64) {
    let out = common::run("sfdisk", &["--json", common::s(disk)]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p = &v["partitiontable"]["partitions"][0];
    (
        p["start"].as_u64().unwrap() * 512,
        p["size"].as_u64().unwrap() * 512,
    )
}

fn standard_devices() -> (PathBuf, VgSpec, DeviceRef, DeviceRef) {
    let dir = guestkit_fixtures::lvm::standard().unwrap();
    let spec = w::standard_spec(&dir);
    let disk0 = file_dev(&dir.join("disk0.raw"));
    let disk1_path = dir.join("disk1.raw");
    let (start, size) = partition_offset(&disk1_path);
    assert_eq!((start, size), (spec.pvs[1].offset, spec.pvs[1].size));
    let part: DeviceRef =
        Arc::new(SliceDevice::new(file_dev(&disk1_path), start, size, "disk1p1").unwrap());
    (dir, spec, disk0, part)
}

#[test]
fn standard_fixture_reads_back_every_lv() {
    let (_dir, spec, disk0, part) = standard_devices();
    let vg = assemble_one(&[disk0, part]);
    assert!(vg.warnings.is_empty(), "{:?}", vg.warnings);
    assert_eq!(vg.name, "vg0");
    assert_eq!(vg.uuid, w::dashed(&spec.uuid));
    assert_eq!(vg.pvs[1].device.as_deref(), Some("disk1p1"));
    assert_eq!(vg.pvs[0].pe_count, 39);
    assert_eq!(vg.pvs[1].pe_count, 37);
    for lvspec in &spec.lvs {
        let lv = lv(&vg, &lvspec.name);
        assert_eq!(lv.uuid, w::dashed(&lvspec.uuid));
        assert_eq!(lv.size, spec.lv_size(&lvspec.name));
        assert_eq!(lv.status, ["READ", "WRITE", "VISIBLE"]);
        let want = lv_pattern(&lvspec.name, lv.size as usize);
        common::assert_device_equals(lv.device.as_ref().unwrap().as_ref(), &want, &lv.name);
    }
    let root = lv(&vg, "root");
    assert_eq!(root.segments.len(), 3);
    assert_eq!(root.segments[2].start_extent, 5);
    assert_eq!(root.segments[2].stripes, [("pv0".to_string(), 20)]);
    let json = serde_json::to_value(&vg).unwrap();
    assert_eq!(json["lvs"][1]["segments"][0]["kind"], "striped");
    assert_eq!(json["lvs"][1]["segments"][0]["stripe_size"], 65536);
}

#[test]
fn partitioned_disk_itself_is_not_a_pv() {
    let (dir, _, _, _) = standard_devices();
    let whole = file_dev(&dir.join("disk1.raw"));
    assert!(lvm::probe_pv(whole.as_ref(), &Limits::default())
        .unwrap()
        .is_none());
}

#[test]
fn missing_pv_gives_warning_and_no_device() {
    let (_dir, spec, disk0, _) = standard_devices();
    let vg = assemble_one(&[disk0]);
    assert!(vg.pvs[1].missing);
    assert!(vg.pvs[1].device.is_none());
    assert!(
        vg.warnings
            .iter()
            .any(|w| w.contains("pv1") && w.contains("missing")),
        "{:?}",
        vg.warnings
    );
    for name in ["data", "span", "tail"] {
        assert!(lv(&vg, name).device.is_none(), "{name}");
        assert!(
            vg.warnings
                .iter()
                .any(|w| w.contains(&format!("vg0/{name}")) && w.contains("pv1")),
            "{name}: {:?}",
            vg.warnings
        );
    }
    let root = lv(&vg, "root");
    let want = lv_pattern("root", spec.lv_size("root") as usize);
    common::assert_device_equals(root.device.as_ref().unwrap().as_ref(), &want, "root");
}

// ---- metadata versions and the circular buffer -------------------------------

fn two_pv_spec(dir: &Path) -> VgSpec {
    let mut pvs = Vec::new();
    for i in 0..2 {
        let path = dir.join(format!("d{i}.img"));
        std::fs::File::create(&path)
            .unwrap()
            .set_len(12 << 20)
            .unwrap();
        pvs.push(PvSpec::new(&format!("pv{i}"), &path, 0, 12 << 20, "/dev/x"));
    }
    let lvs = vec![LvSpec::new("a", vec![SegmentSpec::linear(0, 1, 2)])];
    VgSpec::new("vgv", pvs, lvs)
}

fn devs_of(spec: &VgSpec) -> Vec<DeviceRef> {
    spec.pvs.iter().map(|p| file_dev(&p.path)).collect()
}

#[test]
fn newest_metadata_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = two_pv_spec(dir.path());
    w::write_vg(&spec).unwrap();
    spec.seqno = 2;
    spec.lvs
        .push(LvSpec::new("b", vec![SegmentSpec::linear(1, 0, 3)]));
    // Only pv1 sees the update, written after the first text like LVM does.
    w::write_metadata(&spec.pvs[1], &spec.metadata_text()).unwrap();
    let (off, _) = w::committed_locn(&spec.pvs[1]).unwrap().unwrap();
    assert!(off > 512, "second text follows the first");
    let data = lv_pattern("b", 3 * MIB as usize);
    spec.write_lv_data("b", &data).unwrap();

    let devs = devs_of(&spec);
    assert_eq!(probe(&devs[0]).metadata.unwrap().seqno, 1);
    assert_eq!(probe(&devs[1]).metadata.unwrap().seqno, 2);
    for order in [[0, 1], [1, 0]] {
        let vg = assemble_one(&[Arc::clone(&devs[order[0]]), Arc::clone(&devs[order[1]])]);
        assert_eq!(vg.seqno, 2);
        assert_eq!(vg.lvs.len(), 2);
        assert!(
            vg.warnings.iter().any(|w| w.contains("seqno 1")),
            "{:?}",
            vg.warnings
        );
        common::assert_device_equals(lv(&vg, "b").device.as_ref().unwrap().as_ref(), &data, "b");
    }
}

#[test]
fn metadata_wrapping_around_the_circular_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    let text = spec.metadata_text();
    let area = spec.pvs[0].pe_start - 4096;
    for pv in &spec.pvs {
        w::write_pv(pv, true).unwrap();
        // Starts 300 bytes before the end of the area: the rest continues
        // right after the 512-byte area header.
        w::write_metadata_at(pv, &text, area - 300).unwrap();
    }
    let raw = std::fs::read(&spec.pvs[0].path).unwrap();
    assert_ne!(raw[4096 + 512], 0, "text continues after the header");
    let vg = assemble_one(&devs_of(&spec));
    assert_eq!(vg.name, "vgv");
    assert_eq!(lv(&vg, "a").size, 2 * MIB);
}

#[test]
fn truncated_pv_and_duplicate_pv_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_vg(&spec).unwrap();
    // pv0 cut short: its 11 extents no longer fit, so LV `a` has no device.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&spec.pvs[0].path)
        .unwrap();
    f.set_len(3 << 20).unwrap();
    let devs = devs_of(&spec);
    let vg = assemble_one(&devs);
    assert!(lv(&vg, "a").device.is_none());
    assert!(
        vg.warnings
            .iter()
            .any(|w| w.contains("pv0") && w.contains("unreadable")),
        "{:?}",
        vg.warnings
    );
    // The same PV given twice: used once, with a warning.
    let vg = assemble_one(&[Arc::clone(&devs[1]), Arc::clone(&devs[1])]);
    assert!(
        vg.warnings.iter().any(|w| w.contains("several devices")),
        "{:?}",
        vg.warnings
    );
}

// ---- unsupported segment types -----------------------------------------------

#[test]
fn thin_segments_are_listed_without_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = two_pv_spec(dir.path());
    spec.lvs.push(LvSpec::new(
        "pool",
        vec![SegmentSpec::other(
            "thin-pool",
            2,
            &[
                "metadata = \"pool_tmeta\"",
                "pool = \"pool_tdata\"",
                "transaction_id = 0",
                "chunk_size = 128",
                "discards = \"passdown\"",
                "zero_new_blocks = 1",
            ],
        )],
    ));
    w::write_vg(&spec).unwrap();
    let vg = assemble_one(&devs_of(&spec));
    let pool = lv(&vg, "pool");
    assert!(pool.device.is_none());
    assert_eq!(pool.segments[0].kind, "thin-pool");
    assert_eq!(pool.size, 2 * MIB);
    assert!(
        vg.warnings
            .iter()
            .any(|w| w.contains("unsupported segment type thin-pool")),
        "{:?}",
        vg.warnings
    );
    assert!(lv(&vg, "a").device.is_some());
}

// ---- bad input -----------------------------------------------------------------

fn vg_error(spec: &VgSpec) -> DiskError {
    w::write_vg(spec).unwrap();
    let devs = devs_of(spec);
    let pvs = devs.iter().map(|d| (probe(d), Arc::clone(d))).collect();
    let mut vgs = lvm::assemble(pvs, &Limits::default());
    assert_eq!(vgs.len(), 1);
    vgs.remove(0).result.unwrap_err()
}

#[test]
fn absurd_extent_count_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = two_pv_spec(dir.path());
    spec.lvs[0].segments[0].extent_count = 1 << 40;
    let e = vg_error(&spec);
    let off = assert_corrupt(&e, "d0.img", "logical_volumes/a/segment1/extent_count");
    assert_eq!(off, 4096 + 512);
}

#[test]
fn segment_past_pv_end_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = two_pv_spec(dir.path());
    spec.lvs[0].segments[0] = SegmentSpec::linear(0, 9, 3); // pv0 has 11 extents
    let e = vg_error(&spec);
    assert_corrupt(&e, "d0.img", "logical_volumes/a/segment1/stripes[0]");
    assert!(e.to_string().contains("past the 11 extents of pv0"), "{e}");
}

#[test]
fn metadata_syntax_error_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_pv(&spec.pvs[0], true).unwrap();
    w::write_metadata(&spec.pvs[0], "vgv {\nid = \"x\"\nseqno = \n}\n").unwrap();
    let dev = file_dev(&spec.pvs[0].path);
    let e = lvm::probe_pv(dev.as_ref(), &Limits::default()).unwrap_err();
    let off = assert_corrupt(&e, "d0.img", "metadata text line 4 column 1");
    assert_eq!(off, 4096 + 512);
}

#[test]
fn bad_label_crc_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_vg(&spec).unwrap();
    let path = &spec.pvs[0].path;
    let mut raw = std::fs::read(path).unwrap();
    raw[512 + 40] ^= 1; // inside the PV uuid
    std::fs::write(path, &raw).unwrap();
    let e = lvm::probe_pv(file_dev(path).as_ref(), &Limits::default()).unwrap_err();
    assert_eq!(assert_corrupt(&e, "d0.img", "label_header.crc"), 512 + 16);
}

#[test]
fn metadata_area_past_eof_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_vg(&spec).unwrap();
    let path = &spec.pvs[0].path;
    let mut raw = std::fs::read(path).unwrap();
    raw[512 + 104..512 + 112].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let crc = w::lvm_crc(CRC_INITIAL, &raw[532..1024]);
    raw[528..532].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, &raw).unwrap();
    let e = lvm::probe_pv(file_dev(path).as_ref(), &Limits::default()).unwrap_err();
    assert_eq!(
        assert_corrupt(&e, "d0.img", "pv_header.metadata_areas"),
        1 << 40
    );
}

#[test]
fn bad_metadata_checksum_and_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_vg(&spec).unwrap();
    let path = &spec.pvs[0].path;
    let dev = file_dev(path);
    let small = Limits {
        max_table_bytes: 100,
        ..Default::default()
    };
    match lvm::probe_pv(dev.as_ref(), &small).unwrap_err() {
        DiskError::LimitExceeded {
            layer,
            field,
            limit,
            ..
        } => {
            assert_eq!((layer, limit), (Layer::Lvm, 100));
            assert!(field.contains("raw_locn[0].size"), "{field}");
        }
        e => panic!("{e}"),
    }
    let mut raw = std::fs::read(path).unwrap();
    raw[4096 + 512 + 10] ^= 0x20; // change a text byte
    std::fs::write(path, &raw).unwrap();
    let e = lvm::probe_pv(file_dev(path).as_ref(), &Limits::default()).unwrap_err();
    assert_corrupt(&e, "d0.img", "raw_locn[0].checksum");
}

#[test]
fn orphan_pv_has_no_metadata_and_plain_files_no_label() {
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_pv(&spec.pvs[0], false).unwrap();
    let pv = probe(&file_dev(&spec.pvs[0].path));
    assert!(pv.metadata.is_none());
    assert_eq!(pv.pv_uuid, w::dashed(&spec.pvs[0].uuid));
    assert!(
        lvm::probe_pv(file_dev(&spec.pvs[1].path).as_ref(), &Limits::default())
            .unwrap()
            .is_none()
    );
    let tiny = MemDevice::new(vec![0u8; 100], "tiny");
    assert!(lvm::probe_pv(&tiny, &Limits::default()).unwrap().is_none());
    assert!(lvm::assemble(vec![(pv, file_dev(&spec.pvs[0].path))], &Limits::default()).is_empty());
}

// ---- optional cross-check with LVM's own pvck ---------------------------------

#[test]
fn pvck_accepts_writer_output_when_installed() {
    if !guestkit_fixtures::tools::available("pvck") {
        eprintln!("pvck not installed; skipping the LVM cross-check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = two_pv_spec(dir.path());
    w::write_vg(&spec).unwrap();
    let out = std::process::Command::new("pvck")
        .args(["--dump", "headers", common::s(&spec.pvs[0].path)])
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("CHECK"), "{text}");
    assert!(text.contains("vgname vgv seqno 1"), "{text}");
}

// ---- fuzz seeds ------------------------------------------------------------------

/// Writes small writer-made PVs and metadata texts as fuzz seeds into
/// `$GUESTKIT_LVM_SEEDS/{lvm_label,lvm_metadata}`.
#[test]
#[ignore = "writes fuzz seeds: GUESTKIT_LVM_SEEDS=fuzz/corpus cargo test -- --ignored"]
fn write_fuzz_seeds() {
    let Some(root) = std::env::var_os("GUESTKIT_LVM_SEEDS") else {
        return;
    };
    let root = PathBuf::from(root);
    let label_dir = root.join("lvm_label");
    let text_dir = root.join("lvm_metadata");
    std::fs::create_dir_all(&label_dir).unwrap();
    std::fs::create_dir_all(&text_dir).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let small_pv = |name: &str| {
        let path = dir.path().join(format!("{name}.img"));
        std::fs::File::create(&path).unwrap();
        let mut pv = PvSpec::new(name, &path, 0, 64 << 10, "/dev/sdz");
        pv.pe_start = 16 << 10;
        pv
    };
    let mut spec = VgSpec::new(
        "seedvg",
        vec![small_pv("pv0"), small_pv("pv1")],
        vec![
            LvSpec::new(
                "lin",
                vec![SegmentSpec::linear(0, 0, 2), SegmentSpec::linear(0, 5, 3)],
            ),
            LvSpec::new(
                "str",
                vec![SegmentSpec::striped(vec![(0, 8), (1, 0)], 1024, 4)],
            ),
            LvSpec::new("one", vec![SegmentSpec::linear(1, 4, 2)]),
            LvSpec::new(
                "thin",
                vec![SegmentSpec::other("thin", 1, &["thin_pool = \"p\""])],
            ),
        ],
    );
    spec.extent_size = 4096;
    w::write_vg(&spec).unwrap();
    for lv in ["lin", "str", "one"] {
        spec.write_lv_data(lv, &lv_pattern(lv, spec.lv_size(lv) as usize))
            .unwrap();
    }
    for (i, pv) in spec.pvs.iter().enumerate() {
        std::fs::copy(&pv.path, label_dir.join(format!("vg-pv{i}"))).unwrap();
    }
    std::fs::write(text_dir.join("seedvg"), spec.metadata_text()).unwrap();
    // A second version, then a wrapped one.
    spec.seqno = 2;
    w::write_metadata(&spec.pvs[0], &spec.metadata_text()).unwrap();
    std::fs::copy(&spec.pvs[0].path, label_dir.join("vg-pv0-seqno2")).unwrap();
    w::write_metadata_at(&spec.pvs[0], &spec.metadata_text(), (12 << 10) - 700).unwrap();
    std::fs::copy(&spec.pvs[0].path, label_dir.join("vg-pv0-wrapped")).unwrap();
    // An orphan PV.
    let orphan = small_pv("orphan");
    w::write_pv(&orphan, false).unwrap();
    std::fs::copy(&orphan.path, label_dir.join("orphan")).unwrap();
    // Real LVM texts (seqno 1..5) from the sample headers.
    let real = data_file("pv0-head.bin");
    for (n, off) in [512usize, 1536, 3072, 4608, 6656].into_iter().enumerate() {
        let start = 4096 + off;
        let end = start + real[start..].iter().position(|&b| b == 0).unwrap();
        std::fs::write(
            text_dir.join(format!("real-seqno{}", n + 1)),
            &real[start..end],
        )
        .unwrap();
    }
    let mut head = real.clone();
    head.truncate(12 << 10);
    std::fs::write(label_dir.join("real-head-12k"), head).unwrap();
}
