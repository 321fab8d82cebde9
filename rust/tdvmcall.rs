// SPDX-License-Identifier: GPL-2.0

//! The TDX transport: in a trust domain, one `TDVMCALL(Instruction.WRMSR)` of
//! the x2APIC ICR per target, the call the kernel's #VE handler makes after
//! a trapped ICR write, made without the #VE.

use crate::apic::ApicId;
use crate::apic::Icr;
use crate::apic::Vector;
use crate::glue;
use crate::glue::IrqGuard;
use crate::tdx::TdVmCall;

/// Sends `vector` to each of `ids`, one `TDVMCALL` each, and calls `refused`
/// with every target whose ICR write the VMM did not do.
///
/// A refused call wrote nothing, so the caller sends those targets again
/// without risk of a duplicate.  The guard proves interrupts are off; the
/// policy plans this transport only when `Features::tdx` is set.
#[inline]
pub(crate) fn send(
    _irqs_off: &IrqGuard,
    ids: &[ApicId],
    vector: Vector,
    mut refused: impl FnMut(ApicId),
) {
    // Order memory as before the ICR writes this replaces.
    glue::x2apic_fence();
    for &id in ids {
        let call = TdVmCall::wrmsr_icr(Icr::fixed(vector, id));
        // SAFETY: a WRMSR of the x2APIC ICR with interrupts off, what the
        // #VE handler would issue for the trapping write (a TD has x2APIC).
        let status = unsafe { glue::tdvmcall(&call) };
        if !TdVmCall::completed(status) {
            refused(id);
        }
    }
}
