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
/// The guard proves interrupts are off; the module only installs this
/// transport in x2APIC mode.
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
