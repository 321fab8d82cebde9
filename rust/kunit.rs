// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: replays the shared core's reference vectors and planner
//! properties inside the kernel, with the kernel's compiler, overflow
//! checks and no_std build.  Built with `IPI_STEER_KUNIT=y` (out of tree)
//! or `CONFIG_IPI_STEER_KUNIT_TEST` (in tree); runs when the module loads.

#[kernel::macros::kunit_tests(ipi_steer)]
mod tests {
    use crate::apic::ApicId;
    use crate::apic::Icr;
    use crate::apic::Vector;
    use crate::hint;
    use crate::hint::HintError;
    use crate::hint::Kind;
    use crate::kvm::KvmHcSendIpi;
    use crate::plan::scratch_words;
    use crate::plan::Op;
    use crate::plan::Policy;
    use crate::plan::PolicyError;
    use crate::posted;
    use crate::posted::Fallback;
    use crate::posted::PiControl;
    use crate::posted::PiPageHeader;
    use crate::posted::Posted;
    use crate::posted::POSTED_INTR_VECTOR;
    use crate::posted::POSTED_INTR_WAKEUP_VECTOR;
    use crate::posted_ipi;
    use crate::posted_ipi::PiDescView;
    use crate::profile::ApicMode;
    use crate::profile::Config;
    use crate::profile::Cost;
    use crate::profile::Costs;
    use crate::profile::Features;
    use crate::profile::Mode;
    use crate::profile::Transport;
    use crate::stock;
    use crate::tdx::TdVmCall;

    fn policy(costs: Costs, mode: Mode) -> Policy {
        let config = Config {
            features: Features::KVM_X2APIC,
            costs,
            mode,
        };
        match Policy::new(&config) {
            Ok(p) => p,
            Err(_) => panic!("policy"),
        }
    }

    #[test]
    fn icr_encoding() {
        assert_eq!(
            Icr::fixed(Vector::RESCHEDULE, ApicId(5)).0,
            0x0000_0005_0000_00fd
        );
        assert_eq!(
            Icr::fixed(Vector::CALL_FUNCTION, ApicId(0xffff_ffff)).0,
            0xffff_ffff_0000_00fc
        );
    }

    #[test]
    fn host_hint_decoding() {
        assert_eq!(
            hint::decode(0x1234_03).map(|h| (h.kind, h.generation)),
            Ok((Kind::X2avic, 0x1234))
        );
        assert_eq!(hint::decode(1).map(|h| h.kind), Ok(Kind::Ipiv));
        assert_eq!(hint::decode(-1000), Err(HintError::NotAvailable));
        assert_eq!(hint::decode(-22), Err(HintError::Refused(-22)));
        assert_eq!(hint::decode(4), Err(HintError::Unknown(4)));
        assert_eq!(hint::decode(1 << 40), Err(HintError::Unknown(1 << 40)));
    }

    #[test]
    fn hypercall_window() {
        let ids = [ApicId(4), ApicId(70), ApicId(131)];
        let hc = KvmHcSendIpi::from_sorted(&ids, Vector::CALL_FUNCTION);
        assert!(hc.is_ok());
        if let Ok(hc) = hc {
            assert_eq!(hc.bitmap_low, 1);
            assert_eq!(hc.bitmap_high, (1 << 2) | (1 << 63));
            assert_eq!(hc.min, ApicId(4));
            assert_eq!(hc.icr, 0xfc);
        }
        let too_wide = [ApicId(4), ApicId(132)];
        assert!(KvmHcSendIpi::from_sorted(&too_wide, Vector::CALL_FUNCTION).is_err());
    }

    #[test]
    fn tdvmcall_wrmsr_icr() {
        let t = TdVmCall::wrmsr_icr(Icr::fixed(Vector::RESCHEDULE, ApicId(3)));
        assert_eq!(t.r10, 0);
        assert_eq!(t.r11, 32);
        assert_eq!(t.r12, 0x830);
        assert_eq!(t.r13, 0x0000_0003_0000_00fd);
    }

    #[test]
    fn tdvmcall_status() {
        assert!(TdVmCall::completed(0));
        // TDVMCALL_STATUS_INVALID_OPERAND, and -ENODEV from the glue.
        assert!(!TdVmCall::completed(0x8000_0000_0000_0000));
        assert!(!TdVmCall::completed(-19i64 as u64));
    }

    /// Costs under which the direct TDVMCALL and posting are the cheapest.
    const CHEAP_TD_AND_POSTED: Costs = Costs {
        tdvmcall: Cost {
            per_op: 10,
            per_target: 0,
        },
        posted: Cost {
            per_op: 5,
            per_target: 0,
        },
        ..Costs::SKYLAKE
    };

    /// A TDX guest with `PV_SEND_IPI`.
    const TD: Features = Features {
        tdx: true,
        ..Features::KVM_X2APIC
    };

    /// A guest whose host shares posted-interrupt descriptors.
    const POSTED: Features = Features {
        posted_ipi: true,
        ..Features::KVM_X2APIC
    };

    fn unicast_of(features: Features, mode: Mode) -> Result<Option<Transport>, PolicyError> {
        let config = Config {
            features,
            costs: CHEAP_TD_AND_POSTED,
            mode,
        };
        Policy::new(&config).map(|p| p.unicast())
    }

    #[test]
    fn tdvmcall_and_posted_need_their_features() {
        let (kvm, td, posted) = (Features::KVM_X2APIC, TD, POSTED);
        assert_eq!(unicast_of(kvm, Mode::Auto), Ok(Some(Transport::X2apicIcr)));
        assert_eq!(unicast_of(td, Mode::Auto), Ok(Some(Transport::TdVmCall)));
        assert_eq!(unicast_of(posted, Mode::Auto), Ok(Some(Transport::Posted)));
        for t in [Transport::TdVmCall, Transport::Posted] {
            assert_eq!(
                unicast_of(kvm, Mode::Forced(t)),
                Err(PolicyError::Unavailable(t))
            );
        }
        assert_eq!(
            unicast_of(td, Mode::Forced(Transport::X2apicIcr)),
            Err(PolicyError::Unavailable(Transport::X2apicIcr))
        );
        // What this module reports when loaded outside a TD, as everywhere here.
        let f = crate::profile_of(crate::glue::F_X2APIC | crate::glue::F_PV_SEND_IPI);
        assert!(!f.tdx && !f.posted_ipi);
        let f = crate::profile_of(crate::glue::F_X2APIC | crate::glue::F_TDX_GUEST);
        assert!(f.tdx && !f.posted_ipi);
    }

    #[test]
    fn fallback_decisions() {
        let (kvm, td, posted) = (Features::KVM_X2APIC, TD, POSTED);
        let xapic = Features {
            apic_mode: ApicMode::Xapic,
            ..kvm
        };
        // A refused TDVMCALL or hypercall: the trapping ICR write.
        assert_eq!(td.fallback(Transport::TdVmCall), Some(Transport::X2apicIcr));
        assert_eq!(
            td.fallback(Transport::KvmHcSendIpi),
            Some(Transport::X2apicIcr)
        );
        assert_eq!(
            kvm.fallback(Transport::KvmHcSendIpi),
            Some(Transport::X2apicIcr)
        );
        // A post that cannot use the descriptor: the hypercall.
        assert_eq!(
            posted.fallback(Transport::Posted),
            Some(Transport::KvmHcSendIpi)
        );
        // xAPIC: the kernel's own path.
        assert_eq!(xapic.fallback(Transport::KvmHcSendIpi), None);
    }

    #[test]
    fn posted_sender() {
        let cf = Vector::CALL_FUNCTION;
        let rs = Vector::RESCHEDULE;
        let idle = PiControl::default()
            .with_nv(POSTED_INTR_VECTOR)
            .with_ndst(5);
        let d = PiDescView::new(idle);
        let mut sent = [0u64; 2];
        let mut n = 0;
        let mut notify = |icr: Icr| {
            if let Some(slot) = sent.get_mut(n) {
                *slot = icr.0;
            }
            n += 1;
        };
        // First post: PIR bit, ON, one notification to NDST with NV.
        assert_eq!(
            posted_ipi::post(Some(&d), cf, &mut notify),
            Ok(Posted::Notified)
        );
        assert!(d.pending(cf) && d.control_word().on());
        // ON already set: no second notification; same vector: coalesced.
        assert_eq!(
            posted_ipi::post(Some(&d), rs, &mut notify),
            Ok(Posted::Pending)
        );
        assert_eq!(
            posted_ipi::post(Some(&d), cf, &mut notify),
            Ok(Posted::Coalesced)
        );
        assert_eq!(n, 1);
        assert_eq!(sent[0], 0x5_0000_00f2);

        // Blocking target: the notification carries the wakeup vector.
        let d = PiDescView::new(idle.with_nv(POSTED_INTR_WAKEUP_VECTOR));
        let mut icr = 0;
        assert_eq!(
            posted_ipi::post(Some(&d), rs, |i| icr = i.0),
            Ok(Posted::Notified)
        );
        assert_eq!(icr, 0x5_0000_00f1);

        // SN set: fall back without touching the PIR or ON.
        let mut notified = false;
        let d = PiDescView::new(idle.with_sn(true));
        assert_eq!(
            posted_ipi::post(Some(&d), cf, |_| notified = true),
            Err(Fallback::Suppressed)
        );
        assert!(!d.pending(cf) && !d.control_word().on());

        // No descriptor offered: fall back.
        assert_eq!(
            posted_ipi::post(None, cf, |_| notified = true),
            Err(Fallback::Absent)
        );
        assert!(!notified);
    }

    /// The module's view of a region, with the test playing the host: a
    /// descriptor is handed out only while the header is enabled and its
    /// slot offered, and a post lands in the slot's architectural words.
    #[test]
    fn posted_region() {
        let r = posted_ipi::Region::unregistered(8);
        assert!(r.is_some());
        let Some(r) = r else { return };
        // Zeroed, as registered: nothing offered.
        assert!(r.descriptor(ApicId(0)).is_none());
        let (offer, desc) = (64 + 3 * 8, 4096 + 3 * 64);
        r.host_write(desc + 32, (5 << 32) | (u64::from(POSTED_INTR_VECTOR) << 16));
        r.host_write(offer, (1 << 32) | posted::PI_SLOT_OFFERED);
        // Offered slot, header not enabled yet.
        assert!(r.descriptor(ApicId(3)).is_none());
        r.host_write(8, (2 << 32) | posted::PI_PAGE_ENABLED);
        assert!(r.descriptor(ApicId(3)).is_some());
        assert!(r.descriptor(ApicId(2)).is_none());
        assert!(r.descriptor(ApicId(8)).is_none());
        assert!(r.descriptor(ApicId(u32::MAX)).is_none());

        let mut icr = 0;
        let rs = Vector::RESCHEDULE;
        assert_eq!(
            posted_ipi::post(r.descriptor(ApicId(3)), rs, |i| icr = i.0),
            Ok(Posted::Notified)
        );
        assert_eq!(icr, 0x5_0000_00f2);
        // 0xfd: PIR word 3, bit 61; ON is bit 0 of byte 32.
        assert_eq!(r.read(desc + 24), Some(1 << 61));
        assert_eq!(r.read(desc + 32).map(|c| c & 1), Some(1));
        // Other slots untouched.
        assert_eq!(r.read(4096 + 2 * 64 + 24), Some(0));
        assert_eq!(r.read(4096 + 4 * 64 + 24), Some(0));

        // The host withdraws the slot: the next post falls back.
        r.host_write(offer, 3 << 32);
        assert!(r.descriptor(ApicId(3)).is_none());
        r.host_write(offer, (4 << 32) | posted::PI_SLOT_OFFERED);
        assert!(r.descriptor(ApicId(3)).is_some());
        r.host_write(8, 5 << 32);
        assert!(r.descriptor(ApicId(3)).is_none());
    }

    #[test]
    fn posted_page_layout() {
        let h = PiPageHeader::decode([posted::PI_PAGE_MAGIC, (2 << 32) | 1, 8]);
        assert!(h.is_ok());
        if let Ok(h) = h {
            assert!(h.enabled);
            assert_eq!(h.generation, 2);
            assert_eq!(h.slot(ApicId(7)), Some((64 + 7 * 8, 4096 + 7 * 64)));
            assert_eq!(h.slot(ApicId(8)), None);
        }
        assert!(PiPageHeader::decode([0, 1, 8]).is_err());
        assert!(!posted::offered(0, posted::PI_SLOT_OFFERED));
    }

    #[test]
    fn plan_reference_vector() {
        // The core's documented example: 0..=2 share a window; 130 and 300 go alone.
        let p = policy(Costs::SKYLAKE, Mode::Auto);
        let mut ids = [ApicId(300), ApicId(2), ApicId(1), ApicId(0), ApicId(130)];
        let mut out = [Op::EMPTY; 5];
        let mut scratch = [0u64; scratch_words(5)];
        let plan = p.plan(&mut ids, &mut out, &mut scratch);
        assert!(plan.is_ok());
        if let Ok(plan) = plan {
            assert_eq!(plan.targets, 5);
            assert_eq!(plan.ops, 3);
            assert_eq!(plan.hypercalls, 1);
            assert_eq!(
                ids,
                [ApicId(0), ApicId(1), ApicId(2), ApicId(130), ApicId(300)]
            );
        }
    }

    #[test]
    fn one_target_is_one_icr_write() {
        let p = policy(Costs::SKYLAKE, Mode::Auto);
        let mut out = [Op::EMPTY; 1];
        assert!(p.plan_one(&mut out).is_ok());
        assert_eq!(out[0].transport(), Transport::X2apicIcr);
    }

    #[test]
    fn random_plans_are_valid_and_never_worse_than_stock() {
        // Deterministic pseudo-random target sets (LCG), sparse and dense.
        let mut seed: u64 = 0x1234_5678;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for costs in [Costs::SKYLAKE, Costs::SPR_IPIV] {
            let p = policy(costs, Mode::Auto);
            for round in 0..200u32 {
                let n = 1 + (next() % 48) as usize;
                let span = if round % 2 == 0 { 96 } else { 1024 };
                let mut ids = [ApicId(0); 48];
                for id in ids.iter_mut().take(n) {
                    *id = ApicId(next() % span);
                }
                let cpumask_order = ids;
                let mut out = [Op::EMPTY; 48];
                let mut scratch = [0u64; scratch_words(48)];
                let plan = p.plan(&mut ids[..n], &mut out, &mut scratch);
                assert!(plan.is_ok());
                let Ok(plan) = plan else { return };
                // Every distinct target exactly once, in valid operations.
                let tally = p.tally(&ids[..plan.targets], &out[..plan.ops]);
                assert!(tally.is_ok());
                if let Ok(t) = tally {
                    assert_eq!(t.cost, plan.cost);
                    assert_eq!(t.hypercalls, plan.hypercalls);
                }
                // Linux's own windows, on the same ids in cpumask order
                // (duplicates removed, as a cpumask has none).
                let mut uniq = [ApicId(0); 48];
                let mut m = 0;
                for id in cpumask_order.iter().take(n) {
                    if !uniq[..m].contains(id) {
                        uniq[m] = *id;
                        m += 1;
                    }
                }
                let s = stock::plan(
                    &uniq[..m],
                    Vector::CALL_FUNCTION,
                    &Features::KVM_X2APIC,
                    &costs,
                    |_| {},
                );
                assert!(plan.cost <= s.cost);
                if m > 1 {
                    assert!(plan.hypercalls <= s.hypercalls);
                }
            }
        }
    }
}
