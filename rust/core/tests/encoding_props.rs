// SPDX-License-Identifier: GPL-2.0

//! Property tests of the encodings and the calibration math.

#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "tests"
)]

use ipi_core::apic::ApicId;
use ipi_core::apic::Icr;
use ipi_core::apic::Vector;
use ipi_core::calibrate;
use ipi_core::calibrate::Limits;
use ipi_core::calibrate::Point;
use ipi_core::calibrate::Series;
use ipi_core::kvm::KvmHcSendIpi;
use ipi_core::posted::region_size;
use ipi_core::posted::registered;
use ipi_core::posted::registration_msr;
use ipi_core::posted::PiControl;
use ipi_core::posted::PiDesc;
use ipi_core::posted::PostOutcome;
use ipi_core::posted::RegionError;
use ipi_core::posted::PI_MAX_SLOTS;
use ipi_core::posted::PI_PAGE_MAGIC;
use ipi_core::profile::Costs;
use ipi_core::profile::Transport;
use ipi_core::tdx::TdVmCall;
use proptest::prelude::*;

proptest! {
    #[test]
    fn icr_roundtrip(v in 0x10u8..=0xff, id in any::<u32>()) {
        let vector = Vector::new(v).unwrap();
        let icr = Icr::fixed(vector, ApicId(id));
        prop_assert_eq!(icr.vector(), v);
        prop_assert_eq!(icr.dest(), ApicId(id));
        prop_assert!(icr.is_fixed_physical());
        prop_assert_eq!(u64::from(icr.low()), u64::from(v));
        prop_assert_eq!(TdVmCall::wrmsr_icr(icr).as_icr_write(), Some(icr));
    }

    #[test]
    fn window_roundtrip(min in 0u32..u32::MAX - 200, offs in proptest::collection::btree_set(0u32..128, 1..40)) {
        let ids: Vec<ApicId> = offs.iter().map(|o| ApicId(min + o)).collect();
        let hc = KvmHcSendIpi::from_sorted(&ids, Vector::RESCHEDULE);
        // The window starts at the first id given.
        let hc = hc.unwrap();
        let back: Vec<ApicId> = hc.ids().collect();
        prop_assert_eq!(back, ids.clone());
        prop_assert_eq!(hc.count() as usize, ids.len());
        prop_assert_eq!(hc.args()[2], u64::from(ids[0].0));
        prop_assert_eq!(hc.args()[3], 0xfd);
        let mut lowered = hc;
        let top = ids.last().unwrap().0;
        let shift_ok = lowered.lower_min(ApicId(ids[0].0.saturating_sub(3))).is_ok();
        prop_assert_eq!(shift_ok, top - ids[0].0.saturating_sub(3) < 128);
        if shift_ok {
            prop_assert_eq!(lowered.ids().collect::<Vec<_>>(), ids);
        }
    }

    #[test]
    fn pi_control_fields(raw in any::<u64>(), on in any::<bool>(), sn in any::<bool>(), nv in any::<u8>(), ndst in any::<u32>()) {
        let c = PiControl(raw).with_on(on).with_sn(sn).with_nv(nv).with_ndst(ndst);
        prop_assert_eq!((c.on(), c.sn(), c.nv(), c.ndst()), (on, sn, nv, ndst));
        // Reserved bits 2-15 are preserved.
        prop_assert_eq!(c.0 & 0xfffc, raw & 0xfffc);
    }

    #[test]
    fn posting_sets_exactly_one_bit(pir in any::<[u64; 4]>(), raw in any::<u64>(), v in 0x10u8..=0xff) {
        let d = PiDesc { pir, control: PiControl(raw) };
        let vector = Vector::new(v).unwrap();
        let (next, outcome) = d.post(vector);
        prop_assert!(next.pending(vector));
        let changed: u32 = d.pir.iter().zip(next.pir.iter()).map(|(a, b)| (a ^ b).count_ones()).sum();
        prop_assert!(changed <= 1);
        match outcome {
            PostOutcome::Notify { nv, ndst } => {
                prop_assert!(!d.control.on() && !d.control.sn() && next.control.on());
                prop_assert_eq!((nv, ndst), (d.control.nv(), d.control.ndst()));
            }
            PostOutcome::Pending => prop_assert!(d.control.on() && !d.control.sn()),
            PostOutcome::Suppressed => prop_assert!(d.control.sn() && next.control == d.control),
        }
    }

    #[test]
    fn registration_msr_fields(page in 0u64..(1 << 40), slots in any::<u32>()) {
        // Decoded as docs/ABI/kvm-posted-ipi (and host-patches/0007) say:
        // bit 0 enabled, bits 1-2 zero, bits 3-11 N, bits 12-63 the address.
        let gpa = page << 12;
        match registration_msr(gpa, slots) {
            Ok(v) => {
                prop_assert!((1..=PI_MAX_SLOTS).contains(&slots));
                prop_assert_eq!(v & 0x7, 1);
                prop_assert_eq!((v >> 3) & 0x1ff, u64::from(slots));
                prop_assert_eq!(v & !0xfff, gpa);
                // The region the host will write fits the guest's allocation.
                let end = 4096 + slots as usize * 64;
                prop_assert!(end <= region_size(slots));
            }
            Err(e) => {
                prop_assert!(slots == 0 || slots > PI_MAX_SLOTS);
                prop_assert_eq!(e, RegionError::Slots(slots));
            }
        }
        prop_assert_eq!(registration_msr(gpa | 0x800, 1), Err(RegionError::Address(gpa | 0x800)));
    }

    #[test]
    fn only_a_filled_header_is_accepted(words in any::<[u64; 3]>(), slots in 1u32..=PI_MAX_SLOTS) {
        let ok = registered(words, slots);
        prop_assert_eq!(
            ok.is_ok(),
            words[0] == PI_PAGE_MAGIC && words[1] & 1 == 1 && words[2] == u64::from(slots)
        );
        let filled = [PI_PAGE_MAGIC, (words[1] & !0xffff_fffe) | 1, u64::from(slots)];
        prop_assert!(registered(filled, slots).is_ok());
    }

    #[test]
    fn calibration_never_panics_and_keeps_table_on_error(
        samples in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 0..40), 0..20),
        window in any::<bool>(),
    ) {
        let mut bufs = samples;
        let mut points: Vec<Point<'_>> = bufs
            .iter_mut()
            .enumerate()
            .map(|(i, s)| Point { targets: (i as u32) * 3 + 1, samples: s.as_mut_slice() })
            .collect();
        let transport = if window { Transport::KvmHcSendIpi } else { Transport::X2apicIcr };
        let mut series = [Series { transport, points: &mut points }];
        let mut costs = Costs::SKYLAKE;
        match calibrate::calibrate(&mut costs, &mut series, 0, &Limits::DEFAULT) {
            Ok(new) => prop_assert_eq!(new, costs),
            Err(_) => prop_assert_eq!(costs, Costs::SKYLAKE),
        }
    }

    #[test]
    fn theil_sen_recovers_exact_lines(a in 0u64..1_000_000, b in 0u64..100_000, xs in proptest::collection::btree_set(0u32..10_000, 2..16)) {
        let pts: Vec<(u32, u64)> = xs.iter().map(|&x| (x, a + b * u64::from(x))).collect();
        let fit = calibrate::theil_sen(&pts).unwrap();
        prop_assert_eq!((fit.fixed, fit.per_target), (a, b));
    }
}
