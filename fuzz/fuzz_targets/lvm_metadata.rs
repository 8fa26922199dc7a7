//! Any bytes as LVM text metadata: the parser, the VG model, then assembly
//! onto in-memory PVs named after the metadata's own PV ids and reads of
//! every LV device.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use guestkit_disk::volume::lvm::{self, metadata, vg, PhysicalVolume, PvMetadata};
use guestkit_disk::{DeviceRef, Limits, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = Limits {
        max_table_bytes: 1 << 20,
        max_entries: 4096,
        max_virtual_size: 1 << 40,
        ..Default::default()
    };
    let _ = metadata::parse(&text, metadata::ParseLimits::default());
    let origin = vg::TextOrigin {
        path: Path::new("fuzz-metadata"),
        offset: 4608,
    };
    let Ok(root) = vg::parse_text(&text, origin, &limits) else {
        return;
    };
    let Ok((vg_name, vg_uuid, seqno)) = vg::summary(&root, origin) else {
        return;
    };
    let Ok(model) = vg::build(&root, origin, &limits) else {
        return;
    };
    let text: Arc<str> = Arc::from(text.as_ref());
    let mut pvs = Vec::new();
    for (i, pm) in model.pvs.iter().take(4).enumerate() {
        let want =
            (pm.pe_start * 512).saturating_add(pm.pe_count.saturating_mul(model.extent_size * 512));
        let size = want.min(256 << 10) as usize;
        let dev: DeviceRef = Arc::new(MemDevice::new(vec![0x5au8; size], format!("pv{i}")));
        let pv = PhysicalVolume {
            device: format!("pv{i}"),
            pv_uuid: pm.uuid.clone(),
            device_size: size as u64,
            pe_start: pm.pe_start * 512,
            label_sector: 1,
            metadata_areas: Vec::new(),
            metadata: (i == 0).then(|| PvMetadata {
                seqno,
                vg_name: vg_name.clone(),
                vg_uuid: vg_uuid.clone(),
                text_offset: 4608,
                text: Arc::clone(&text),
            }),
            warnings: Vec::new(),
        };
        pvs.push((pv, dev));
    }
    for result in lvm::assemble(pvs, &limits) {
        let Ok(vg) = result.result else { continue };
        for lv in &vg.lvs {
            let Some(dev) = &lv.device else { continue };
            let size = dev.size();
            let mut buf = vec![0u8; 70_000];
            for i in 0..8u64 {
                let off = size / 8 * i;
                let len = (size - off).min(buf.len() as u64) as usize;
                let _ = dev.read_at(&mut buf[..len], off);
            }
        }
    }
});
