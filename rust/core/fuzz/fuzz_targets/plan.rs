// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the planner: any ids, features, costs and mode must give a valid,
//! never-worse-than-stock plan or a clean error, never a panic.

#![no_main]

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
use libfuzzer_sys::fuzz_target;

fn word(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

fn cost(data: &[u8], at: usize) -> Cost {
    // Mostly realistic costs, sometimes extreme ones.
    let raw = word(data, at);
    let (per_op, per_target) = if raw & 1 == 0 {
        ((raw >> 1) % 10_000, (raw >> 17) % 1_000)
    } else {
        (raw, word(data, at + 4))
    };
    Cost { per_op, per_target }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 48 {
        return;
    }
    let flags = data[0];
    let features = Features {
        apic_mode: if flags & 1 != 0 { ApicMode::Xapic } else { ApicMode::X2apic },
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
        x2apic_icr: cost(data, 1),
        xapic_icr: cost(data, 9),
        kvm_hc: cost(data, 17),
        tdvmcall: cost(data, 25),
        posted: cost(data, 33),
    };
    let mode = match data[41] % 8 {
        m @ 0..=4 => Mode::Forced(Transport::ALL[usize::from(m)]),
        _ => Mode::Auto,
    };
    let config = Config { features, costs, mode };
    let Ok(policy) = Policy::new(&config) else {
        return;
    };
    // Ids: 2 bytes each, scaled so that windows, gaps and duplicates all occur.
    let scale = u32::from(data[42] % 4);
    let ids: Vec<ApicId> = data[43..]
        .chunks(2)
        .map(|c| ApicId(u32::from(u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])) << scale))
        .collect();
    let cpu_order = {
        let mut seen = std::collections::HashSet::new();
        ids.iter().copied().filter(|id| seen.insert(*id)).collect::<Vec<_>>()
    };

    let mut sorted = ids.clone();
    let mut out = vec![Op::EMPTY; ids.len()];
    let mut scratch = vec![0u64; scratch_words(ids.len())];
    let plan = policy.plan(&mut sorted, &mut out, &mut scratch).expect("buffers are big enough");
    let sorted = &sorted[..plan.targets];
    let ops = &out[..plan.ops];

    // Every distinct id exactly once, in order.
    let mut want: Vec<ApicId> = cpu_order.clone();
    want.sort_unstable();
    assert_eq!(sorted, want.as_slice());
    let t = policy.tally(sorted, ops).expect("valid cover");
    assert_eq!((t.cost, t.exits, t.hypercalls), (plan.cost, plan.exits, plan.hypercalls));
    for op in ops {
        if let Op::Window { .. } = op {
            let hc = op.hypercall(sorted, Vector::RESCHEDULE).expect("window fits");
            assert!(hc.ids().eq(op.targets(sorted).iter().copied()));
        }
    }

    // Never worse than the stock policy where both use the same transports.
    let stock_calls = stock::windows(&cpu_order, Vector::RESCHEDULE, |_| {});
    if mode == Mode::Forced(Transport::KvmHcSendIpi) {
        assert!(plan.hypercalls <= stock_calls);
    }
    let plain = !features.tdx && features.apic_mode == ApicMode::X2apic;
    if mode == Mode::Auto && plain && (features.pv_send_ipi || cpu_order.len() == 1) {
        let s = stock::plan(&cpu_order, Vector::RESCHEDULE, &features, &costs, |_| {});
        assert!(plan.cost <= s.cost, "steer {} stock {}", plan.cost, s.cost);
    }

    // A sorted re-plan gives the same cost.
    let mut out2 = vec![Op::EMPTY; sorted.len()];
    let again = policy.plan_sorted(sorted, &mut out2, &mut scratch).expect("sorted");
    assert_eq!(again.cost, plan.cost);
});
