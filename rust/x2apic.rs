// SPDX-License-Identifier: GPL-2.0

//! The x2APIC ICR transport: one write of MSR 0x830 per target, fixed
//! delivery, physical destination, as `x2apic_send_IPI()` does.

use crate::apic::ApicId;
use crate::apic::Icr;
use crate::apic::Vector;
use crate::glue;
use crate::glue::IrqGuard;

/// Sends `vector` to each of `ids`, one ICR write each.
///
/// The guard proves interrupts are off; the module only uses this transport
/// in x2APIC mode.  In a TD it serves only as the fallback of a refused
/// `TDVMCALL`: the write raises #VE and the kernel's #VE handler sends the
/// IPI as it does for the kernel's own.
#[inline]
pub(crate) fn send(_irqs_off: &IrqGuard, ids: &[ApicId], vector: Vector) {
    // x2APIC MSR writes are not serializing: fence once per batch.
    glue::x2apic_fence();
    for &id in ids {
        // SAFETY: x2APIC mode is checked at load (the transport is only
        // planned when `Features::apic_mode` is x2APIC); interrupts are off.
        unsafe { glue::x2apic_icr_write(Icr::fixed(vector, id).0) };
    }
}

/// Writes one raw ICR value: a posted-interrupt notification (vector NV to
/// the physical APIC id NDST, as the descriptor names them).
///
/// The guard proves interrupts are off; notifications are only sent when
/// the policy allows posting, which needs x2APIC mode.
#[inline]
pub(crate) fn write(_irqs_off: &IrqGuard, icr: Icr) {
    // Also orders the PIR and ON updates before the notification.
    glue::x2apic_fence();
    // SAFETY: x2APIC mode (posting is only planned in it); interrupts are off.
    unsafe { glue::x2apic_icr_write(icr.0) };
}
