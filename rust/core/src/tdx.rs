// SPDX-License-Identifier: GPL-2.0

//! The TDX `TDVMCALL` that asks the VMM to write the x2APIC ICR.
//!
//! In a TD guest a WRMSR to the ICR raises #VE and the #VE handler then issues
//! `TDVMCALL(Instruction.WRMSR)`; building the same register set directly skips the
//! #VE round trip. Layout as Linux `__tdx_hypercall()` fills it: `r10` = standard
//! leaf (0), `r11` = exit reason (32, `EXIT_REASON_MSR_WRITE`), `r12` = MSR index,
//! `r13` = value.

#![forbid(unsafe_code)]

use super::apic::Icr;
use super::apic::X2APIC_ICR_MSR;

/// `TDX_HYPERCALL_STANDARD`: the GHCI standard `TDVMCALL` leaf, in `r10`.
pub const TDX_HYPERCALL_STANDARD: u64 = 0;

/// `EXIT_REASON_MSR_WRITE`: the GHCI sub-function for WRMSR, in `r11`.
pub const EXIT_REASON_MSR_WRITE: u64 = 32;

/// `TDVMCALL_STATUS_SUCCESS`: the status the VMM returns in `r10` when it did the request.
pub const TDVMCALL_STATUS_SUCCESS: u64 = 0;

/// The register arguments of one `TDVMCALL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TdVmCall {
    /// Leaf: 0 for the GHCI standard calls.
    pub r10: u64,
    /// Sub-function (a VMX exit reason for standard calls).
    pub r11: u64,
    /// First argument (the MSR index for WRMSR).
    pub r12: u64,
    /// Second argument (the MSR value for WRMSR).
    pub r13: u64,
}

impl TdVmCall {
    /// Builds the standard WRMSR call writing `value` to `msr`.
    pub fn wrmsr(msr: u32, value: u64) -> Self {
        Self {
            r10: TDX_HYPERCALL_STANDARD,
            r11: EXIT_REASON_MSR_WRITE,
            r12: u64::from(msr),
            r13: value,
        }
    }

    /// Builds the standard WRMSR call writing `icr` to the x2APIC ICR.
    ///
    /// ```
    /// use ipi_core::apic::{ApicId, Icr, Vector};
    /// use ipi_core::tdx::TdVmCall;
    /// let call = TdVmCall::wrmsr_icr(Icr::fixed(Vector::RESCHEDULE, ApicId(2)));
    /// assert_eq!((call.r10, call.r11, call.r12, call.r13), (0, 32, 0x830, 0x2_0000_00fd));
    /// ```
    pub fn wrmsr_icr(icr: Icr) -> Self {
        Self::wrmsr(X2APIC_ICR_MSR, icr.0)
    }

    /// Tells whether the status a standard call returned in `r10` means the VMM did it.
    ///
    /// Any other value (`TDVMCALL_STATUS_INVALID_OPERAND` for an MSR the VMM
    /// does not emulate, or a negative errno from a kernel without TDX guest
    /// support) means the ICR was not written: the IPI must be sent again by
    /// another path, and sending it again cannot duplicate it.
    ///
    /// ```
    /// use ipi_core::tdx::TdVmCall;
    /// assert!(TdVmCall::completed(0));
    /// assert!(!TdVmCall::completed(0x8000_0000_0000_0000));
    /// assert!(!TdVmCall::completed(-19i64 as u64));
    /// ```
    pub const fn completed(status: u64) -> bool {
        status == TDVMCALL_STATUS_SUCCESS
    }

    /// Returns the ICR value if this call is a standard WRMSR of the x2APIC ICR.
    pub fn as_icr_write(&self) -> Option<Icr> {
        let is_icr = self.r10 == TDX_HYPERCALL_STANDARD
            && self.r11 == EXIT_REASON_MSR_WRITE
            && self.r12 == u64::from(X2APIC_ICR_MSR);
        if is_icr {
            Some(Icr(self.r13))
        } else {
            None
        }
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
    use super::super::apic::ApicId;
    use super::super::apic::Vector;
    use super::*;

    #[test]
    fn icr_roundtrip() {
        let icr = Icr::fixed(Vector::CALL_FUNCTION_SINGLE, ApicId(77));
        let call = TdVmCall::wrmsr_icr(icr);
        assert_eq!(call.as_icr_write(), Some(icr));
        assert_eq!(TdVmCall::wrmsr(0x831, 1).as_icr_write(), None);
        let mut other = call;
        other.r10 = 1;
        assert_eq!(other.as_icr_write(), None);
    }

    #[test]
    fn status() {
        assert!(TdVmCall::completed(TDVMCALL_STATUS_SUCCESS));
        // TDVMCALL_STATUS_RETRY, _INVALID_OPERAND, _GPA_INUSE, _ALIGN_ERROR.
        for s in [1, 1 << 63, (1 << 63) | 1, (1 << 63) | 2] {
            assert!(!TdVmCall::completed(s));
        }
    }
}
