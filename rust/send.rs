// SPDX-License-Identifier: GPL-2.0

//! The three IPI paths ipi_steer installs in `smp_ops`, and the dispatch of
//! a plan to the transports.
//!
//! They run with interrupts off, possibly from interrupt context: no
//! allocation, no sleeping, no printing, no locks.

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::atomic::Acquire;
use kernel::sync::atomic::Atomic;

use crate::apic::ApicId;
use crate::apic::Vector;
use crate::glue;
use crate::glue::IrqGuard;
use crate::hypercall;
use crate::hypercall::Outcome;
use crate::kvm::KvmHcSendIpi;
use crate::plan::Op;
use crate::posted::Posted;
use crate::posted_ipi;
use crate::profile::Transport;
use crate::state::CpuStats;
use crate::state::Snapshot;
use crate::state::Stat;
use crate::state::State;
use crate::tdvmcall;
use crate::x2apic;

/// The state the installed paths use; non-null exactly while they are installed.
pub(crate) static STATE: Atomic<*const State> = Atomic::new(core::ptr::null());

/// The paths ipi_steer installs.
pub(crate) const OPS: glue::SmpIpiOps = glue::SmpIpiOps {
    smp_send_reschedule: Some(smp_send_reschedule),
    send_call_func_single_ipi: Some(send_call_func_single_ipi),
    send_call_func_ipi: Some(send_call_func_ipi),
};

/// Returns the installed state.
#[inline]
fn state() -> Option<&'static State> {
    let p = STATE.load(Acquire);
    // SAFETY: `STATE` points to a live `State` from before the paths are
    // installed until after they are removed and every caller has left
    // (module exit synchronizes before freeing it).
    unsafe { p.as_ref() }
}

/// `smp_ops.smp_send_reschedule`.
unsafe extern "C" fn smp_send_reschedule(cpu: c_int) {
    if !glue::cpu_online(cpu) {
        // Exactly what native_smp_send_reschedule() does.
        glue::warn_offline(cpu);
        if let Some(st) = state() {
            let irqs = IrqGuard::new();
            if let Some(s) = st.stats(irqs.cpu()) {
                s.add(Stat::OfflineDropped, 1);
            }
        }
        return;
    }
    send_unicast(cpu, Vector::RESCHEDULE, Stat::Reschedule);
}

/// `smp_ops.send_call_func_single_ipi`.
unsafe extern "C" fn send_call_func_single_ipi(cpu: c_int) {
    send_unicast(cpu, Vector::CALL_FUNCTION_SINGLE, Stat::CallFunctionSingle);
}

/// Sends `vector` to `cpu` by the policy's one-target plan (decided at
/// configuration time, so this is O(1)).
#[inline]
fn send_unicast(cpu: c_int, vector: Vector, kind: Stat) {
    let Some(st) = state() else { return };
    let irqs = IrqGuard::new();
    let Some(stats) = st.stats(irqs.cpu()) else {
        return;
    };
    stats.add(kind, 1);
    let snap = st.config.read(&irqs);
    #[cfg(ipi_steer_fault = "drop_ipi")]
    if matches!(kind, Stat::Reschedule) && fault::drop_this_one() {
        return;
    }
    let ids = [ApicId(glue::apicid(cpu))];
    let mut out = [Op::EMPTY];
    if snap.policy.plan_one(&mut out).is_ok() {
        dispatch(&irqs, st, snap, stats, &out, &ids, vector);
    } else {
        // Cannot happen for a valid policy; the ICR is the plainest path.
        let t = Transport::X2apicIcr;
        fallback(&irqs, st, snap, stats, &ids, t, vector);
    }
}

/// `smp_ops.send_call_func_ipi`.
unsafe extern "C" fn send_call_func_ipi(mask: *const bindings::cpumask) {
    let Some(st) = state() else { return };
    let irqs = IrqGuard::new();
    let Some(stats) = st.stats(irqs.cpu()) else {
        return;
    };
    stats.add(Stat::CallFunction, 1);
    let snap = st.config.read(&irqs);
    // SAFETY: on this CPU with interrupts off; dropped before `irqs`.
    let Some(scratch) = (unsafe { st.scratch(&irqs) }) else {
        return;
    };
    // SAFETY: `mask` comes from the kernel's caller; preemption is off.
    let Some((n, all_but_self)) = (unsafe { glue::mask_apicids(mask, &mut scratch.ids) }) else {
        // More targets than possible CPUs cannot happen; stay correct anyway.
        stats.add(Stat::FallbackKernel, 1);
        drop(irqs);
        if let Some(f) = st.saved.send_call_func_ipi {
            // SAFETY: the kernel's own path, with the caller's argument.
            unsafe { f(mask) };
        }
        return;
    };
    stats.add(Stat::CallFunctionTargets, n as u64);
    let ids = scratch.ids.get_mut(..n).unwrap_or(&mut []);
    let plan = snap.policy.plan(ids, &mut scratch.ops, &mut scratch.words);
    let delegate = match plan {
        // One all-but-self shorthand ICR write is one exit: no plan that
        // costs an exit beats it, and the kernel's own path sends it.
        Ok(p) => {
            all_but_self && p.exits >= 1 && matches!(snap.config.mode, crate::profile::Mode::Auto)
        }
        Err(_) => true,
    };
    if delegate {
        stats.add(
            if plan.is_ok() {
                Stat::KernelShorthand
            } else {
                Stat::FallbackKernel
            },
            1,
        );
        drop(irqs);
        if let Some(f) = st.saved.send_call_func_ipi {
            // SAFETY: the kernel's own path (it also does the directed yield).
            unsafe { f(mask) };
        }
        return;
    }
    if let Ok(p) = plan {
        let ops = scratch.ops.get(..p.ops).unwrap_or(&[]);
        let ids = scratch.ids.get(..p.targets).unwrap_or(&[]);
        dispatch(&irqs, st, snap, stats, ops, ids, Vector::CALL_FUNCTION);
    }
    // SAFETY: `mask` is the caller's; PV_SCHED_YIELD is exposed when set.
    if snap.directed_yield && unsafe { glue::yield_to_preempted(mask) } {
        stats.add(Stat::Yields, 1);
    }
}

/// Sends every operation of a plan for `ids` (sorted, as planned).
#[inline]
fn dispatch(
    irqs: &IrqGuard,
    st: &State,
    snap: &Snapshot,
    stats: &CpuStats,
    ops: &[Op],
    ids: &[ApicId],
    vector: Vector,
) {
    for op in ops {
        let targets = op.targets(ids);
        match *op {
            Op::Unicast {
                transport: Transport::X2apicIcr,
                ..
            } => {
                x2apic::send(irqs, targets, vector);
                stats.add(Stat::IcrWrites, targets.len() as u64);
            }
            Op::Unicast {
                transport: Transport::TdVmCall,
                ..
            } => {
                stats.add(Stat::TdVmCalls, targets.len() as u64);
                tdvmcall::send(irqs, targets, vector, |id| {
                    stats.add(Stat::TdVmCallErrors, 1);
                    let one = core::slice::from_ref(&id);
                    fallback(irqs, st, snap, stats, one, Transport::TdVmCall, vector);
                });
            }
            Op::Unicast {
                transport: Transport::Posted,
                ..
            } => {
                for id in targets {
                    let desc = st.posted.as_ref().ok().and_then(|r| r.descriptor(*id));
                    match posted_ipi::post(desc, vector, |icr| x2apic::write(irqs, icr)) {
                        Ok(how) => {
                            stats.add(Stat::Posted, 1);
                            if how == Posted::Notified {
                                stats.add(Stat::PostedNotified, 1);
                            }
                        }
                        // The PIR was not touched: sending again cannot duplicate.
                        Err(_) => {
                            stats.add(Stat::PostedFallback, 1);
                            let one = core::slice::from_ref(id);
                            fallback(irqs, st, snap, stats, one, Transport::Posted, vector);
                        }
                    }
                }
            }
            Op::Window { .. } => match op.hypercall(ids, vector) {
                Ok(hc) => window(irqs, st, snap, stats, &hc, targets, vector),
                Err(_) => fallback(
                    irqs,
                    st,
                    snap,
                    stats,
                    targets,
                    Transport::KvmHcSendIpi,
                    vector,
                ),
            },
            // Transports the module does not implement are never available
            // to the policy; if one shows up anyway, do not lose the IPI.
            Op::Unicast { transport, .. } => {
                fallback(irqs, st, snap, stats, targets, transport, vector)
            }
        }
    }
}

/// Sends one `KVM_HC_SEND_IPI` for `targets`, whose arguments `hc` are.
#[inline]
fn window(
    irqs: &IrqGuard,
    st: &State,
    snap: &Snapshot,
    stats: &CpuStats,
    hc: &KvmHcSendIpi,
    targets: &[ApicId],
    vector: Vector,
) {
    stats.add(Stat::Hypercalls, 1);
    match hypercall::send(irqs, hc) {
        Outcome::Delivered => {
            stats.add(Stat::HypercallTargets, targets.len() as u64);
        }
        Outcome::Partial { delivered } => {
            stats.add(Stat::HypercallTargets, u64::from(delivered));
            stats.add(Stat::HypercallPartial, 1);
            // The host does not say which targets it missed: send the whole
            // window again.  A lost IPI hangs its target's caller; a second
            // one runs an idempotent handler (scheduler_ipi() or a flush of
            // an empty call-function queue) once more.
            let t = Transport::KvmHcSendIpi;
            fallback(irqs, st, snap, stats, targets, t, vector);
        }
        Outcome::Failed => {
            stats.add(Stat::HypercallErrors, 1);
            let t = Transport::KvmHcSendIpi;
            fallback(irqs, st, snap, stats, targets, t, vector);
        }
    }
}

/// Sends `vector` to `ids` again after an operation of `failed` did not
/// deliver it, by the transport `Features::fallback` names: a hypercall per
/// target for a post, else x2APIC ICR writes in x2APIC mode (trapping to
/// the kernel's #VE handler in a TD), else the kernel's own unicast paths.
fn fallback(
    irqs: &IrqGuard,
    st: &State,
    snap: &Snapshot,
    stats: &CpuStats,
    ids: &[ApicId],
    failed: Transport,
    vector: Vector,
) {
    match snap.config.features.fallback(failed) {
        Some(Transport::KvmHcSendIpi) => {
            for id in ids {
                let one = core::slice::from_ref(id);
                match KvmHcSendIpi::from_sorted(one, vector) {
                    // A refused hypercall falls back to the ICR in turn:
                    // `fallback(KvmHcSendIpi)` is never a hypercall.
                    Ok(hc) => window(irqs, st, snap, stats, &hc, one, vector),
                    Err(_) => {
                        let t = Transport::KvmHcSendIpi;
                        fallback(irqs, st, snap, stats, one, t, vector);
                    }
                }
            }
        }
        Some(Transport::X2apicIcr) => {
            x2apic::send(irqs, ids, vector);
            stats.add(Stat::FallbackIcr, ids.len() as u64);
        }
        _ => {
            let f = if vector == Vector::RESCHEDULE {
                st.saved.smp_send_reschedule
            } else {
                // Both call-function vectors run the same handler.
                st.saved.send_call_func_single_ipi
            };
            for &id in ids {
                if let (Some(f), Some(cpu)) = (f, st.cpu_of(id)) {
                    // SAFETY: the kernel's own unicast path for an existing CPU.
                    unsafe { f(cpu) };
                    stats.add(Stat::FallbackKernel, 1);
                }
            }
        }
    }
}

/// A deliberately broken build (`IPI_STEER_FAULT=drop_ipi`) that loses every
/// 50th reschedule IPI, to show that the tests notice.  Reschedules only: a
/// lost call-function IPI to an idle CPU is not lost for good (the target
/// drains its queue when it next leaves idle), so the delivery test could
/// miss it, and counting the kernel's own IPIs would let the drops fall
/// anywhere but on the test's traffic.
#[cfg(ipi_steer_fault = "drop_ipi")]
mod fault {
    use kernel::sync::atomic::Atomic;
    use kernel::sync::atomic::Relaxed;

    static SENT: Atomic<u64> = Atomic::new(0);

    /// True for every 50th reschedule IPI.
    pub(super) fn drop_this_one() -> bool {
        SENT.fetch_add(1, Relaxed) % 50 == 49
    }
}
