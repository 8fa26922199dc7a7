//! Any bytes as a device that may be an LVM2 PV: label scan, PV header,
//! metadata-area headers and circular-buffer text, then assembly of the PV
//! on its own and reads of every LV device.
#![no_main]

use std::sync::Arc;

use guestkit_disk::volume::lvm;
use guestkit_disk::{BlockDevice, DeviceRef, Limits, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev: DeviceRef = Arc::new(MemDevice::new(data.to_vec(), "fuzz-pv"));
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
