// SPDX-License-Identifier: GPL-2.0

//! The stock kernel's IPI policy, as a reference to compare plans with.
//!
//! Linux (`arch/x86/kernel/kvm.c`, `__send_ipi_mask()`) walks the targets in
//! cpumask (CPU number) order and cuts hypercall windows greedily: the first id
//! opens a window; a lower id that still fits with the highest one shifts the
//! bitmap down; an id inside `[min, min + 128)` joins; anything else flushes the
//! window with a hypercall and opens a new one. Unicast (`smp_send_reschedule()`,
//! `send_call_func_single_ipi()`) stays one ICR write, so a one-target IPI is
//! modeled as an ICR write. All-but-self IPIs use the ICR shorthand when the
//! kernel allows it (one write); that path is outside this model and ipi_steer
//! keeps it as it is.

#![forbid(unsafe_code)]

use super::apic::ApicId;
use super::apic::Vector;
use super::kvm::KvmHcSendIpi;
use super::kvm::KVM_IPI_CLUSTER_SIZE;
use super::profile::ApicMode;
use super::profile::Costs;
use super::profile::Features;
use super::profile::Transport;

/// Cuts `ids` (in cpumask order) into hypercalls exactly as Linux does; returns how many.
///
/// `sink` receives each hypercall's arguments in the order Linux issues them.
///
/// ```
/// use ipi_core::apic::{ApicId, Vector};
/// use ipi_core::stock::windows;
/// // Two sockets 128 ids apart, SMT siblings numbered after all first threads.
/// let ids = [0, 2, 128, 130, 1, 3, 129, 131].map(ApicId);
/// assert_eq!(windows(&ids, Vector::CALL_FUNCTION, |_| {}), 4);
/// ```
pub fn windows(ids: &[ApicId], vector: Vector, mut sink: impl FnMut(&KvmHcSendIpi)) -> u64 {
    let mut calls: u64 = 0;
    let mut cur: Option<KvmHcSendIpi> = None;
    let mut max: u32 = 0;
    for &id in ids {
        let hc = match cur.as_mut() {
            None => {
                max = id.0;
                cur.insert(KvmHcSendIpi::new(id, vector))
            }
            Some(hc) => {
                let min = hc.min.0;
                if id.0 < min && max.wrapping_sub(id.0) < KVM_IPI_CLUSTER_SIZE {
                    // Cannot fail: the highest id stays within 128 of the new min.
                    let _ = hc.lower_min(id);
                    hc
                } else if id.0 > min && id.0 < min.wrapping_add(KVM_IPI_CLUSTER_SIZE) {
                    max = max.max(id.0);
                    hc
                } else {
                    sink(hc);
                    calls = calls.saturating_add(1);
                    max = id.0;
                    *hc = KvmHcSendIpi::new(id, vector);
                    hc
                }
            }
        };
        // Cannot fail: every branch above leaves `id` inside the window.
        let _ = hc.add(id);
    }
    if let Some(hc) = cur.as_ref() {
        sink(hc);
        calls = calls.saturating_add(1);
    }
    calls
}

/// The modeled cost of the stock policy for one IPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct StockPlan {
    /// The unicast transport used, if the IPI was sent target by target.
    pub unicast: Option<Transport>,
    /// Number of hypercalls.
    pub hypercalls: u64,
    /// Modeled cost.
    pub cost: u64,
    /// Modeled VM exits.
    pub exits: u64,
}

/// Returns the transport stock Linux uses for one target in this guest.
///
/// In a TD the kernel's ICR write goes through #VE and then `TDVMCALL`; it is
/// modeled as a `TDVMCALL`, which understates the stock cost.
pub fn unicast_transport(features: &Features) -> Transport {
    if features.tdx {
        Transport::TdVmCall
    } else {
        match features.apic_mode {
            ApicMode::X2apic => Transport::X2apicIcr,
            ApicMode::Xapic => Transport::XapicIcr,
        }
    }
}

/// Models the stock policy for `ids` (in cpumask order): ICR writes for one
/// target or without `PV_SEND_IPI`, Linux's hypercall windows otherwise.
pub fn plan(
    ids: &[ApicId],
    vector: Vector,
    features: &Features,
    costs: &Costs,
    mut sink: impl FnMut(&KvmHcSendIpi),
) -> StockPlan {
    let n = u64::try_from(ids.len()).unwrap_or(u64::MAX);
    if n == 0 {
        return StockPlan::default();
    }
    if n == 1 || !features.pv_send_ipi {
        let t = unicast_transport(features);
        return StockPlan {
            unicast: Some(t),
            hypercalls: 0,
            cost: costs.get(t).unicast().saturating_mul(n),
            exits: u64::from(features.exits_per_op(t)).saturating_mul(n),
        };
    }
    let hc = costs.kvm_hc;
    let mut cost: u64 = 0;
    let calls = windows(ids, vector, |w| {
        cost = cost.saturating_add(hc.op(u64::from(w.count())));
        sink(w);
    });
    StockPlan {
        unicast: None,
        hypercalls: calls,
        cost,
        exits: calls,
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        reason = "tests"
    )]
    use super::*;

    const V: Vector = Vector::RESCHEDULE;

    fn count(ids: &[u32]) -> u64 {
        let mut v = [ApicId(0); 64];
        for (slot, id) in v.iter_mut().zip(ids) {
            *slot = ApicId(*id);
        }
        windows(v.get(..ids.len()).unwrap_or(&[]), V, |_| {})
    }

    #[test]
    fn linux_cases() {
        assert_eq!(count(&[]), 0);
        assert_eq!(count(&[5]), 1);
        assert_eq!(count(&[0, 127]), 1);
        assert_eq!(count(&[0, 128]), 2);
        // Shift down: 100 then 0 (100 - 0 < 128).
        assert_eq!(count(&[100, 0, 127]), 1);
        // The 2022 fix: 1, 128, 0 must flush instead of overflowing the bitmap.
        assert_eq!(count(&[1, 128, 0]), 2);
        // A duplicate of min flushes, as in Linux (apic_id > min fails).
        assert_eq!(count(&[3, 3]), 2);
    }

    #[test]
    fn bitmaps_hold_every_target() {
        let ids = [7, 9, 3, 130, 1, 200, 255, 128].map(ApicId);
        let mut seen = 0u32;
        let mut total = 0u32;
        windows(&ids, V, |w| {
            total += w.count();
            for id in w.ids() {
                assert!(ids.contains(&id));
                seen += 1;
            }
            assert_eq!(w.icr, 0xfd);
        });
        assert_eq!(seen, 8);
        assert_eq!(total, 8);
    }

    #[test]
    fn stock_unicast_and_costs() {
        let f = Features::KVM_X2APIC;
        let c = Costs::SKYLAKE;
        let one = plan(&[ApicId(9)], V, &f, &c, |_| {});
        assert_eq!(one.unicast, Some(Transport::X2apicIcr));
        assert_eq!(one.cost, 4238);
        let two = plan(&[ApicId(9), ApicId(300)], V, &f, &c, |_| {});
        assert_eq!(two.hypercalls, 2);
        assert_eq!(two.cost, 2 * (4088 + 150));
        let nopv = Features {
            pv_send_ipi: false,
            ..f
        };
        let p = plan(&[ApicId(9), ApicId(10)], V, &nopv, &c, |_| {});
        assert_eq!((p.hypercalls, p.exits, p.cost), (0, 2, 2 * 4238));
        let td = Features { tdx: true, ..nopv };
        assert_eq!(unicast_transport(&td), Transport::TdVmCall);
    }
}
