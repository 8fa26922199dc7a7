//! Any bytes as a device that may be an LVM2 PV: label scan, PV header,
//! metadata-area headers and circular-buffer text, then assembly of the PV
//! on its own and reads of every LV device.
#![no_main]

use std::sync::Arc;

use guestkit_disk::volume::lvm;
use guestkit_disk::{DeviceRef, Limits, MemDevice};
use libfuzzer_sys::fuzz_target;

/// Recomputes the checksums random mutation cannot keep right (label CRC,
/// the mda header at 4096, its unwrapped committed text) so the fuzzer gets
/// past them; inputs of odd length keep their checksums as they are.
fn fix_checksums(data: &mut [u8]) {
    use guestkit_disk::volume::lvm::label::{crc, CRC_INITIAL};
    fn put(data: &mut [u8], at: usize, v: u32) {
        if let Some(d) = data.get_mut(at..at + 4) {
            d.copy_from_slice(&v.to_le_bytes());
        }
    }
    for s in 0..4usize {
        let at = s * 512;
        if data.get(at..at + 8) == Some(b"LABELONE") {
            if let Some(body) = data.get(at + 20..at + 512) {
                let c = crc(CRC_INITIAL, body);
                put(data, at + 16, c);
            }
        }
    }
    let mda = 4096usize;
    let field = |data: &[u8], at: usize| {
        data.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
    };
    if let (Some(off), Some(size)) = (field(data, mda + 40), field(data, mda + 48)) {
        let start = mda.saturating_add(off);
        if let Some(text) = start.checked_add(size).and_then(|end| data.get(start..end)) {
            let c = crc(CRC_INITIAL, text);
            put(data, mda + 56, c);
        }
    }
    if let Some(h) = data.get(mda + 4..mda + 512) {
        let c = crc(CRC_INITIAL, h);
        put(data, mda, c);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut data = data.to_vec();
    if data.len() % 2 == 0 {
        fix_checksums(&mut data);
    }
    let dev: DeviceRef = Arc::new(MemDevice::new(data, "fuzz-pv"));
    let limits = Limits {
        max_table_bytes: 1 << 20,
        max_entries: 4096,
        ..Default::default()
    };
    let Ok(Some(pv)) = lvm::probe_pv(dev.as_ref(), &limits) else {
        return;
    };
    for result in lvm::assemble(vec![(pv, Arc::clone(&dev))], &limits) {
        let Ok(vg) = result.result else { continue };
        for lv in &vg.lvs {
            let Some(lv_dev) = &lv.device else { continue };
            let size = lv_dev.size();
            let mut buf = vec![0u8; 8192];
            for i in 0..8u64 {
                let off = size / 8 * i;
                let len = (size - off).min(buf.len() as u64) as usize;
                let _ = lv_dev.read_at(&mut buf[..len], off);
            }
        }
    }
});
