// SPDX-License-Identifier: GPL-2.0

//! APIC ids, vectors and the interrupt command register (ICR) encodings.
//!
//! The values match what Linux writes for a fixed-delivery, physical-destination
//! IPI (`__prepare_ICR(0, vector, APIC_DEST_PHYSICAL)`): delivery mode fixed (0),
//! destination mode physical (0), no level-assert bit, no shorthand.

#![forbid(unsafe_code)]

/// The x2APIC ICR MSR (`APIC_BASE_MSR + (APIC_ICR >> 4)`).
pub const X2APIC_ICR_MSR: u32 = 0x830;

/// Offset of the xAPIC ICR low register in the MMIO page.
pub const XAPIC_ICR: u32 = 0x300;

/// Offset of the xAPIC ICR high register (ICR2, destination) in the MMIO page.
pub const XAPIC_ICR2: u32 = 0x310;

/// Mask of the vector field of the ICR (bits 0-7).
pub const ICR_VECTOR_MASK: u64 = 0xff;

/// Mask of the delivery-mode field of the ICR (bits 8-10).
pub const ICR_DELIVERY_MODE_MASK: u64 = 0x700;

/// Destination-mode bit of the ICR (bit 11, set = logical).
pub const ICR_DEST_LOGICAL: u64 = 1 << 11;

/// Level-assert bit of the ICR (bit 14).
pub const ICR_LEVEL_ASSERT: u64 = 1 << 14;

/// Destination-shorthand field of the ICR (bits 18-19).
pub const ICR_SHORTHAND_MASK: u64 = 0xc_0000;

/// Shift of the x2APIC destination field (bits 32-63).
pub const X2APIC_DEST_SHIFT: u32 = 32;

/// Shift of the xAPIC destination field inside ICR2 (bits 24-31).
pub const XAPIC_DEST_SHIFT: u32 = 24;

/// Largest APIC id an xAPIC physical destination can name.
pub const XAPIC_MAX_ID: u32 = 0xff;

/// A local APIC id (the x2APIC id in x2APIC mode, the 8-bit id in xAPIC mode).
///
/// Transparent, so a buffer of ids can be filled as `u32`s by C code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct ApicId(pub u32);

/// An interrupt vector valid for fixed delivery (16..=255).
///
/// # Invariants
///
/// The wrapped value is at least [`Vector::MIN`]: vectors 0-15 are reserved and a
/// fixed IPI with such a vector raises an APIC send-illegal-vector error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vector(u8);

/// The error returned for a vector below 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalVector(pub u8);

impl Vector {
    /// Lowest vector that fixed delivery accepts.
    pub const MIN: u8 = 0x10;

    /// Linux `RESCHEDULE_VECTOR`.
    pub const RESCHEDULE: Self = Self(0xfd);

    /// Linux `CALL_FUNCTION_VECTOR`.
    pub const CALL_FUNCTION: Self = Self(0xfc);

    /// Linux `CALL_FUNCTION_SINGLE_VECTOR`.
    pub const CALL_FUNCTION_SINGLE: Self = Self(0xfb);

    /// Checks that `v` is a legal fixed-delivery vector.
    ///
    /// ```
    /// use ipi_core::apic::Vector;
    /// assert_eq!(Vector::new(0xfd), Ok(Vector::RESCHEDULE));
    /// assert!(Vector::new(0x0f).is_err());
    /// ```
    pub const fn new(v: u8) -> Result<Self, IllegalVector> {
        if v < Self::MIN {
            Err(IllegalVector(v))
        } else {
            // INVARIANT: checked just above.
            Ok(Self(v))
        }
    }

    /// Returns the raw vector number.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// The error returned when an APIC id cannot be encoded as an xAPIC destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdTooLarge(pub ApicId);

/// A 64-bit x2APIC ICR value (what is written to MSR 0x830).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icr(pub u64);

impl Icr {
    /// Encodes a fixed, physical-destination IPI of `vector` to `dest`.
    ///
    /// ```
    /// use ipi_core::apic::{ApicId, Icr, Vector};
    /// let icr = Icr::fixed(Vector::RESCHEDULE, ApicId(5));
    /// assert_eq!(icr.0, 0x0000_0005_0000_00fd);
    /// ```
    pub fn fixed(vector: Vector, dest: ApicId) -> Self {
        Self((u64::from(dest.0) << X2APIC_DEST_SHIFT) | u64::from(vector.0))
    }

    /// Returns the low half, the value Linux and KVM call "ICR low".
    pub const fn low(self) -> u32 {
        (self.0 & 0xffff_ffff) as u32
    }

    /// Returns the vector field.
    pub const fn vector(self) -> u8 {
        (self.0 & ICR_VECTOR_MASK) as u8
    }

    /// Returns the delivery-mode field (0 = fixed).
    pub const fn delivery_mode(self) -> u8 {
        ((self.0 & ICR_DELIVERY_MODE_MASK) >> 8) as u8
    }

    /// Tells whether the destination mode is logical.
    pub const fn dest_logical(self) -> bool {
        self.0 & ICR_DEST_LOGICAL != 0
    }

    /// Tells whether the level-assert bit is set.
    pub const fn level_assert(self) -> bool {
        self.0 & ICR_LEVEL_ASSERT != 0
    }

    /// Returns the destination-shorthand field (0 = none).
    pub const fn shorthand(self) -> u8 {
        ((self.0 & ICR_SHORTHAND_MASK) >> 18) as u8
    }

    /// Returns the x2APIC destination field.
    pub const fn dest(self) -> ApicId {
        ApicId((self.0 >> X2APIC_DEST_SHIFT) as u32)
    }

    /// Tells whether this value is a fixed, physical, no-shorthand IPI as [`Icr::fixed`] builds.
    pub const fn is_fixed_physical(self) -> bool {
        self.delivery_mode() == 0
            && !self.dest_logical()
            && self.shorthand() == 0
            && self.vector() >= Vector::MIN
            && self.0 & 0xffff_ff00 & !ICR_DELIVERY_MODE_MASK == 0
    }
}

/// Returns the xAPIC ICR low value for a fixed, physical IPI (`APIC_DM_FIXED | vector`).
pub fn xapic_icr_low(vector: Vector) -> u32 {
    u32::from(vector.0)
}

/// Returns the xAPIC ICR2 value naming `dest`, or an error when `dest` exceeds 8 bits.
///
/// ```
/// use ipi_core::apic::{xapic_icr_high, ApicId};
/// assert_eq!(xapic_icr_high(ApicId(3)), Ok(0x0300_0000));
/// assert!(xapic_icr_high(ApicId(256)).is_err());
/// ```
pub const fn xapic_icr_high(dest: ApicId) -> Result<u32, IdTooLarge> {
    if dest.0 > XAPIC_MAX_ID {
        Err(IdTooLarge(dest))
    } else {
        Ok(dest.0 << XAPIC_DEST_SHIFT)
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

    #[test]
    fn vectors() {
        assert_eq!(Vector::new(0x10).map(Vector::get), Ok(0x10));
        assert_eq!(Vector::new(0xff).map(Vector::get), Ok(0xff));
        assert_eq!(Vector::new(0), Err(IllegalVector(0)));
        assert_eq!(Vector::new(0x0f), Err(IllegalVector(0x0f)));
        assert_eq!(Vector::CALL_FUNCTION.get(), 0xfc);
        assert_eq!(Vector::CALL_FUNCTION_SINGLE.get(), 0xfb);
    }

    #[test]
    fn x2apic_icr_layout() {
        let icr = Icr::fixed(Vector::CALL_FUNCTION, ApicId(0xdead_beef));
        assert_eq!(icr.0, 0xdead_beef_0000_00fc);
        assert_eq!(icr.low(), 0xfc);
        assert_eq!(icr.vector(), 0xfc);
        assert_eq!(icr.delivery_mode(), 0);
        assert!(!icr.dest_logical());
        assert!(!icr.level_assert());
        assert_eq!(icr.shorthand(), 0);
        assert_eq!(icr.dest(), ApicId(0xdead_beef));
        assert!(icr.is_fixed_physical());
        assert!(!Icr(icr.0 | ICR_DEST_LOGICAL).is_fixed_physical());
        assert!(!Icr(icr.0 | 0x400).is_fixed_physical());
        assert!(!Icr(icr.0 | 0x8_0000).is_fixed_physical());
        assert!(!Icr(0x0f).is_fixed_physical());
    }

    #[test]
    fn xapic_layout() {
        assert_eq!(xapic_icr_low(Vector::RESCHEDULE), 0xfd);
        assert_eq!(xapic_icr_high(ApicId(0xff)), Ok(0xff00_0000));
        assert_eq!(
            xapic_icr_high(ApicId(0x100)),
            Err(IdTooLarge(ApicId(0x100)))
        );
    }
}
