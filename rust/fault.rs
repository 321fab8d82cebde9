// SPDX-License-Identifier: GPL-2.0

//! Fault injection for the `KVM_HC_SEND_IPI` transport (test builds only,
//! `CONFIG_IPI_STEER_FAULT_INJECTION`): every Nth hypercall either fails or
//! reaches fewer vCPUs than asked, for real, so that the fallback paths run
//! against a real host.
//!
//! Knob: `/sys/kernel/ipi_steer/fault_hypercall`, `off`, `fail N` or
//! `partial N` (1 <= N <= [`EVERY_MAX`]).

use core::fmt::Write;

use kernel::prelude::*;
use kernel::sync::atomic::Atomic;
use kernel::sync::atomic::Relaxed;

use crate::kvm::KvmHcSendIpi;

/// Largest interval the knob accepts.
pub(crate) const EVERY_MAX: u32 = 1_000_000;

/// ICR "logical destination mode": KVM refuses a `KVM_HC_SEND_IPI` that
/// sets it with `-KVM_EINVAL`, before it delivers anything.
const ICR_DEST_LOGICAL: u32 = 1 << 11;

const KIND_OFF: u64 = 0;
const KIND_FAIL: u64 = 1;
const KIND_PARTIAL: u64 = 2;

/// Kind in bits 32..63, interval in bits 0..31: one word, so a sender
/// never sees a kind with another setting's interval.
static SETTING: Atomic<u64> = Atomic::new(0);
/// Hypercalls seen while a fault was armed.
static SEEN: Atomic<u64> = Atomic::new(0);
/// Faults injected since a fault was last armed.
static INJECTED: Atomic<u64> = Atomic::new(0);

/// Rewrites `hc` if this hypercall is one to break; the caller still judges
/// the host's answer against the targets of the original `hc`.
///
/// `fail` sets the logical destination bit, which the host refuses;
/// `partial` leaves the highest target out of the bitmap, so the host
/// delivers to one vCPU fewer than asked.
#[inline]
pub(crate) fn apply(hc: &mut KvmHcSendIpi) {
    let setting = SETTING.load(Relaxed);
    let kind = setting >> 32;
    let every = setting & u64::from(u32::MAX);
    if kind == KIND_OFF || every == 0 {
        return;
    }
    if SEEN.fetch_add(1, Relaxed).wrapping_add(1) % every != 0 {
        return;
    }
    INJECTED.fetch_add(1, Relaxed);
    if kind == KIND_FAIL {
        hc.icr |= ICR_DEST_LOGICAL;
    } else if hc.bitmap_high != 0 {
        hc.bitmap_high &= !(1u64 << (63 - hc.bitmap_high.leading_zeros()));
    } else if hc.bitmap_low != 0 {
        hc.bitmap_low &= !(1u64 << (63 - hc.bitmap_low.leading_zeros()));
    }
}

/// Shows the setting and the number of faults injected.
pub(crate) fn show(w: &mut impl Write) -> core::fmt::Result {
    let setting = SETTING.load(Relaxed);
    let every = setting & u64::from(u32::MAX);
    match setting >> 32 {
        KIND_FAIL => writeln!(w, "fail {}", every)?,
        KIND_PARTIAL => writeln!(w, "partial {}", every)?,
        _ => writeln!(w, "off")?,
    }
    writeln!(w, "injected {}", INJECTED.load(Relaxed))
}

/// Parses and applies a write to the knob; invalid input changes nothing.
pub(crate) fn store(input: &str) -> Result {
    let mut words = input.split_ascii_whitespace();
    let setting = match (words.next(), words.next(), words.next()) {
        (Some("off"), None, None) => KIND_OFF << 32,
        (Some(kind), Some(n), None) => {
            let kind = match kind {
                "fail" => KIND_FAIL,
                "partial" => KIND_PARTIAL,
                _ => return Err(EINVAL),
            };
            let every: u32 = n.parse().map_err(|_| EINVAL)?;
            if every == 0 || every > EVERY_MAX {
                return Err(ERANGE);
            }
            (kind << 32) | u64::from(every)
        }
        _ => return Err(EINVAL),
    };
    if setting >> 32 != KIND_OFF {
        SEEN.store(0, Relaxed);
        INJECTED.store(0, Relaxed);
    }
    SETTING.store(setting, Relaxed);
    Ok(())
}
