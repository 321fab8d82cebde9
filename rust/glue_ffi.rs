// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrappers around the C glue (`glue.h`), whose declarations
//! bindgen generates (`glue_bindings.rs`).

use core::ptr::NonNull;

use kernel::bindings;
use kernel::ffi::c_int;
use kernel::ffi::c_long;
use kernel::ffi::c_uint;
use kernel::ffi::c_ulong;
use kernel::prelude::*;

use crate::apic::ApicId;
use crate::tdx::TdVmCall;

/// The glue's declarations, generated from `glue.h` by bindgen
/// (`scripts/glue-bindgen.sh`); the module build checks that they are current.
#[allow(
    dead_code,
    non_camel_case_types,
    unreachable_pub,
    reason = "bindgen's output keeps C's names, and declares all of glue.h, \
              also what only C uses (e.g. the IPI vectors)"
)]
#[path = "glue_bindings.rs"]
mod sys;

// The functions glue.h declares and Rust implements have the signatures
// bindgen gives them.
const _: () = {
    let _ = if true {
        sys::ipi_steer_sysfs_show
    } else {
        crate::sysfs::ipi_steer_sysfs_show
    };
    let _ = if true {
        sys::ipi_steer_sysfs_store
    } else {
        crate::sysfs::ipi_steer_sysfs_store
    };
};

/// The guest runs on KVM (signature in the hypervisor CPUID leaves).
pub(crate) const F_KVM: u32 = sys::IPI_STEER_F_KVM;
/// `KVM_FEATURE_PV_SEND_IPI` is exposed.
pub(crate) const F_PV_SEND_IPI: u32 = sys::IPI_STEER_F_PV_SEND_IPI;
/// `KVM_FEATURE_PV_SCHED_YIELD` is exposed.
pub(crate) const F_PV_SCHED_YIELD: u32 = sys::IPI_STEER_F_PV_SCHED_YIELD;
/// The local APIC is in x2APIC mode.
pub(crate) const F_X2APIC: u32 = sys::IPI_STEER_F_X2APIC;
/// The guest is a TDX trust domain.
pub(crate) const F_TDX_GUEST: u32 = sys::IPI_STEER_F_TDX_GUEST;
/// The CPU vendor is AMD or Hygon.
pub(crate) const F_VENDOR_AMD: u32 = sys::IPI_STEER_F_VENDOR_AMD;

/// Ids of the sysfs attributes (`enum ipi_steer_attr_id`).
pub(crate) mod attr {
    use super::sys;

    /// `mode`.
    pub(crate) const MODE: u32 = sys::IPI_STEER_ATTR_MODE;
    /// `features`.
    pub(crate) const FEATURES: u32 = sys::IPI_STEER_ATTR_FEATURES;
    /// `costs`.
    pub(crate) const COSTS: u32 = sys::IPI_STEER_ATTR_COSTS;
    /// `stats`.
    pub(crate) const STATS: u32 = sys::IPI_STEER_ATTR_STATS;
    /// `reset`.
    pub(crate) const RESET: u32 = sys::IPI_STEER_ATTR_RESET;
    /// `calibration`.
    pub(crate) const CALIBRATION: u32 = sys::IPI_STEER_ATTR_CALIBRATION;
    /// `fault_hypercall` (fault-injection builds only).
    #[cfg(CONFIG_IPI_STEER_FAULT_INJECTION)]
    pub(crate) const FAULT_HYPERCALL: u32 = sys::IPI_STEER_ATTR_FAULT_HYPERCALL;
}

/// `struct ipi_steer_smp_ipi_ops`: the three IPI paths of `struct smp_ops`.
pub(crate) type SmpIpiOps = sys::ipi_steer_smp_ipi_ops;

impl SmpIpiOps {
    /// No paths at all.
    pub(crate) const NONE: Self = Self {
        smp_send_reschedule: None,
        send_call_func_single_ipi: None,
        send_call_func_ipi: None,
    };

    /// Tells whether every path is set.
    pub(crate) fn complete(&self) -> bool {
        self.smp_send_reschedule.is_some()
            && self.send_call_func_single_ipi.is_some()
            && self.send_call_func_ipi.is_some()
    }
}

/// Returns the `F_*` mask of what the guest sees.
pub(crate) fn features() -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::ipi_steer_glue_features() }
}

/// Returns the number of possible CPU ids.
pub(crate) fn nr_cpu_ids() -> usize {
    // SAFETY: no preconditions.
    let n = unsafe { sys::ipi_steer_glue_nr_cpu_ids() };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Returns the IPI paths installed in `smp_ops` now.
pub(crate) fn get_ops() -> SmpIpiOps {
    let mut ops = SmpIpiOps::NONE;
    // SAFETY: `ops` is valid for writes.
    unsafe { sys::ipi_steer_glue_get_ops(&mut ops) };
    ops
}

/// Installs `install` under `stop_machine()` if `expect` is what is installed
/// now (any paths if `None`); returns the paths it replaced.
pub(crate) fn swap_ops(install: &SmpIpiOps, expect: Option<&SmpIpiOps>) -> Result<SmpIpiOps> {
    let mut saved = SmpIpiOps::NONE;
    let expect = expect.map_or(core::ptr::null(), |e| e as *const SmpIpiOps);
    // SAFETY: the pointers are valid for the call; `stop_machine()` may sleep
    // and this runs in process context (module init and exit).
    kernel::error::to_result(unsafe { sys::ipi_steer_glue_swap_ops(install, expect, &mut saved) })?;
    Ok(saved)
}

/// Waits until no CPU can still be running a replaced IPI path.
pub(crate) fn synchronize() {
    // SAFETY: process context (module init and exit, sysfs stores).
    unsafe { sys::ipi_steer_glue_synchronize() }
}

/// Local interrupts disabled for as long as the guard lives.
pub(crate) struct IrqGuard(c_ulong);

impl IrqGuard {
    /// Disables local interrupts.
    #[inline]
    pub(crate) fn new() -> Self {
        // SAFETY: no preconditions; restored by `Drop`.
        Self(unsafe { sys::ipi_steer_glue_irq_save() })
    }

    /// Returns the current CPU, which cannot change while the guard lives.
    #[inline]
    pub(crate) fn cpu(&self) -> usize {
        // SAFETY: interrupts are disabled, so the CPU cannot change.
        let cpu = unsafe { sys::ipi_steer_glue_this_cpu() };
        usize::try_from(cpu).unwrap_or(usize::MAX)
    }
}

impl Drop for IrqGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the flags come from the matching save.
        unsafe { sys::ipi_steer_glue_irq_restore(self.0) }
    }
}

/// Tells whether `cpu` is online.
#[inline]
pub(crate) fn cpu_online(cpu: c_int) -> bool {
    // SAFETY: no preconditions.
    unsafe { sys::ipi_steer_glue_cpu_online(cpu) }
}

/// Warns like the kernel does about a reschedule IPI to an offline CPU.
pub(crate) fn warn_offline(cpu: c_int) {
    // SAFETY: no preconditions.
    unsafe { sys::ipi_steer_glue_warn_offline(cpu) }
}

/// Returns the APIC id of `cpu`.
#[inline]
pub(crate) fn apicid(cpu: c_int) -> u32 {
    // SAFETY: no preconditions; `cpu` comes from the kernel's IPI callers.
    unsafe { sys::ipi_steer_glue_apicid(cpu) }
}

/// Writes the APIC ids of online CPUs other than this one into `ids`;
/// returns how many.
pub(crate) fn other_online_apicids(ids: &mut [ApicId]) -> usize {
    let max = c_uint::try_from(ids.len()).unwrap_or(c_uint::MAX);
    // SAFETY: `ApicId` is a transparent `u32`; `ids` has room for `max`.
    let n =
        unsafe { sys::ipi_steer_glue_other_online_apicids(ids.as_mut_ptr().cast::<u32>(), max) };
    usize::try_from(n).unwrap_or(0).min(ids.len())
}

/// Reads the time stamp counter (ordered).
#[inline]
pub(crate) fn cycles() -> u64 {
    // SAFETY: no preconditions.
    unsafe { sys::ipi_steer_glue_cycles() }
}

/// Writes the APIC ids of `mask` into `ids` and tells whether `mask` is
/// every online CPU but this one; `None` if `ids` is too short.
///
/// # Safety
///
/// `mask` must be a valid cpumask; preemption must be disabled.
#[inline]
pub(crate) unsafe fn mask_apicids(
    mask: *const bindings::cpumask,
    ids: &mut [ApicId],
) -> Option<(usize, bool)> {
    let max = c_uint::try_from(ids.len()).unwrap_or(c_uint::MAX);
    let mut all_but_self = false;
    let out = ids.as_mut_ptr().cast::<u32>();
    // SAFETY: `ApicId` is a transparent `u32`, so `out` is valid for `max`
    // writes; the caller vouches for `mask`.
    let n = unsafe { sys::ipi_steer_glue_mask_apicids(mask, out, max, &mut all_but_self) };
    if n > max {
        return None;
    }
    Some((usize::try_from(n).ok()?, all_but_self))
}

/// Orders memory before a batch of x2APIC ICR writes.
#[inline]
pub(crate) fn x2apic_fence() {
    // SAFETY: no preconditions.
    unsafe { sys::ipi_steer_glue_x2apic_fence() }
}

/// Writes the x2APIC ICR.
///
/// # Safety
///
/// The APIC must be in x2APIC mode; interrupts must be disabled.
#[inline]
pub(crate) unsafe fn x2apic_icr_write(icr: u64) {
    // SAFETY: the caller vouches for x2APIC mode and disabled interrupts.
    unsafe { sys::ipi_steer_glue_x2apic_icr_write(icr) }
}

/// Issues `KVM_HC_SEND_IPI`; returns the vCPUs delivered to or a negative KVM error.
///
/// # Safety
///
/// The host must expose `KVM_FEATURE_PV_SEND_IPI`; interrupts must be disabled.
#[inline]
pub(crate) unsafe fn kvm_send_ipi(low: u64, high: u64, min: u32, icr: u32) -> c_long {
    // SAFETY: the caller vouches for the feature and disabled interrupts.
    unsafe { sys::ipi_steer_glue_kvm_send_ipi(low, high, min, icr) }
}

/// Issues KVM hypercall `nr` with all four arguments zero and returns the
/// host's answer.
///
/// # Safety
///
/// The guest must run on KVM (its CPUID signature was found): elsewhere the
/// hypercall instruction may fault.
pub(crate) unsafe fn kvm_hypercall0(nr: u32) -> c_long {
    // SAFETY: the caller vouches for KVM.
    unsafe { sys::ipi_steer_glue_kvm_hypercall0(nr) }
}

/// Issues the `TDVMCALL` `call` and returns its status: 0 if the VMM did
/// the request, anything else if it did not (also outside a TD, or in a
/// kernel built without TDX guest support).
///
/// # Safety
///
/// `call` must be a request this guest may make now: here a standard WRMSR
/// of the x2APIC ICR, with interrupts disabled, exactly what the kernel's
/// #VE handler would issue for the trapped ICR write.
#[inline]
pub(crate) unsafe fn tdvmcall(call: &TdVmCall) -> u64 {
    // SAFETY: the caller vouches for the request; the glue checks for a TD.
    let status = unsafe { sys::ipi_steer_glue_tdvmcall(call.r10, call.r11, call.r12, call.r13) };
    // A negative errno stays non-zero, hence "not done".
    status as u64
}

/// KVM's directed yield to the first preempted target of `mask`; tells
/// whether it yielded.
///
/// # Safety
///
/// `mask` must be a valid cpumask; the host must expose `KVM_FEATURE_PV_SCHED_YIELD`.
pub(crate) unsafe fn yield_to_preempted(mask: *const bindings::cpumask) -> bool {
    // SAFETY: the caller vouches for `mask` and the feature.
    unsafe { sys::ipi_steer_glue_yield_to_preempted(mask) }
}

/// Creates `/sys/kernel/ipi_steer`.
pub(crate) fn sysfs_init() -> Result {
    // SAFETY: process context (module init).
    kernel::error::to_result(unsafe { sys::ipi_steer_glue_sysfs_init() })
}

/// Removes `/sys/kernel/ipi_steer`, waiting for running handlers.
pub(crate) fn sysfs_exit() {
    // SAFETY: process context (module exit or failed init).
    unsafe { sys::ipi_steer_glue_sysfs_exit() }
}

/// Returns the largest APIC id of a possible CPU.
pub(crate) fn max_apicid() -> ApicId {
    // SAFETY: no preconditions.
    ApicId(unsafe { sys::ipi_steer_glue_max_apicid() })
}

/// Allocates `size` zeroed, physically contiguous bytes (a multiple of the
/// page size); returns their address and guest-physical address.
pub(crate) fn region_alloc(size: usize) -> Option<(NonNull<u8>, u64)> {
    let mut gpa = 0u64;
    // SAFETY: process context (module init); `gpa` is valid for writes.
    let p = unsafe { sys::ipi_steer_glue_region_alloc(size, &mut gpa) };
    NonNull::new(p.cast::<u8>()).map(|p| (p, gpa))
}

/// Frees what [`region_alloc`] gave.
///
/// # Safety
///
/// `region` and `size` come from one [`region_alloc`]; nothing uses the
/// region any more, and no CPU has it registered with the host.
pub(crate) unsafe fn region_free(region: NonNull<u8>, size: usize) {
    // SAFETY: the caller vouches for the region.
    unsafe { sys::ipi_steer_glue_region_free(region.as_ptr().cast(), size) }
}

/// Registers a posted-IPI region: every online CPU writes `msr` to
/// `MSR_KVM_POSTED_IPI` now, every CPU that comes online later writes it
/// then, and a CPU going offline writes 0.  Returns how many online CPUs
/// the host refused (#GP); [`posted_withdraw`] undoes it.
///
/// # Safety
///
/// The region `msr` names must stay allocated, and be touched only
/// atomically, until [`posted_withdraw`] returns: the host writes it.
pub(crate) unsafe fn posted_register(msr: u64) -> Result<u32> {
    // SAFETY: process context (module init); the caller vouches for the region.
    let r = unsafe { sys::ipi_steer_glue_posted_register(msr) };
    kernel::error::to_result(r)?;
    Ok(u32::try_from(r).unwrap_or(u32::MAX))
}

/// Withdraws the registration of [`posted_register`] on every CPU; the host
/// no longer writes the region once this returns.
pub(crate) fn posted_withdraw() {
    // SAFETY: process context (module init or exit), after a successful
    // `posted_register` (the caller's ownership of the registration).
    unsafe { sys::ipi_steer_glue_posted_withdraw() }
}
