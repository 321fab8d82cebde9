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
    use crate::profile::Config;
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
