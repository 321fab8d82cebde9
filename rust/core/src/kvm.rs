// SPDX-License-Identifier: GPL-2.0

//! The `KVM_HC_SEND_IPI` hypercall: one exit sends a fixed IPI to up to 128 APIC ids.
//!
//! Arguments, as Linux `__send_ipi_mask()` passes them and KVM `kvm_pv_send_ipi()`
//! reads them: `a0`/`a1` are the low and high halves of a 128-bit bitmap whose bit
//! `i` names APIC id `a2 + i`, `a2` is the lowest APIC id of the window, `a3` is the
//! ICR low value (`APIC_DM_FIXED | vector`). The return value is the number of
//! vCPUs the IPI was delivered to, or a negative KVM error code.

#![forbid(unsafe_code)]

use super::apic::ApicId;
use super::apic::Vector;

/// Hypercall number of `KVM_HC_SEND_IPI`.
pub const KVM_HC_SEND_IPI: u64 = 10;

/// Hypercall number of `KVM_HC_SCHED_YIELD`.
pub const KVM_HC_SCHED_YIELD: u64 = 11;

/// Width of one hypercall window in APIC ids (`2 * BITS_PER_LONG` on 64-bit).
pub const KVM_IPI_CLUSTER_SIZE: u32 = 128;

/// CPUID leaf holding the KVM paravirtual feature bits in EAX.
pub const KVM_CPUID_FEATURES: u32 = 0x4000_0001;

/// Bit of `KVM_CPUID_FEATURES.EAX` that advertises `KVM_HC_SEND_IPI`.
pub const KVM_FEATURE_PV_SEND_IPI: u32 = 11;

/// Bit of `KVM_CPUID_FEATURES.EAX` that advertises `KVM_HC_SCHED_YIELD`.
pub const KVM_FEATURE_PV_SCHED_YIELD: u32 = 13;

/// KVM's "hypercall not implemented" error (`-KVM_ENOSYS` is returned).
pub const KVM_ENOSYS: i64 = 1000;

/// KVM's "invalid argument" error (`-KVM_EINVAL` is returned).
pub const KVM_EINVAL: i64 = 22;

/// The error returned when an APIC id does not fit in a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// The id lies outside `[min, min + 127]`.
    OutOfWindow(ApicId),
    /// No id was given.
    Empty,
}

/// The arguments of one `KVM_HC_SEND_IPI` call.
///
/// ```
/// use ipi_core::apic::{ApicId, Vector};
/// use ipi_core::kvm::KvmHcSendIpi;
/// let ids = [ApicId(4), ApicId(70), ApicId(131)];
/// let hc = KvmHcSendIpi::from_sorted(&ids, Vector::CALL_FUNCTION).unwrap();
/// // 4 is bit 0, 70 is bit 66, 131 is bit 127.
/// assert_eq!(hc.args(), [1, 1 << 2 | 1 << 63, 4, 0xfc]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvmHcSendIpi {
    /// Bits 0-63 of the bitmap (`a0`): APIC ids `min..min + 64`.
    pub bitmap_low: u64,
    /// Bits 64-127 of the bitmap (`a1`): APIC ids `min + 64..min + 128`.
    pub bitmap_high: u64,
    /// The lowest APIC id of the window (`a2`).
    pub min: ApicId,
    /// ICR low value (`a3`): fixed delivery of the vector.
    pub icr: u32,
}

impl KvmHcSendIpi {
    /// Starts an empty window whose bit 0 names `min`.
    pub fn new(min: ApicId, vector: Vector) -> Self {
        Self {
            bitmap_low: 0,
            bitmap_high: 0,
            min,
            icr: u32::from(vector.get()),
        }
    }

    /// Builds the window for ids sorted in increasing order, all within 128 of the first.
    pub fn from_sorted(ids: &[ApicId], vector: Vector) -> Result<Self, WindowError> {
        let first = ids.first().ok_or(WindowError::Empty)?;
        let mut hc = Self::new(*first, vector);
        for &id in ids {
            hc.add(id)?;
        }
        Ok(hc)
    }

    /// Returns the 128-bit bitmap.
    pub fn bitmap(&self) -> u128 {
        (u128::from(self.bitmap_high) << 64) | u128::from(self.bitmap_low)
    }

    /// Replaces the 128-bit bitmap.
    #[expect(clippy::cast_possible_truncation, reason = "splitting into halves")]
    pub fn set_bitmap(&mut self, bitmap: u128) {
        self.bitmap_low = bitmap as u64;
        self.bitmap_high = (bitmap >> 64) as u64;
    }

    /// Returns the bit offset of `id` in this window, if it lies inside.
    pub fn offset(&self, id: ApicId) -> Option<u32> {
        id.0.checked_sub(self.min.0)
            .filter(|&off| off < KVM_IPI_CLUSTER_SIZE)
    }

    /// Adds `id` to the window.
    pub fn add(&mut self, id: ApicId) -> Result<(), WindowError> {
        let off = self.offset(id).ok_or(WindowError::OutOfWindow(id))?;
        let bit = 1u128.checked_shl(off).unwrap_or(0);
        self.set_bitmap(self.bitmap() | bit);
        Ok(())
    }

    /// Tells whether `id` is in the window's bitmap.
    pub fn contains(&self, id: ApicId) -> bool {
        self.offset(id)
            .and_then(|off| self.bitmap().checked_shr(off))
            .is_some_and(|b| b & 1 != 0)
    }

    /// Returns the number of APIC ids named by the bitmap.
    pub fn count(&self) -> u32 {
        self.bitmap_low
            .count_ones()
            .saturating_add(self.bitmap_high.count_ones())
    }

    /// Moves the window down to start at `new_min`, keeping every id it names.
    ///
    /// This is what Linux does (`ipi_bitmap <<= min - apic_id`) when a lower id
    /// arrives that still fits with the highest one.
    pub fn lower_min(&mut self, new_min: ApicId) -> Result<(), WindowError> {
        let shift = self
            .min
            .0
            .checked_sub(new_min.0)
            .ok_or(WindowError::OutOfWindow(new_min))?;
        let bitmap = self.bitmap();
        // The highest named id must stay inside: leading zeros cover the shift.
        if shift > bitmap.leading_zeros() {
            return Err(WindowError::OutOfWindow(new_min));
        }
        self.set_bitmap(bitmap.checked_shl(shift).unwrap_or(0));
        self.min = new_min;
        Ok(())
    }

    /// Returns the hypercall arguments `[a0, a1, a2, a3]`.
    pub fn args(&self) -> [u64; 4] {
        [
            self.bitmap_low,
            self.bitmap_high,
            u64::from(self.min.0),
            u64::from(self.icr),
        ]
    }

    /// Iterates over the APIC ids named by the bitmap, lowest first.
    pub fn ids(&self) -> WindowIds {
        WindowIds {
            bitmap: self.bitmap(),
            min: self.min.0,
        }
    }
}

/// Iterator over the APIC ids of a [`KvmHcSendIpi`] window.
#[derive(Clone, Debug)]
pub struct WindowIds {
    bitmap: u128,
    min: u32,
}

impl Iterator for WindowIds {
    type Item = ApicId;

    fn next(&mut self) -> Option<ApicId> {
        if self.bitmap == 0 {
            return None;
        }
        let off = self.bitmap.trailing_zeros();
        // Clear the lowest set bit.
        self.bitmap &= self.bitmap.wrapping_sub(1);
        self.min.checked_add(off).map(ApicId)
    }
}

/// A failed `KVM_HC_SEND_IPI`, decoded from the negative return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HcError {
    /// `-KVM_ENOSYS`: the host does not implement the hypercall.
    NoSys,
    /// `-KVM_EINVAL`: the host rejected the ICR (shorthand or logical mode).
    Invalid,
    /// Any other negative value.
    Other(i64),
}

/// Decodes the hypercall return value into the number of vCPUs reached or an error.
pub fn decode_ret(ret: i64) -> Result<u32, HcError> {
    match ret {
        r if r >= 0 => Ok(u32::try_from(r).unwrap_or(u32::MAX)),
        r if r == KVM_ENOSYS.wrapping_neg() => Err(HcError::NoSys),
        r if r == KVM_EINVAL.wrapping_neg() => Err(HcError::Invalid),
        r => Err(HcError::Other(r)),
    }
}

/// Tells whether the `KVM_CPUID_FEATURES.EAX` value advertises `KVM_HC_SEND_IPI`.
pub fn has_pv_send_ipi(kvm_features_eax: u32) -> bool {
    kvm_features_eax & (1 << KVM_FEATURE_PV_SEND_IPI) != 0
}

/// Tells whether the `KVM_CPUID_FEATURES.EAX` value advertises `KVM_HC_SCHED_YIELD`.
pub fn has_pv_sched_yield(kvm_features_eax: u32) -> bool {
    kvm_features_eax & (1 << KVM_FEATURE_PV_SCHED_YIELD) != 0
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

    const V: Vector = Vector::CALL_FUNCTION;

    #[test]
    fn window_bits() {
        let mut hc = KvmHcSendIpi::new(ApicId(100), V);
        hc.add(ApicId(100)).unwrap();
        hc.add(ApicId(163)).unwrap();
        hc.add(ApicId(164)).unwrap();
        hc.add(ApicId(227)).unwrap();
        assert_eq!(
            hc.add(ApicId(228)),
            Err(WindowError::OutOfWindow(ApicId(228)))
        );
        assert_eq!(
            hc.add(ApicId(99)),
            Err(WindowError::OutOfWindow(ApicId(99)))
        );
        assert_eq!(hc.bitmap_low, 1 | 1 << 63);
        assert_eq!(hc.bitmap_high, 1 | 1 << 63);
        assert_eq!(hc.args(), [1 | 1 << 63, 1 | 1 << 63, 100, 0xfc]);
        assert_eq!(hc.count(), 4);
        assert!(hc.contains(ApicId(164)));
        assert!(!hc.contains(ApicId(165)));
        let ids: [Option<ApicId>; 5] = {
            let mut it = hc.ids();
            [it.next(), it.next(), it.next(), it.next(), it.next()]
        };
        assert_eq!(
            ids,
            [
                Some(ApicId(100)),
                Some(ApicId(163)),
                Some(ApicId(164)),
                Some(ApicId(227)),
                None
            ]
        );
    }

    #[test]
    fn lower_min_keeps_ids() {
        let mut hc = KvmHcSendIpi::new(ApicId(10), V);
        hc.add(ApicId(10)).unwrap();
        hc.add(ApicId(100)).unwrap();
        hc.lower_min(ApicId(0)).unwrap();
        assert_eq!(hc.min, ApicId(0));
        assert!(hc.contains(ApicId(10)) && hc.contains(ApicId(100)));
        assert_eq!(hc.count(), 2);
        // 100 - (-28) would not fit anymore.
        let mut hc2 = KvmHcSendIpi::new(ApicId(50), V);
        hc2.add(ApicId(177)).unwrap();
        assert!(hc2.lower_min(ApicId(49)).is_err());
        assert!(hc2.lower_min(ApicId(60)).is_err());
    }

    #[test]
    fn from_sorted_and_ret() {
        assert_eq!(KvmHcSendIpi::from_sorted(&[], V), Err(WindowError::Empty));
        assert!(KvmHcSendIpi::from_sorted(&[ApicId(0), ApicId(128)], V).is_err());
        assert_eq!(decode_ret(3), Ok(3));
        assert_eq!(decode_ret(-1000), Err(HcError::NoSys));
        assert_eq!(decode_ret(-22), Err(HcError::Invalid));
        assert_eq!(decode_ret(-14), Err(HcError::Other(-14)));
        assert!(has_pv_send_ipi(1 << 11) && !has_pv_send_ipi(1 << 13));
        assert!(has_pv_sched_yield(1 << 13));
    }
}
