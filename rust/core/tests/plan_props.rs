// SPDX-License-Identifier: GPL-2.0

//! Property tests of the planner against brute force, single-transport plans and
//! the stock kernel policy.

#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "tests"
)]

use ipi_core::apic::ApicId;
use ipi_core::apic::Vector;
use ipi_core::plan::scratch_words;
use ipi_core::plan::CheckError;
use ipi_core::plan::Op;
use ipi_core::plan::Plan;
use ipi_core::plan::PlanError;
use ipi_core::plan::Policy;
use ipi_core::plan::PolicyError;
use ipi_core::profile::ApicMode;
use ipi_core::profile::Config;
use ipi_core::profile::Cost;
use ipi_core::profile::Costs;
use ipi_core::profile::Features;
use ipi_core::profile::HostAccel;
use ipi_core::profile::Mode;
use ipi_core::profile::Transport;
use ipi_core::stock;
use proptest::prelude::*;

/// Plans `ids` with freshly sized buffers; returns the plan, sorted ids and ops.
fn run(policy: &Policy, ids: &[u32]) -> (Plan, Vec<ApicId>, Vec<Op>) {
    let mut v: Vec<ApicId> = ids.iter().copied().map(ApicId).collect();
    let mut out = vec![Op::EMPTY; v.len()];
    let mut scratch = vec![0u64; scratch_words(v.len())];
    let plan = policy.plan(&mut v, &mut out, &mut scratch).unwrap();
    v.truncate(plan.targets);
    out.truncate(plan.ops);
    (plan, v, out)
}

/// Checks the plan is a valid cover and its summary matches a recount.
fn check(policy: &Policy, input: &[u32], plan: &Plan, ids: &[ApicId], ops: &[Op]) {
    let mut want: Vec<u32> = input.to_vec();
    want.sort_unstable();
    want.dedup();
    let got: Vec<u32> = ids.iter().map(|id| id.0).collect();
    assert_eq!(got, want, "sorted distinct targets");
    let t = policy.tally(ids, ops).expect("valid cover");
    assert_eq!(t.cost, plan.cost);
    assert_eq!(t.exits, plan.exits);
    assert_eq!(t.hypercalls, plan.hypercalls);
    assert!(plan.ops <= plan.targets);
    // Each window encodes to exactly its members.
    for op in ops {
        if let Op::Window { .. } = op {
            let hc = op.hypercall(ids, Vector::CALL_FUNCTION).unwrap();
            let members: Vec<ApicId> = hc.ids().collect();
            assert_eq!(members.as_slice(), op.targets(ids));
        }
    }
}

/// Brute force: every assignment of targets to unicast or to one of up to n
/// windows (restricted growth strings), valid when each window spans <= 127.
fn brute_force(ids: &[u32], u: Option<u64>, windows: bool, f: u64, h: u64) -> u64 {
    let n = ids.len();
    let mut best = u64::MAX;
    let mut label = vec![0usize; n];
    loop {
        // Evaluate.
        let mut ok = true;
        let mut cost = 0u64;
        let maxl = label.iter().copied().max().unwrap_or(0);
        for w in 1..=maxl {
            let members: Vec<u32> = (0..n).filter(|&i| label[i] == w).map(|i| ids[i]).collect();
            let lo = *members.iter().min().unwrap();
            let hi = *members.iter().max().unwrap();
            if !windows || hi - lo > 127 {
                ok = false;
                break;
            }
            cost = cost.saturating_add(f.saturating_add(h.saturating_mul(members.len() as u64)));
        }
        let unis = label.iter().filter(|&&l| l == 0).count() as u64;
        match u {
            Some(u) => cost = cost.saturating_add(u.saturating_mul(unis)),
            None if unis > 0 => ok = false,
            None => {}
        }
        if ok {
            best = best.min(cost);
        }
        // Next restricted growth string over labels 0..; label k+1 only after k used.
        let mut i = n;
        loop {
            if i == 0 {
                return best;
            }
            i -= 1;
            let limit = label[..i].iter().copied().max().unwrap_or(0) + 1;
            if label[i] < limit {
                label[i] += 1;
                for l in &mut label[i + 1..] {
                    *l = 0;
                }
                break;
            }
        }
    }
}

fn cost_strategy() -> impl Strategy<Value = Cost> {
    (0u32..6000, 0u32..800).prop_map(|(per_op, per_target)| Cost { per_op, per_target })
}

fn costs_strategy() -> impl Strategy<Value = Costs> {
    (
        cost_strategy(),
        cost_strategy(),
        cost_strategy(),
        cost_strategy(),
        cost_strategy(),
    )
        .prop_map(|(a, b, c, d, e)| Costs {
            x2apic_icr: a,
            xapic_icr: b,
            kvm_hc: c,
            tdvmcall: d,
            posted: e,
        })
}

fn features_strategy() -> impl Strategy<Value = Features> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(|(x2, pv, tdx, posted, accel)| Features {
            apic_mode: if x2 || tdx {
                ApicMode::X2apic
            } else {
                ApicMode::Xapic
            },
            pv_send_ipi: pv,
            pv_sched_yield: pv,
            tdx,
            host_accel: match accel {
                0 => HostAccel::None,
                1 => HostAccel::Ipiv,
                _ => HostAccel::Avic,
            },
            posted_ipi: posted,
        })
}

fn mode_strategy() -> impl Strategy<Value = Mode> {
    prop_oneof![
        4 => Just(Mode::Auto),
        1 => proptest::sample::select(Transport::ALL.to_vec()).prop_map(Mode::Forced),
    ]
}

fn policy_strategy() -> impl Strategy<Value = (Config, Policy)> {
    (features_strategy(), costs_strategy(), mode_strategy()).prop_filter_map(
        "usable configuration",
        |(features, costs, mode)| {
            let config = Config {
                features,
                costs,
                mode,
            };
            Policy::new(&config).ok().map(|p| (config, p))
        },
    )
}

/// Ids clustered so that windows, gaps and unsorted order all occur.
fn ids_strategy(max_len: usize) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(
        prop_oneof![
            0u32..300,
            1000u32..1200,
            (0u32..8).prop_map(|s| s * 128 + 64)
        ],
        0..=max_len,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn optimal_against_brute_force((_, policy) in policy_strategy(), ids in ids_strategy(7)) {
        let (plan, sorted, ops) = run(&policy, &ids);
        check(&policy, &ids, &plan, &sorted, &ops);
        let (u, f, h) = policy.unit_costs();
        let u = policy.unicast().map(|_| u);
        let raw: Vec<u32> = sorted.iter().map(|id| id.0).collect();
        let best = brute_force(&raw, u, policy.uses_windows(), f, h);
        prop_assert_eq!(plan.cost, best);
    }

    #[test]
    fn never_worse_than_one_transport((config, policy) in policy_strategy(), ids in ids_strategy(300)) {
        let (plan, sorted, ops) = run(&policy, &ids);
        check(&policy, &ids, &plan, &sorted, &ops);
        let n = sorted.len() as u64;
        if let Some(t) = policy.unicast() {
            prop_assert!(plan.cost <= config.costs.get(t).unicast().saturating_mul(n));
        }
        if policy.uses_windows() {
            let forced = Policy::new(&Config { mode: Mode::Forced(Transport::KvmHcSendIpi), ..config }).unwrap();
            let (wplan, _, _) = run(&forced, &ids);
            prop_assert!(plan.cost <= wplan.cost);
        }
        // In auto mode, no allowed unicast transport alone is cheaper either.
        if config.mode == Mode::Auto {
            let f = config.features;
            for t in Transport::ALL {
                let xapic_pv = f.apic_mode == ApicMode::Xapic && f.pv_send_ipi && t == Transport::XapicIcr;
                if !t.is_window() && f.available(t) && !xapic_pv {
                    prop_assert!(plan.cost <= config.costs.get(t).unicast().saturating_mul(n));
                }
            }
        }
    }

    #[test]
    fn plans_use_only_available_transports(
        (config, policy) in policy_strategy(),
        ids in ids_strategy(60),
    ) {
        if let Some(t) = policy.unicast() {
            prop_assert!(config.features.available(t), "{:?} unicast {:?}", config, t);
        }
        let (_, _, ops) = run(&policy, &ids);
        for op in &ops {
            let t = op.transport();
            prop_assert!(config.features.available(t), "{:?} planned {:?}", config, t);
            prop_assert!(t != Transport::TdVmCall || config.features.tdx);
            prop_assert!(t != Transport::Posted || config.features.posted_ipi);
        }
    }

    #[test]
    fn xapic_with_pv_never_writes_the_icr(costs in costs_strategy(), ids in ids_strategy(50)) {
        let config = Config {
            features: Features { apic_mode: ApicMode::Xapic, ..Features::KVM_X2APIC },
            costs,
            mode: Mode::Auto,
        };
        let policy = Policy::new(&config).unwrap();
        let (_, _, ops) = run(&policy, &ids);
        prop_assert!(ops.iter().all(|op| op.transport() != Transport::XapicIcr));
    }

    #[test]
    fn never_more_hypercalls_than_stock(ids in ids_strategy(400), costs in costs_strategy()) {
        let config = Config {
            features: Features::KVM_X2APIC,
            costs,
            mode: Mode::Forced(Transport::KvmHcSendIpi),
        };
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        // Linux iterates distinct CPUs; keep the first occurrence of each id, in input order.
        let mut seen = std::collections::HashSet::new();
        let cpu_order: Vec<ApicId> = ids.iter().copied().filter(|id| seen.insert(*id)).map(ApicId).collect();
        let stock_calls = stock::windows(&cpu_order, Vector::RESCHEDULE, |_| {});
        let forced = Policy::new(&config).unwrap();
        let (plan, _, _) = run(&forced, &ids);
        prop_assert!(plan.hypercalls <= stock_calls);
        // And in auto mode the modeled cost never exceeds the stock policy's.
        let auto = Policy::new(&Config { mode: Mode::Auto, ..config }).unwrap();
        let (aplan, _, _) = run(&auto, &ids);
        let s = stock::plan(&cpu_order, Vector::RESCHEDULE, &config.features, &config.costs, |_| {});
        prop_assert!(aplan.cost <= s.cost, "auto {} stock {}", aplan.cost, s.cost);
    }

    #[test]
    fn large_inputs_match_quadratic_dp((_, policy) in policy_strategy(), ids in proptest::collection::vec(0u32..3000, 0..1500)) {
        let (plan, sorted, ops) = run(&policy, &ids);
        check(&policy, &ids, &plan, &sorted, &ops);
        prop_assert_eq!(plan.cost, quadratic_dp(&policy, &sorted));
    }

    #[test]
    fn mixed_search_matches_quadratic_dp(
        (policy, ids) in (mixed_policy_strategy(), layout_strategy(1200)),
        shuffle in any::<bool>(),
    ) {
        // Sorted input goes straight to the search; shuffled input through the sort first.
        let mut input = ids.clone();
        if shuffle {
            input.reverse();
            let half = input.len() / 2;
            input.rotate_left(half);
        }
        let (plan, sorted, ops) = run(&policy, &input);
        check(&policy, &input, &plan, &sorted, &ops);
        prop_assert_eq!(plan.cost, quadratic_dp(&policy, &sorted));
        // Planning the sorted ids again gives the very same operations.
        let mut out = vec![Op::EMPTY; sorted.len()];
        let mut scratch = vec![0u64; scratch_words(sorted.len())];
        let again = policy.plan_sorted(&sorted, &mut out, &mut scratch).unwrap();
        prop_assert_eq!(again, plan);
        prop_assert_eq!(&out[..again.ops], ops.as_slice());
    }

    #[test]
    fn unsorted_ids_of_any_range(
        (_, policy) in policy_strategy(),
        ids in proptest::collection::vec(
            prop_oneof![any::<u32>(), 0u32..200, (u32::MAX - 200)..=u32::MAX],
            0..300,
        ),
    ) {
        // Wide ranges take the comparison sort, narrow ones the bitmap.
        let (plan, sorted, ops) = run(&policy, &ids);
        check(&policy, &ids, &plan, &sorted, &ops);
        prop_assert_eq!(plan.cost, quadratic_dp(&policy, &sorted));
    }
}

/// Reference: the O(n * 128) program over every window start, on sorted distinct ids.
fn quadratic_dp(policy: &Policy, sorted: &[ApicId]) -> u64 {
    let (u, f, h) = policy.unit_costs();
    let n = sorted.len();
    let mut best = vec![u64::MAX; n + 1];
    best[0] = 0;
    for i in 0..n {
        if policy.unicast().is_some() {
            best[i + 1] = best[i + 1].min(best[i].saturating_add(u));
        }
        if policy.uses_windows() {
            let mut j = i + 1;
            while j > 0 && sorted[i].0 - sorted[j - 1].0 <= 127 {
                j -= 1;
                let c = best[j]
                    .saturating_add(f)
                    .saturating_add(h.saturating_mul((i + 1 - j) as u64));
                best[i + 1] = best[i + 1].min(c);
            }
        }
    }
    best[n]
}

/// Policies that take the mixed search: `h < u` and `u - h < F < 128 * (u - h)`,
/// with `F / (u - h)` spread from 1 to 127 so that windows pay from 2 to 128 targets.
fn mixed_policy_strategy() -> impl Strategy<Value = Policy> {
    (1u32..4000, 0u32..800, 1u32..128, 0u32..1000).prop_filter_map(
        "mixed search",
        |(d, h, k, extra)| {
            let per_op = d.checked_mul(k)?.checked_add(extra % d)?.max(d + 1);
            let costs = Costs {
                x2apic_icr: Cost {
                    per_op: d + h,
                    per_target: 0,
                },
                kvm_hc: Cost {
                    per_op,
                    per_target: h,
                },
                ..Costs::SKYLAKE
            };
            let policy = Policy::new(&Config {
                features: Features::KVM_X2APIC,
                costs,
                mode: Mode::Auto,
            })
            .ok()?;
            let (u, f, h) = policy.unit_costs();
            (u > h && f > u - h && f < 128 * (u - h)).then_some(policy)
        },
    )
}

/// Sorted distinct ids as APIC layouts make them: runs of consecutive or
/// strided ids (threads, cores, sockets) separated by gaps of any size.
fn layout_strategy(max_len: usize) -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec((1u32..200, 1u32..4, 0u32..300), 1..40).prop_map(move |runs| {
        let mut ids = Vec::new();
        let mut next = 0u32;
        for (len, stride, gap) in runs {
            for _ in 0..len {
                if ids.len() == max_len {
                    return ids;
                }
                ids.push(next);
                next += stride;
            }
            next += gap;
        }
        ids
    })
}

fn skylake(mode: Mode) -> Policy {
    Policy::new(&Config {
        features: Features::KVM_X2APIC,
        costs: Costs::SKYLAKE,
        mode,
    })
    .unwrap()
}

#[test]
fn sparse_sockets_need_fewer_hypercalls_than_stock() {
    // 4 sockets x 24 cores x 2 threads, sockets 128 ids apart; Linux numbers the
    // first thread of every core first, then the SMT siblings.
    let mut cpu_order = Vec::new();
    for thread in 0..2 {
        for socket in 0..4u32 {
            for core in 0..24u32 {
                cpu_order.push(ApicId(socket * 128 + core * 2 + thread));
            }
        }
    }
    let stock_calls = stock::windows(&cpu_order, Vector::CALL_FUNCTION, |_| {});
    let ids: Vec<u32> = cpu_order.iter().map(|id| id.0).collect();
    let (plan, _, _) = run(&skylake(Mode::Auto), &ids);
    assert_eq!(stock_calls, 8);
    assert_eq!(plan.hypercalls, 4);
}

#[test]
fn fast_paths_and_errors() {
    let p = skylake(Mode::Auto);
    // One target: one ICR write.
    let (plan, _, ops) = run(&p, &[42]);
    assert_eq!(plan.cost, 4238);
    assert!(matches!(
        ops[0],
        Op::Unicast {
            transport: Transport::X2apicIcr,
            start: 0,
            count: 1
        }
    ));
    // Two targets in one window: a hypercall (4238 + 300 < 8476).
    let (plan, _, ops) = run(&p, &[7, 100]);
    assert_eq!((plan.ops, plan.hypercalls), (1, 1));
    assert!(matches!(ops[0], Op::Window { start: 0, count: 2 }));
    // Empty.
    let (plan, _, _) = run(&p, &[]);
    assert_eq!(plan, Plan::default());
    // Duplicates are sent once.
    let (plan, ids, _) = run(&p, &[5, 5, 5]);
    assert_eq!((plan.targets, ids.len()), (1, 1));

    // IPIv costs make the search mix transports, which needs the scratch.
    let p = Policy::new(&Config {
        features: Features::KVM_X2APIC,
        costs: Costs::SPR_IPIV,
        mode: Mode::Auto,
    })
    .unwrap();
    let mut out = [Op::EMPTY; 1];
    let mut scratch = [0u64; 2];
    let sparse: Vec<ApicId> = [0u32, 1000, 2000, 2001].map(ApicId).to_vec();
    assert_eq!(
        p.plan_sorted(&sparse, &mut out, &mut scratch),
        Err(PlanError::ScratchTooSmall)
    );
    let mut scratch = [0u64; 300];
    assert_eq!(
        p.plan_sorted(&sparse, &mut out, &mut scratch),
        Err(PlanError::OutTooSmall)
    );
    let unsorted = [ApicId(3), ApicId(1)];
    assert_eq!(
        p.plan_sorted(&unsorted, &mut out, &mut scratch),
        Err(PlanError::NotSorted)
    );
    assert_eq!(
        Policy::new(&Config {
            features: Features::KVM_X2APIC,
            costs: Costs::SKYLAKE,
            mode: Mode::Forced(Transport::TdVmCall)
        }),
        Err(PolicyError::Unavailable(Transport::TdVmCall))
    );
    let none = Features {
        pv_send_ipi: false,
        tdx: false,
        posted_ipi: false,
        apic_mode: ApicMode::Xapic,
        ..Features::KVM_X2APIC
    };
    assert!(Policy::new(&Config {
        features: none,
        costs: Costs::SKYLAKE,
        mode: Mode::Auto
    })
    .is_ok());
    let nothing = Features {
        tdx: true,
        pv_send_ipi: false,
        ..Features::KVM_X2APIC
    };
    assert!(Policy::new(&Config {
        features: nothing,
        costs: Costs::SKYLAKE,
        mode: Mode::Auto
    })
    .is_ok());

    // tally() rejects malformed plans.
    let ids = [ApicId(0), ApicId(200)];
    let bad = [Op::Window { start: 0, count: 2 }];
    assert_eq!(p.tally(&ids, &bad), Err(CheckError::TooWide(0)));
    let gap = [Op::Unicast {
        transport: Transport::X2apicIcr,
        start: 1,
        count: 1,
    }];
    assert_eq!(p.tally(&ids, &gap), Err(CheckError::Gap(0)));
    let short = [Op::Unicast {
        transport: Transport::X2apicIcr,
        start: 0,
        count: 1,
    }];
    assert_eq!(p.tally(&ids, &short), Err(CheckError::Short));
    let wrong = [Op::Unicast {
        transport: Transport::Posted,
        start: 0,
        count: 2,
    }];
    assert_eq!(p.tally(&ids, &wrong), Err(CheckError::Disallowed(0)));
}

#[test]
fn tdvmcall_and_posted_only_with_their_features() {
    // Costs that make the direct TDVMCALL and the posted write the cheapest.
    let costs = Costs {
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
    let unicast = |features: Features| {
        Policy::new(&Config {
            features,
            costs,
            mode: Mode::Auto,
        })
        .unwrap()
        .unicast()
    };
    let kvm = Features::KVM_X2APIC;
    assert_eq!(unicast(kvm), Some(Transport::X2apicIcr));
    let td = Features { tdx: true, ..kvm };
    assert_eq!(unicast(td), Some(Transport::TdVmCall));
    // A TD cannot post, whatever the host says.
    let td_posted = Features {
        posted_ipi: true,
        ..td
    };
    assert_eq!(unicast(td_posted), Some(Transport::TdVmCall));
    let posted = Features {
        posted_ipi: true,
        ..kvm
    };
    assert_eq!(unicast(posted), Some(Transport::Posted));
    // With the host's notifications trapped (layout version 1) a post costs
    // what an ICR write does, and the plain ICR write wins the tie; posting
    // can still be forced.
    let trapped = costs.with_trapped_notifications();
    let auto_trapped = Policy::new(&Config {
        features: posted,
        costs: trapped,
        mode: Mode::Auto,
    })
    .unwrap();
    assert_eq!(auto_trapped.unicast(), Some(Transport::X2apicIcr));
    let forced_trapped = Policy::new(&Config {
        features: posted,
        costs: trapped,
        mode: Mode::Forced(Transport::Posted),
    })
    .unwrap();
    assert_eq!(forced_trapped.unicast(), Some(Transport::Posted));
    // Without the hypercall a suppressed or withdrawn descriptor has no
    // fallback, so posting is not offered.
    let posted_no_pv = Features {
        pv_send_ipi: false,
        ..posted
    };
    assert_eq!(unicast(posted_no_pv), Some(Transport::X2apicIcr));
    for (features, t) in [
        (kvm, Transport::TdVmCall),
        (kvm, Transport::Posted),
        (td_posted, Transport::Posted),
        (posted_no_pv, Transport::Posted),
    ] {
        assert_eq!(
            Policy::new(&Config {
                features,
                costs,
                mode: Mode::Forced(t),
            }),
            Err(PolicyError::Unavailable(t))
        );
    }
}

#[test]
fn ipiv_prefers_icr_for_few_targets() {
    let features = Features {
        host_accel: HostAccel::Ipiv,
        ..Features::KVM_X2APIC
    };
    let mut costs = Costs::SPR_IPIV;
    // A cheap accelerated ICR write: hypercalls only pay off from 9 targets on.
    costs.x2apic_icr = Cost {
        per_op: 500,
        per_target: 0,
    };
    let p = Policy::new(&Config {
        features,
        costs,
        mode: Mode::Auto,
    })
    .unwrap();
    let few: Vec<u32> = (0..8).collect();
    let (plan, _, _) = run(&p, &few);
    assert_eq!((plan.hypercalls, plan.exits), (0, 0));
    let many: Vec<u32> = (0..20).collect();
    let (plan, _, _) = run(&p, &many);
    assert_eq!((plan.hypercalls, plan.exits), (1, 1));
}
