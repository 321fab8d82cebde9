// SPDX-License-Identifier: GPL-2.0

//! The VT-x posted-interrupt descriptor, as pure functions on its words.
//!
//! The 64-byte descriptor holds the posted-interrupt requests (PIR, 256 bits, one
//! per vector, stored here as four `u64` words) followed by the control word:
//! ON (outstanding notification, bit 0), SN (suppress notification, bit 1), NV
//! (notification vector, bits 16-23) and NDST (notification destination, bits
//! 32-63; in xAPIC mode the 8-bit APIC id sits in bits 8-15 of NDST). The module
//! applies the words computed here with atomic operations on the shared descriptor.

#![forbid(unsafe_code)]

use super::apic::ApicId;
use super::apic::IdTooLarge;
use super::apic::Vector;
use super::apic::XAPIC_MAX_ID;

/// ON: a notification is outstanding (bit 0 of the control word).
pub const PID_ON: u64 = 1 << 0;

/// SN: notifications are suppressed (bit 1 of the control word).
pub const PID_SN: u64 = 1 << 1;

/// Shift of the NV field (bits 16-23 of the control word).
pub const PID_NV_SHIFT: u32 = 16;

/// Mask of the NV field in the control word.
pub const PID_NV_MASK: u64 = 0xff << PID_NV_SHIFT;

/// Shift of the NDST field (bits 32-63 of the control word).
pub const PID_NDST_SHIFT: u32 = 32;

/// Mask of the NDST field in the control word.
pub const PID_NDST_MASK: u64 = 0xffff_ffff << PID_NDST_SHIFT;

/// Number of 64-bit words in the PIR.
pub const PIR_WORDS: usize = 4;

/// The control word of a posted-interrupt descriptor (bytes 32-39).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PiControl(pub u64);

impl PiControl {
    /// Tells whether ON is set.
    pub const fn on(self) -> bool {
        self.0 & PID_ON != 0
    }

    /// Tells whether SN is set.
    pub const fn sn(self) -> bool {
        self.0 & PID_SN != 0
    }

    /// Returns the notification vector.
    pub const fn nv(self) -> u8 {
        ((self.0 & PID_NV_MASK) >> PID_NV_SHIFT) as u8
    }

    /// Returns the raw notification destination field.
    pub const fn ndst(self) -> u32 {
        (self.0 >> PID_NDST_SHIFT) as u32
    }

    /// Returns a copy with ON set to `on`.
    pub const fn with_on(self, on: bool) -> Self {
        if on {
            Self(self.0 | PID_ON)
        } else {
            Self(self.0 & !PID_ON)
        }
    }

    /// Returns a copy with SN set to `sn`.
    pub const fn with_sn(self, sn: bool) -> Self {
        if sn {
            Self(self.0 | PID_SN)
        } else {
            Self(self.0 & !PID_SN)
        }
    }

    /// Returns a copy with the notification vector replaced.
    pub fn with_nv(self, nv: u8) -> Self {
        Self((self.0 & !PID_NV_MASK) | (u64::from(nv) << PID_NV_SHIFT))
    }

    /// Returns a copy with the raw notification destination replaced.
    pub fn with_ndst(self, ndst: u32) -> Self {
        Self((self.0 & !PID_NDST_MASK) | (u64::from(ndst) << PID_NDST_SHIFT))
    }

    /// Returns the APIC id named by NDST, decoded for the given APIC mode.
    pub const fn dest(self, x2apic: bool) -> ApicId {
        if x2apic {
            ApicId(self.ndst())
        } else {
            ApicId((self.ndst() >> 8) & XAPIC_MAX_ID)
        }
    }
}

/// Encodes `id` as an NDST value (as KVM does: x2APIC id as is, xAPIC id in bits 8-15).
///
/// ```
/// use ipi_core::apic::ApicId;
/// use ipi_core::posted::ndst;
/// assert_eq!(ndst(ApicId(3), true), Ok(3));
/// assert_eq!(ndst(ApicId(3), false), Ok(0x300));
/// ```
pub const fn ndst(id: ApicId, x2apic: bool) -> Result<u32, IdTooLarge> {
    if x2apic {
        Ok(id.0)
    } else if id.0 > XAPIC_MAX_ID {
        Err(IdTooLarge(id))
    } else {
        Ok(id.0 << 8)
    }
}

/// The PIR word index and bit mask of one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PirBit {
    /// Index of the `u64` word in the PIR (0..4).
    pub word: usize,
    /// The vector's bit inside that word.
    pub mask: u64,
}

/// Returns where `vector` lives in the PIR.
///
/// ```
/// use ipi_core::apic::Vector;
/// use ipi_core::posted::pir_bit;
/// let b = pir_bit(Vector::RESCHEDULE); // 0xfd = 253 = 3 * 64 + 61
/// assert_eq!((b.word, b.mask), (3, 1 << 61));
/// ```
pub fn pir_bit(vector: Vector) -> PirBit {
    let v = vector.get();
    PirBit {
        word: usize::from(v >> 6),
        mask: 1u64 << (v & 63),
    }
}

/// What the sender must do after posting a vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostOutcome {
    /// ON was clear and SN clear: ON is now set; send `nv` to NDST.
    Notify {
        /// The notification vector to send.
        nv: u8,
        /// The raw NDST field to send it to.
        ndst: u32,
    },
    /// ON was already set: a notification is on its way, nothing more to do.
    Pending,
    /// SN is set (target not running): the PIR bit is enough, no notification.
    Suppressed,
}

/// A posted-interrupt descriptor's PIR and control words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PiDesc {
    /// Posted-interrupt requests, vector `v` at bit `v % 64` of word `v / 64`.
    pub pir: [u64; PIR_WORDS],
    /// The control word.
    pub control: PiControl,
}

impl PiDesc {
    /// Tells whether `vector`'s PIR bit is set.
    pub fn pending(&self, vector: Vector) -> bool {
        let b = pir_bit(vector);
        self.pir.get(b.word).is_some_and(|w| w & b.mask != 0)
    }

    /// Returns the descriptor after posting `vector`, and what the sender must do.
    ///
    /// Mirrors the order KVM uses: set the PIR bit first, then set ON unless SN
    /// is set; only the sender that flips ON from 0 to 1 sends the notification.
    pub fn post(&self, vector: Vector) -> (Self, PostOutcome) {
        let b = pir_bit(vector);
        let mut next = *self;
        if let Some(w) = next.pir.get_mut(b.word) {
            *w |= b.mask;
        }
        let c = self.control;
        if c.sn() {
            (next, PostOutcome::Suppressed)
        } else if c.on() {
            (next, PostOutcome::Pending)
        } else {
            next.control = c.with_on(true);
            (
                next,
                PostOutcome::Notify {
                    nv: c.nv(),
                    ndst: c.ndst(),
                },
            )
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
    use super::*;

    #[test]
    fn control_fields() {
        let c = PiControl::default()
            .with_nv(0xf2)
            .with_ndst(0x1234_5678)
            .with_sn(true);
        assert_eq!(c.0, 0x1234_5678_00f2_0002);
        assert!(c.sn() && !c.on());
        assert_eq!(c.nv(), 0xf2);
        assert_eq!(c.ndst(), 0x1234_5678);
        let c = c.with_on(true).with_sn(false);
        assert_eq!(c.0, 0x1234_5678_00f2_0001);
        assert_eq!(c.with_on(false).0, 0x1234_5678_00f2_0000);
        assert_eq!(PiControl(0x0000_2a00_0000_0000).dest(false), ApicId(0x2a));
        assert_eq!(ndst(ApicId(0x100), false), Err(IdTooLarge(ApicId(0x100))));
    }

    #[test]
    fn pir_bits() {
        let all = (0x10u8..=0xff).filter_map(|v| Vector::new(v).ok());
        for v in all {
            let b = pir_bit(v);
            assert_eq!(b.word, usize::from(v.get() / 64));
            assert_eq!(b.mask.trailing_zeros(), u32::from(v.get() % 64));
        }
    }

    #[test]
    fn post_rules() {
        let v = Vector::CALL_FUNCTION;
        let d = PiDesc {
            pir: [0; 4],
            control: PiControl::default().with_nv(0xf2).with_ndst(7),
        };
        let (d1, o1) = d.post(v);
        assert_eq!(o1, PostOutcome::Notify { nv: 0xf2, ndst: 7 });
        assert!(d1.pending(v) && d1.control.on());
        let (d2, o2) = d1.post(Vector::RESCHEDULE);
        assert_eq!(o2, PostOutcome::Pending);
        assert!(d2.pending(Vector::RESCHEDULE) && d2.pending(v));
        let sn = PiDesc {
            pir: [0; 4],
            control: d.control.with_sn(true),
        };
        let (d3, o3) = sn.post(v);
        assert_eq!(o3, PostOutcome::Suppressed);
        assert!(d3.pending(v) && !d3.control.on());
    }
}
