// SPDX-License-Identifier: GPL-2.0

//! Deterministic random-input stress of the planner, for machines without
//! libFuzzer: random features, costs, modes and id sets, checked like the fuzz
//! target (valid cover, summary matches a recount, never more hypercalls than
//! the stock policy, a sorted re-plan gives the same cost).
//!
//! Usage: `fuzz_plan [iterations] [seed]` (default 1000000 iterations).

use ipi_core::apic::ApicId;
use ipi_core::apic::Vector;
use ipi_core::plan::scratch_words;
use ipi_core::plan::Op;
use ipi_core::plan::Policy;
use ipi_core::profile::ApicMode;
use ipi_core::profile::Config;
use ipi_core::profile::Cost;
use ipi_core::profile::Costs;
use ipi_core::profile::Features;
use ipi_core::profile::HostAccel;
use ipi_core::profile::Mode;
use ipi_core::profile::Transport;
use ipi_core::stock;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next().checked_rem(n).unwrap_or(0)
    }

    fn cost(&mut self) -> Cost {
        let per_op = u32::try_from(self.below(8000)).unwrap_or(0);
        let per_target = u32::try_from(self.below(600)).unwrap_or(0);
        Cost { per_op, per_target }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iters: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1234_5678);
    let mut rng = Rng(seed | 1);
    let mut ids: Vec<ApicId> = Vec::new();
    let mut out: Vec<Op> = Vec::new();
    let mut scratch: Vec<u64> = Vec::new();
    let mut planned: u64 = 0;
    for _ in 0..iters {
        let flags = rng.next();
        let features = Features {
            apic_mode: if flags & 1 != 0 {
                ApicMode::Xapic
            } else {
                ApicMode::X2apic
            },
            pv_send_ipi: flags & 2 != 0,
            pv_sched_yield: flags & 4 != 0,
            tdx: flags & 8 != 0,
            host_accel: match (flags >> 4) & 3 {
                0 => HostAccel::None,
                1 => HostAccel::Ipiv,
                _ => HostAccel::Avic,
            },
            posted_ipi: flags & 64 != 0,
        };
        let costs = Costs {
            x2apic_icr: rng.cost(),
            xapic_icr: rng.cost(),
            kvm_hc: rng.cost(),
            tdvmcall: rng.cost(),
            posted: rng.cost(),
        };
        let mode = match rng.below(8) {
            m @ 0..=4 => Transport::ALL
                .get(usize::try_from(m).unwrap_or(0))
                .map_or(Mode::Auto, |t| Mode::Forced(*t)),
            _ => Mode::Auto,
        };
        let Ok(policy) = Policy::new(&Config {
            features,
            costs,
            mode,
        }) else {
            continue;
        };
        // Mostly small sets, sometimes large; ids from a few clustered ranges.
        let n = if rng.below(16) == 0 {
            rng.below(3000)
        } else {
            rng.below(40)
        };
        let spread = 1u64 << rng.below(12);
        ids.clear();
        for _ in 0..n {
            let base = rng.below(4).wrapping_mul(1000);
            ids.push(ApicId(
                u32::try_from(base.wrapping_add(rng.below(spread))).unwrap_or(0),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let cpu_order: Vec<ApicId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        out.clear();
        out.resize(ids.len(), Op::EMPTY);
        scratch.clear();
        scratch.resize(scratch_words(ids.len()), 0);
        let plan = match policy.plan(&mut ids, &mut out, &mut scratch) {
            Ok(p) => p,
            Err(e) => fail(&format!("plan failed: {e:?}")),
        };
        let sorted = ids.get(..plan.targets).unwrap_or(&[]);
        let ops = out.get(..plan.ops).unwrap_or(&[]);
        assert_eq!(sorted.len(), cpu_order.len());
        match policy.tally(sorted, ops) {
            Ok(t) => assert_eq!(
                (t.cost, t.exits, t.hypercalls),
                (plan.cost, plan.exits, plan.hypercalls)
            ),
            Err(e) => fail(&format!("invalid plan: {e:?}")),
        }
        if mode == Mode::Forced(Transport::KvmHcSendIpi) {
            assert!(plan.hypercalls <= stock::windows(&cpu_order, Vector::RESCHEDULE, |_| {}));
        }
        let mut out2 = vec![Op::EMPTY; sorted.len()];
        let again = policy.plan_sorted(sorted, &mut out2, &mut scratch);
        assert_eq!(again.map(|p| p.cost), Ok(plan.cost));
        planned = planned.wrapping_add(1);
    }
    println!("fuzz_plan: {planned} plans checked in {iters} iterations (seed {seed})");
}

fn fail(msg: &str) -> ! {
    eprintln!("fuzz_plan: {msg}");
    std::process::exit(1)
}
