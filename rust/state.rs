// SPDX-License-Identifier: GPL-2.0

//! The module's state while it steers IPIs: the published configuration,
//! the per-CPU counters and the per-CPU planning scratch.

use core::cell::UnsafeCell;

use kernel::prelude::*;
use kernel::sync::atomic::Acquire;
use kernel::sync::atomic::Atomic;
use kernel::sync::atomic::Relaxed;
use kernel::sync::atomic::Release;

use crate::apic::ApicId;
use crate::calibration::Report;
use crate::glue;
use crate::hint::HintError;
use crate::hint::HostHint;
use crate::plan::scratch_words;
use crate::plan::Op;
use crate::plan::Policy;
use crate::plan::PolicyError;
use crate::posted_ipi::NotOffered;
use crate::posted_ipi::Region;
use crate::profile::Config;

/// One configuration, with the policy derived from it.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot {
    /// Features, costs and mode.
    pub(crate) config: Config,
    /// The planning parameters of `config`.
    pub(crate) policy: Policy,
    /// Whether to do KVM's directed yield after call-function IPIs.
    pub(crate) directed_yield: bool,
    /// The last calibration.
    pub(crate) calibration: Report,
    /// The host's last answer to `KVM_HC_IPI_ACCEL_INFO`.
    pub(crate) hint: Result<HostHint, HintError>,
}

impl Snapshot {
    /// Derives the snapshot of `config`.
    pub(crate) fn new(
        config: Config,
        directed_yield: bool,
        calibration: Report,
        hint: Result<HostHint, HintError>,
    ) -> Result<Self, PolicyError> {
        Ok(Self {
            config,
            policy: Policy::new(&config)?,
            directed_yield,
            calibration,
            hint,
        })
    }

    /// The same configuration with `config` replaced.
    pub(crate) fn with_config(&self, config: Config) -> Result<Self, PolicyError> {
        Self::new(config, self.directed_yield, self.calibration, self.hint)
    }
}

/// The configuration the IPI paths read, published as one snapshot.
///
/// # Invariants
///
/// `slots[active]` is the published snapshot.  A slot is written only while
/// it is not published and no reader can still hold it: the writer
/// publishes the other slot and waits for an RCU grace period (IPI paths
/// run with interrupts off) before it writes this one again.  Writers are
/// serialized by the caller (module init, or the glue's store mutex).
pub(crate) struct Published {
    slots: [UnsafeCell<Snapshot>; 2],
    active: Atomic<usize>,
}

// SAFETY: readers only read the published slot; writers follow the protocol
// of the type invariants.
unsafe impl Sync for Published {}

impl Published {
    /// Publishes `first` as the initial snapshot.
    pub(crate) fn new(first: Snapshot) -> Self {
        // INVARIANT: slot 0 is active; slot 1 holds a copy nobody reads.
        Self {
            slots: [UnsafeCell::new(first), UnsafeCell::new(first)],
            active: Atomic::new(0),
        }
    }

    /// Returns the published snapshot; one load.
    ///
    /// The caller must keep interrupts off while it uses the snapshot (the
    /// IPI paths), or be a serialized writer.
    #[inline]
    pub(crate) fn read(&self, _irqs_off: &glue::IrqGuard) -> &Snapshot {
        self.read_serialized()
    }

    /// Like `read`, for serialized writers (no interrupts-off guard needed).
    #[inline]
    pub(crate) fn read_serialized(&self) -> &Snapshot {
        let i = self.active.load(Acquire) & 1;
        // SAFETY: the active slot is not written while published (invariant).
        unsafe { &*self.slots[i].get() }
    }

    /// Publishes `next`, then waits until no reader can see the old one.
    ///
    /// Callers must be serialized (the glue's store mutex) and may sleep.
    pub(crate) fn publish(&self, next: Snapshot) {
        let i = self.active.load(Relaxed) & 1;
        let other = i ^ 1;
        if let Some(slot) = self.slots.get(other) {
            // SAFETY: `other` is not published, and the previous publish
            // waited for every reader of it (invariant).
            unsafe { *slot.get() = next };
            // INVARIANT: the new slot is complete before it is published.
            self.active.store(other, Release);
            glue::synchronize();
        }
    }
}

/// What the counters count.
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum Stat {
    /// Reschedule IPIs requested (`smp_send_reschedule`).
    Reschedule,
    /// Call-function-single IPIs requested.
    CallFunctionSingle,
    /// Call-function IPIs requested (`send_call_func_ipi`, one per mask).
    CallFunction,
    /// Targets of call-function IPIs.
    CallFunctionTargets,
    /// x2APIC ICR writes.
    IcrWrites,
    /// `KVM_HC_SEND_IPI` hypercalls.
    Hypercalls,
    /// Targets sent by hypercall.
    HypercallTargets,
    /// Call-function IPIs to every other CPU handed to the kernel's own
    /// path, which sends them with one all-but-self shorthand.
    KernelShorthand,
    /// Hypercalls the host refused.
    HypercallErrors,
    /// Hypercalls that reached fewer vCPUs than asked.
    HypercallPartial,
    /// Targets sent by x2APIC ICR after a refused hypercall.
    FallbackIcr,
    /// Targets sent through the kernel's own path after a failure.
    FallbackKernel,
    /// Reschedule IPIs to offline CPUs, dropped with a warning like the kernel does.
    OfflineDropped,
    /// Directed yields to a preempted target.
    Yields,
    /// Direct `TDVMCALL`s (one per target) in a TD.
    TdVmCalls,
    /// `TDVMCALL`s the VMM refused; their targets were sent again.
    TdVmCallErrors,
    /// Targets posted through their descriptor.
    Posted,
    /// Posts that sent a notification.
    PostedNotified,
    /// Posts that could not use the descriptor and went by the fallback.
    PostedFallback,
}

/// Number of counters.
pub(crate) const NR_STATS: usize = 19;

/// Names of the counters, in `Stat` order, as shown in sysfs.
pub(crate) const STAT_NAMES: [&str; NR_STATS] = [
    "ipi_reschedule",
    "ipi_call_function_single",
    "ipi_call_function",
    "ipi_call_function_targets",
    "x2apic_icr_writes",
    "hypercalls",
    "hypercall_targets",
    "kernel_shorthand",
    "hypercall_errors",
    "hypercall_partial",
    "fallback_icr",
    "fallback_kernel",
    "offline_dropped",
    "directed_yields",
    "tdvmcalls",
    "tdvmcall_errors",
    "posted",
    "posted_notified",
    "posted_fallback",
];

/// One CPU's counters, in a cache line of their own.
#[repr(C, align(64))]
pub(crate) struct CpuStats {
    v: [Atomic<u64>; NR_STATS],
}

impl CpuStats {
    fn new() -> Self {
        Self {
            v: [const { Atomic::new(0u64) }; NR_STATS],
        }
    }

    /// Adds `n` to counter `s`.
    #[inline]
    pub(crate) fn add(&self, s: Stat, n: u64) {
        if let Some(c) = self.v.get(s as usize) {
            // Only this CPU writes its counters (with interrupts off), but
            // sysfs reads them from anywhere: relaxed atomics, no locks.
            c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
        }
    }
}

/// One CPU's planning buffers, sized for every possible CPU as a target.
pub(crate) struct Scratch {
    /// Target APIC ids; the planner sorts them in place.
    pub(crate) ids: KVec<ApicId>,
    /// The plan's operations.
    pub(crate) ops: KVec<Op>,
    /// The planner's search scratch.
    pub(crate) words: KVec<u64>,
}

/// Everything the IPI paths use.
///
/// # Invariants
///
/// `scratch[cpu]` is only used by CPU `cpu` with interrupts off, and the IPI
/// paths do not nest on one CPU, so each is used by one context at a time.
pub(crate) struct State {
    /// Raw `glue::F_*` feature bits seen at load.
    pub(crate) features: u32,
    /// The kernel's IPI paths ipi_steer replaced, for delegation and restore.
    pub(crate) saved: glue::SmpIpiOps,
    /// The configuration.
    pub(crate) config: Published,
    stats: KVec<CpuStats>,
    scratch: KVec<UnsafeCell<Scratch>>,
    /// Every possible CPU's (APIC id, CPU) pair, sorted by APIC id.
    apic_to_cpu: KVec<(u32, u32)>,
    /// The posted-interrupt descriptors the host shares, or why not; dropped
    /// (withdrawn, then freed) only after the paths are removed.
    pub(crate) posted: Result<Region, NotOffered>,
}

// SAFETY: shared parts are atomics or `Published`; scratch follows the type invariants.
unsafe impl Sync for State {}
// SAFETY: as above; nothing is tied to the creating thread.
unsafe impl Send for State {}

impl State {
    /// Allocates the state for `nr_cpus` possible CPUs.
    pub(crate) fn new(
        features: u32,
        saved: glue::SmpIpiOps,
        first: Snapshot,
        nr_cpus: usize,
        posted: Result<Region, NotOffered>,
    ) -> Result<Self> {
        let mut stats = KVec::with_capacity(nr_cpus, GFP_KERNEL)?;
        let mut scratch = KVec::with_capacity(nr_cpus, GFP_KERNEL)?;
        let mut apic_to_cpu = KVec::with_capacity(nr_cpus, GFP_KERNEL)?;
        for cpu in 0..nr_cpus {
            stats.push(CpuStats::new(), GFP_KERNEL)?;
            scratch.push(
                UnsafeCell::new(Scratch {
                    ids: KVec::from_elem(ApicId(0), nr_cpus, GFP_KERNEL)?,
                    ops: KVec::from_elem(Op::EMPTY, nr_cpus, GFP_KERNEL)?,
                    words: KVec::from_elem(0u64, scratch_words(nr_cpus), GFP_KERNEL)?,
                }),
                GFP_KERNEL,
            )?;
            let c = i32::try_from(cpu)?;
            apic_to_cpu.push((glue::apicid(c), u32::try_from(cpu)?), GFP_KERNEL)?;
        }
        crate::sort::sort(&mut apic_to_cpu);
        Ok(Self {
            features,
            saved,
            config: Published::new(first),
            stats,
            scratch,
            apic_to_cpu,
            posted,
        })
    }

    /// Returns `cpu`'s counters.
    #[inline]
    pub(crate) fn stats(&self, cpu: usize) -> Option<&CpuStats> {
        self.stats.get(cpu)
    }

    /// Returns counter `i` summed over every CPU.
    pub(crate) fn stat_total(&self, i: usize) -> u64 {
        self.stats
            .iter()
            .filter_map(|s| s.v.get(i))
            .fold(0u64, |acc, c| acc.wrapping_add(c.load(Relaxed)))
    }

    /// Zeroes every counter.
    pub(crate) fn reset_stats(&self) {
        for s in self.stats.iter() {
            for c in s.v.iter() {
                c.store(0, Relaxed);
            }
        }
    }

    /// Returns `cpu`'s scratch buffers.
    ///
    /// # Safety
    ///
    /// Must be called on `cpu` with interrupts off (`irqs_off`), from an IPI
    /// path, and the reference dropped before interrupts are enabled again.
    #[inline]
    #[expect(
        clippy::mut_from_ref,
        reason = "exclusive per CPU, see the type invariants"
    )]
    pub(crate) unsafe fn scratch(&self, irqs_off: &glue::IrqGuard) -> Option<&mut Scratch> {
        let cell = self.scratch.get(irqs_off.cpu())?;
        // SAFETY: this CPU, interrupts off, no nesting: exclusive (type invariants).
        Some(unsafe { &mut *cell.get() })
    }

    /// Returns the CPU whose APIC id is `id`.
    pub(crate) fn cpu_of(&self, id: ApicId) -> Option<c_int> {
        let i = self
            .apic_to_cpu
            .binary_search_by_key(&id.0, |&(a, _)| a)
            .ok()?;
        let &(_, cpu) = self.apic_to_cpu.get(i)?;
        c_int::try_from(cpu).ok()
    }
}
