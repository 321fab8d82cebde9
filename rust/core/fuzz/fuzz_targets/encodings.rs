// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the encodings: every field round-trips and nothing panics.

#![no_main]

use ipi_core::apic::xapic_icr_high;
use ipi_core::apic::ApicId;
use ipi_core::apic::Icr;
use ipi_core::apic::Vector;
use ipi_core::kvm::decode_ret;
use ipi_core::kvm::KvmHcSendIpi;
use ipi_core::posted::PiControl;
use ipi_core::posted::PiDesc;
use ipi_core::posted::PostOutcome;
use ipi_core::tdx::TdVmCall;
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let a = u64_at(data, 0);
    let b = u64_at(data, 8);
    let c = u64_at(data, 16);

    // Any raw ICR decodes without panicking; fixed() values round-trip.
    let raw = Icr(a);
    let _ = (raw.vector(), raw.delivery_mode(), raw.dest(), raw.is_fixed_physical());
    if let Ok(v) = Vector::new(a as u8) {
        let icr = Icr::fixed(v, ApicId((b >> 32) as u32));
        assert_eq!(icr.vector(), v.get());
        assert_eq!(icr.dest().0, (b >> 32) as u32);
        assert!(icr.is_fixed_physical());
        assert_eq!(TdVmCall::wrmsr_icr(icr).as_icr_write(), Some(icr));
        assert_eq!(xapic_icr_high(ApicId(b as u32)).is_ok(), (b as u32) <= 0xff);

        // Window: every added id is contained and listed once, in order.
        let min = ApicId(c as u32);
        let mut hc = KvmHcSendIpi::new(min, v);
        let mut added = 0u32;
        for byte in data.iter().skip(24) {
            let id = ApicId(min.0.wrapping_add(u32::from(*byte)));
            let fits = u32::from(*byte) < 128 && min.0.checked_add(u32::from(*byte)).is_some();
            assert_eq!(hc.add(id).is_ok(), fits);
            if fits {
                assert!(hc.contains(id));
            }
            added += 1;
        }
        let listed: Vec<ApicId> = hc.ids().collect();
        assert_eq!(listed.len() as u32, hc.count());
        assert!(listed.windows(2).all(|w| w[0] < w[1]));
        assert!(added >= hc.count());
        let target = ApicId(min.0.saturating_sub((a >> 8) as u32 % 200));
        let mut lowered = hc;
        if lowered.lower_min(target).is_ok() {
            assert!(lowered.ids().eq(listed.iter().copied()));
        } else {
            assert_eq!(lowered, hc);
        }

        // Posting: PIR bit set, ON/notify rules hold.
        let d = PiDesc { pir: [a, b, c, a ^ b], control: PiControl(c.rotate_left(7)) };
        let (next, out) = d.post(v);
        assert!(next.pending(v));
        match out {
            PostOutcome::Notify { nv, ndst } => {
                assert!(!d.control.on() && !d.control.sn() && next.control.on());
                assert_eq!((nv, ndst), (d.control.nv(), d.control.ndst()));
            }
            PostOutcome::Pending => assert!(d.control.on()),
            PostOutcome::Suppressed => assert!(d.control.sn()),
        }
    }
    let _ = decode_ret(a as i64);
});
