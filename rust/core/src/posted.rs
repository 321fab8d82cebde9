// SPDX-License-Identifier: GPL-2.0

//! The VT-x posted-interrupt descriptor, as pure functions on its words.
//!
//! The 64-byte descriptor holds the posted-interrupt requests (PIR, 256 bits, one
//! per vector, stored here as four `u64` words) followed by the control word:
//! ON (outstanding notification, bit 0), SN (suppress notification, bit 1), NV
//! (notification vector, bits 16-23) and NDST (notification destination, bits
//! 32-63; in xAPIC mode the 8-bit APIC id sits in bits 8-15 of NDST). The module
//! applies the words computed here with atomic operations on the shared descriptor.
//!
//! [`PostStep`] is the guest-side sender: it says which atomic operation comes
//! next from what the previous one observed, so the module runs the loop and the
//! protocol model (`rust/model`) explores every interleaving of the same steps.

#![forbid(unsafe_code)]

use super::apic::ApicId;
use super::apic::Icr;
use super::apic::IdTooLarge;
use super::apic::Vector;
use super::apic::X2APIC_DEST_SHIFT;
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

/// `POSTED_INTR_VECTOR`: the NV KVM keeps while the vCPU may run.
pub const POSTED_INTR_VECTOR: u8 = 0xf2;

/// `POSTED_INTR_WAKEUP_VECTOR`: the NV KVM sets while the vCPU blocks.
pub const POSTED_INTR_WAKEUP_VECTOR: u8 = 0xf1;

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

    /// Returns the word that sets ON, or `None` when ON or SN is already set.
    ///
    /// The sender's `cmpxchg` loop on the control word writes this word, retries
    /// with the fresh value on failure, and stops without writing on `None`: the
    /// word it last saw is then what [`PostStep::after_on`] decides from, so NV
    /// and NDST come from the same atomic snapshot as the ON transition.
    pub const fn claim_on(self) -> Option<Self> {
        if self.on() || self.sn() {
            None
        } else {
            Some(self.with_on(true))
        }
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

/// Why a post went to the next-best transport instead of the descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// The host offers no descriptor for the target, or withdrew it.
    Absent,
    /// SN was set before the PIR was touched: the target is not in guest mode.
    Suppressed,
}

/// How a post through the descriptor ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Posted {
    /// The PIR bit was already set: this vector is pending and coalesces, as in the IRR.
    Coalesced,
    /// ON was already set: whoever set it sends (or sent) the notification.
    Pending,
    /// SN was set by the time ON was tried: KVM moves the PIR to ON when it clears SN.
    Suppressed,
    /// This sender set ON and sent the notification.
    Notified,
}

/// The next step of a guest-side post to one target, decided from the last one.
///
/// The order is KVM's own sender (`__vmx_deliver_posted_interrupt`): set the
/// PIR bit and stop if it was set; set ON and stop if it was set; only the
/// sender that flips ON from 0 to 1 notifies. Unlike KVM the guest cannot kick
/// a vCPU that is out of guest mode, so it reads SN first and, when it is set,
/// leaves the PIR alone and hands the IPI to KVM (an exit that posts into the
/// same PIR and wakes the vCPU); touching the PIR first would make KVM's
/// `pi_test_and_set_pir()` find the bit set and return without the wake-up.
/// Once the PIR bit is set the post never falls back: KVM could deliver the
/// vector twice if the bit was harvested in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostStep {
    /// Load the control word (`READ_ONCE`), then call [`PostStep::after_load`].
    LoadControl,
    /// `lock bts` the vector's PIR bit ([`pir_bit`]), then call [`PostStep::after_pir`].
    SetPir,
    /// Set ON with [`PiControl::claim_on`], then call [`PostStep::after_on`].
    SetOn,
    /// Send the notification: vector `nv` to the pCPU named by `ndst`; the post is then [`Posted::Notified`].
    Notify {
        /// The notification vector, as seen when ON was set.
        nv: u8,
        /// The raw NDST field, as seen when ON was set.
        ndst: u32,
    },
    /// Send through the next-best transport (a hypercall or an intercepted ICR write).
    Fallback(Fallback),
    /// The post is complete.
    Done(Posted),
}

impl PostStep {
    /// Starts a post: `offered` says whether the host currently offers the target's descriptor.
    pub const fn start(offered: bool) -> Self {
        if offered {
            Self::LoadControl
        } else {
            Self::Fallback(Fallback::Absent)
        }
    }

    /// Continues after loading the control word `c`.
    pub const fn after_load(c: PiControl) -> Self {
        if c.sn() {
            Self::Fallback(Fallback::Suppressed)
        } else {
            Self::SetPir
        }
    }

    /// Continues after setting the PIR bit, which `was_set` tells was already set.
    pub const fn after_pir(was_set: bool) -> Self {
        if was_set {
            Self::Done(Posted::Coalesced)
        } else {
            Self::SetOn
        }
    }

    /// Continues after the ON update, from the control word `seen` it last read.
    ///
    /// `seen` is the word the successful exchange replaced, or the word for
    /// which [`PiControl::claim_on`] returned `None`.
    pub const fn after_on(seen: PiControl) -> Self {
        if seen.on() {
            Self::Done(Posted::Pending)
        } else if seen.sn() {
            Self::Done(Posted::Suppressed)
        } else {
            Self::Notify {
                nv: seen.nv(),
                ndst: seen.ndst(),
            }
        }
    }
}

/// Size of one page of the shared region.
pub const PI_PAGE_SIZE: usize = 4096;

/// The bits of an address below the page boundary.
const PI_PAGE_OFFSET_MASK: u64 = 0xfff;

/// Size of one descriptor slot (the descriptor's own size and alignment).
pub const PI_SLOT_SIZE: usize = 64;

/// `"KVMPI\0\0\x01"`: magic and layout version 1 in the header's first word.
pub const PI_PAGE_MAGIC: u64 = u64::from_le_bytes(*b"KVMPI\0\0\x01");

/// Header flag: the host offers posting (cleared to withdraw it).
pub const PI_PAGE_ENABLED: u64 = 1 << 0;

/// Offer-word flag: the host keeps this slot's descriptor current.
pub const PI_SLOT_OFFERED: u64 = 1 << 0;

/// Byte offset of the offer words in the header page.
pub const PI_OFFERS_OFFSET: usize = 64;

/// Most slots a region can describe: one 8-byte offer word each in the rest
/// of the header page ((4096 - 64) / 8).
pub const PI_MAX_SLOTS: u32 = 504;

/// The header of the proposed shared region (docs/ABI/kvm-posted-ipi), decoded.
///
/// The region is a header page followed by descriptor pages. Header words
/// (little endian `u64`): 0 magic, 1 flags (bit 0 enabled) and generation
/// (bits 32-63), 2 the number of slots; then, from byte 64, one offer word per
/// slot. Slot `i` is the descriptor of the vCPU whose x2APIC id is `i`, at
/// byte `PI_PAGE_SIZE + 64 * i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PiPageHeader {
    /// Whether the host offers posting at all.
    pub enabled: bool,
    /// Incremented by the host on every change of the header or of an offer word.
    pub generation: u32,
    /// Number of slots: the x2APIC ids `0..slots` may have a descriptor.
    pub slots: u32,
}

/// Why a header cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageError {
    /// Not the magic and version this guest knows.
    BadMagic(u64),
    /// More slots than the header page has offer words for.
    TooManySlots(u32),
}

impl PiPageHeader {
    /// Decodes the first three header words.
    ///
    /// ```
    /// use ipi_core::posted::{PiPageHeader, PI_PAGE_MAGIC};
    /// let h = PiPageHeader::decode([PI_PAGE_MAGIC, (7 << 32) | 1, 4]).unwrap();
    /// assert!(h.enabled);
    /// assert_eq!((h.generation, h.slots), (7, 4));
    /// ```
    pub fn decode(words: [u64; 3]) -> Result<Self, PageError> {
        let [magic, flags, slots] = words;
        if magic != PI_PAGE_MAGIC {
            return Err(PageError::BadMagic(magic));
        }
        let slots = u32::try_from(slots).unwrap_or(u32::MAX);
        if slots > PI_MAX_SLOTS {
            return Err(PageError::TooManySlots(slots));
        }
        Ok(Self {
            enabled: flags & PI_PAGE_ENABLED != 0,
            generation: u32::try_from(flags >> 32).unwrap_or(u32::MAX),
            slots,
        })
    }

    /// Returns the byte offsets of `id`'s offer word and descriptor in the region.
    ///
    /// `None` when `id` has no slot; the sender then falls back
    /// ([`Fallback::Absent`]).
    pub fn slot(&self, id: ApicId) -> Option<(usize, usize)> {
        if id.0 >= self.slots {
            return None;
        }
        let i = usize::try_from(id.0).ok()?;
        let offer = i.checked_mul(8)?.checked_add(PI_OFFERS_OFFSET)?;
        let desc = i.checked_mul(PI_SLOT_SIZE)?.checked_add(PI_PAGE_SIZE)?;
        Some((offer, desc))
    }

    /// Returns the size in bytes of the region this header describes.
    pub fn region_size(&self) -> usize {
        region_size(self.slots)
    }
}

/// `MSR_KVM_POSTED_IPI`: the guest registers its region by writing it.
pub const MSR_KVM_POSTED_IPI: u32 = 0x4b56_4d09;

/// Bit 0 of `MSR_KVM_POSTED_IPI`: register the region (0 withdraws).
pub const PI_MSR_ENABLED: u64 = 1 << 0;

/// Shift of the number of slots (bits 3-11) in `MSR_KVM_POSTED_IPI`.
pub const PI_MSR_SLOTS_SHIFT: u32 = 3;

/// Returns the size in bytes of a region of `slots` slots: the header page
/// and the descriptors, rounded up to whole pages.
///
/// ```
/// use ipi_core::posted::region_size;
/// assert_eq!(region_size(1), 2 * 4096);
/// assert_eq!(region_size(64), 2 * 4096);
/// assert_eq!(region_size(65), 3 * 4096);
/// ```
pub fn region_size(slots: u32) -> usize {
    let slots = usize::try_from(slots).unwrap_or(0);
    let bytes = slots.saturating_mul(PI_SLOT_SIZE);
    PI_PAGE_SIZE.saturating_add(bytes.next_multiple_of(PI_PAGE_SIZE))
}

/// Returns how many slots to register when the largest x2APIC id of a
/// possible CPU is `max_id`: one per id up to it, at most [`PI_MAX_SLOTS`]
/// (CPUs with larger ids have no slot, and their IPIs fall back).
pub const fn slots_for(max_id: ApicId) -> u32 {
    match max_id.0.checked_add(1) {
        Some(n) if n <= PI_MAX_SLOTS => n,
        _ => PI_MAX_SLOTS,
    }
}

/// Why a region cannot be registered or used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionError {
    /// The guest-physical address is not page aligned, or above bit 63.
    Address(u64),
    /// The number of slots is not 1 to [`PI_MAX_SLOTS`].
    Slots(u32),
    /// After registration the header is not one this guest knows.
    Header(PageError),
    /// After registration the header does not say enabled.
    NotEnabled,
    /// After registration the header gives another number of slots.
    SlotsDiffer {
        /// What the header says.
        host: u32,
        /// What the guest registered.
        guest: u32,
    },
}

/// Returns the value of `MSR_KVM_POSTED_IPI` that registers a region of
/// `slots` slots at guest-physical address `gpa`: `gpa | slots << 3 | 1`.
///
/// ```
/// use ipi_core::posted::registration_msr;
/// assert_eq!(registration_msr(0x1_2345_6000, 8), Ok(0x1_2345_6041));
/// ```
pub fn registration_msr(gpa: u64, slots: u32) -> Result<u64, RegionError> {
    if slots == 0 || slots > PI_MAX_SLOTS {
        return Err(RegionError::Slots(slots));
    }
    if gpa & PI_PAGE_OFFSET_MASK != 0 {
        return Err(RegionError::Address(gpa));
    }
    Ok(gpa | (u64::from(slots) << PI_MSR_SLOTS_SHIFT) | PI_MSR_ENABLED)
}

/// Checks the header words a host wrote when it accepted a registration of
/// `slots` slots: the magic this guest knows, enabled, the same number of
/// slots.  A host that took the write without filling the header (no such
/// MSR, writes ignored) fails here, and the guest does not post.
///
/// ```
/// use ipi_core::posted::{registered, PI_PAGE_MAGIC};
/// assert!(registered([PI_PAGE_MAGIC, (1 << 32) | 1, 4], 4).is_ok());
/// assert!(registered([0, 0, 0], 4).is_err());
/// ```
pub fn registered(words: [u64; 3], slots: u32) -> Result<PiPageHeader, RegionError> {
    let h = PiPageHeader::decode(words).map_err(RegionError::Header)?;
    if !h.enabled {
        return Err(RegionError::NotEnabled);
    }
    if h.slots != slots {
        return Err(RegionError::SlotsDiffer {
            host: h.slots,
            guest: slots,
        });
    }
    Ok(h)
}

/// Tells whether a post may use a slot: the host offers posting (header flags
/// word `flags`) and keeps this slot current (its offer word `offer`).
///
/// The sender reads both right before [`PostStep::start`]; a host that
/// withdraws after that still handles the post (see the protocol model).
pub const fn offered(flags: u64, offer: u64) -> bool {
    flags & PI_PAGE_ENABLED != 0 && offer & PI_SLOT_OFFERED != 0
}

/// Returns the ICR value of a notification: fixed delivery, physical
/// destination, vector `nv` to the x2APIC id `ndst`, as the descriptor names them.
///
/// ```
/// use ipi_core::posted::notification_icr;
/// assert_eq!(notification_icr(0xf2, 5).0, 0x5_0000_00f2);
/// ```
pub fn notification_icr(nv: u8, ndst: u32) -> Icr {
    Icr((u64::from(ndst) << X2APIC_DEST_SHIFT) | u64::from(nv))
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

    /// Runs the stepwise sender on `d` alone, as the module's loop does.
    fn run(
        d: &mut PiDesc,
        v: Vector,
        offered: bool,
    ) -> (Option<(u8, u32)>, Result<Posted, Fallback>) {
        let b = pir_bit(v);
        let mut step = PostStep::start(offered);
        let mut notified = None;
        loop {
            step = match step {
                PostStep::LoadControl => PostStep::after_load(d.control),
                PostStep::SetPir => {
                    let was = d.pir[b.word] & b.mask != 0;
                    d.pir[b.word] |= b.mask;
                    PostStep::after_pir(was)
                }
                PostStep::SetOn => {
                    let seen = d.control;
                    if let Some(n) = seen.claim_on() {
                        d.control = n;
                    }
                    PostStep::after_on(seen)
                }
                PostStep::Notify { nv, ndst } => {
                    notified = Some((nv, ndst));
                    PostStep::Done(Posted::Notified)
                }
                PostStep::Fallback(f) => return (notified, Err(f)),
                PostStep::Done(p) => return (notified, Ok(p)),
            }
        }
    }

    #[test]
    fn stepwise_sender() {
        let idle = PiDesc {
            pir: [0; 4],
            control: PiControl::default()
                .with_nv(POSTED_INTR_VECTOR)
                .with_ndst(5),
        };
        let mut d = idle;
        let cf = Vector::CALL_FUNCTION;
        let rs = Vector::RESCHEDULE;
        assert_eq!(
            run(&mut d, cf, true),
            (Some((POSTED_INTR_VECTOR, 5)), Ok(Posted::Notified))
        );
        assert!(d.pending(cf) && d.control.on());
        assert_eq!(run(&mut d, rs, true), (None, Ok(Posted::Pending)));
        assert_eq!(run(&mut d, cf, true), (None, Ok(Posted::Coalesced)));
        // Blocking: NV is the wakeup vector, and the notification carries it.
        let mut d = idle;
        d.control = d.control.with_nv(POSTED_INTR_WAKEUP_VECTOR);
        assert_eq!(
            run(&mut d, rs, true),
            (Some((POSTED_INTR_WAKEUP_VECTOR, 5)), Ok(Posted::Notified))
        );
        // SN set: the PIR is left to KVM's own sender.
        let mut d = idle;
        d.control = d.control.with_sn(true);
        assert_eq!(run(&mut d, cf, true), (None, Err(Fallback::Suppressed)));
        assert_eq!(
            d,
            PiDesc {
                control: d.control,
                ..idle
            }
        );
        let mut d = idle;
        assert_eq!(run(&mut d, cf, false), (None, Err(Fallback::Absent)));
        assert_eq!(d, idle);
    }

    #[test]
    fn on_step_rules() {
        let c = PiControl::default()
            .with_nv(POSTED_INTR_VECTOR)
            .with_ndst(9);
        assert_eq!(c.claim_on(), Some(c.with_on(true)));
        assert_eq!(c.with_on(true).claim_on(), None);
        assert_eq!(c.with_sn(true).claim_on(), None);
        assert_eq!(
            PostStep::after_on(c),
            PostStep::Notify {
                nv: POSTED_INTR_VECTOR,
                ndst: 9
            }
        );
        assert_eq!(
            PostStep::after_on(c.with_on(true)),
            PostStep::Done(Posted::Pending)
        );
        // SN set between the load and the ON update (the vCPU was preempted):
        // the PIR bit stays for vmx_vcpu_pi_load(), no fallback.
        assert_eq!(
            PostStep::after_on(c.with_sn(true)),
            PostStep::Done(Posted::Suppressed)
        );
        assert_eq!(
            PostStep::after_on(c.with_sn(true).with_on(true)),
            PostStep::Done(Posted::Pending)
        );
    }

    #[test]
    fn stepwise_matches_post() {
        // Where the PIR bit is clear and SN clear, the stepwise sender leaves the
        // descriptor exactly as the one-shot `post` does, and agrees on notifying.
        let v = Vector::CALL_FUNCTION_SINGLE;
        for bits in 0u64..8 {
            let mut d = PiDesc {
                pir: [0, 0, 0, bits << 61],
                control: PiControl::default()
                    .with_nv(POSTED_INTR_VECTOR)
                    .with_ndst(1)
                    .with_on(bits & 1 != 0),
            };
            let (one, out) = d.post(v);
            let (notified, end) = run(&mut d, v, true);
            assert_eq!(d, one);
            assert_eq!(
                notified.is_some(),
                matches!(out, PostOutcome::Notify { .. })
            );
            assert!(end.is_ok());
        }
    }

    #[test]
    fn registration() {
        // The MSR's fields as docs/ABI/kvm-posted-ipi gives them (and
        // host-patches/0007's parse_msr() decodes them).
        let v = registration_msr(0x7fff_f000, 504).unwrap();
        assert_eq!(v & PI_MSR_ENABLED, 1);
        assert_eq!(v & 0x6, 0);
        assert_eq!((v >> PI_MSR_SLOTS_SHIFT) & 0x1ff, 504);
        assert_eq!(v & !0xfff, 0x7fff_f000);
        assert_eq!(registration_msr(0x1000, 1), Ok(0x1009));
        assert_eq!(registration_msr(0x1000, 0), Err(RegionError::Slots(0)));
        assert_eq!(registration_msr(0x1000, 505), Err(RegionError::Slots(505)));
        assert_eq!(
            registration_msr(0x1800, 1),
            Err(RegionError::Address(0x1800))
        );
        assert_eq!(MSR_KVM_POSTED_IPI, 0x4b56_4d09);
        assert_eq!(PI_PAGE_OFFSET_MASK + 1, PI_PAGE_SIZE as u64);

        assert_eq!(slots_for(ApicId(0)), 1);
        assert_eq!(slots_for(ApicId(7)), 8);
        assert_eq!(slots_for(ApicId(503)), 504);
        assert_eq!(slots_for(ApicId(504)), 504);
        assert_eq!(slots_for(ApicId(u32::MAX)), 504);
        for n in 1..=PI_MAX_SLOTS {
            let size = region_size(n);
            assert_eq!(size % PI_PAGE_SIZE, 0);
            // The last slot ends inside the region, with less than a page spare.
            let end = PI_PAGE_SIZE + n as usize * PI_SLOT_SIZE;
            assert!(end <= size && size - end < PI_PAGE_SIZE, "{n}");
        }

        let ok = [PI_PAGE_MAGIC, (5 << 32) | PI_PAGE_ENABLED, 8];
        assert_eq!(
            registered(ok, 8),
            Ok(PiPageHeader {
                enabled: true,
                generation: 5,
                slots: 8
            })
        );
        // A host that ignored the write leaves the zeroed header.
        assert_eq!(
            registered([0; 3], 8),
            Err(RegionError::Header(PageError::BadMagic(0)))
        );
        assert_eq!(
            registered([PI_PAGE_MAGIC, 5 << 32, 8], 8),
            Err(RegionError::NotEnabled)
        );
        assert_eq!(
            registered(ok, 4),
            Err(RegionError::SlotsDiffer { host: 8, guest: 4 })
        );
        assert_eq!(
            registered([PI_PAGE_MAGIC, 1, 505], 505),
            Err(RegionError::Header(PageError::TooManySlots(505)))
        );
    }

    #[test]
    fn page_layout() {
        let h = PiPageHeader::decode([PI_PAGE_MAGIC, (3 << 32) | PI_PAGE_ENABLED, 64]).unwrap();
        assert_eq!(
            h,
            PiPageHeader {
                enabled: true,
                generation: 3,
                slots: 64
            }
        );
        assert_eq!(h.slot(ApicId(0)), Some((64, 4096)));
        assert_eq!(h.slot(ApicId(63)), Some((64 + 63 * 8, 4096 + 63 * 64)));
        assert_eq!(h.slot(ApicId(64)), None);
        assert_eq!(h.region_size(), 2 * 4096);
        let full = PiPageHeader::decode([PI_PAGE_MAGIC, 0, u64::from(PI_MAX_SLOTS)]).unwrap();
        assert!(!full.enabled);
        assert_eq!(PI_MAX_SLOTS as usize, (PI_PAGE_SIZE - PI_OFFERS_OFFSET) / 8);
        let (offer, desc) = full.slot(ApicId(PI_MAX_SLOTS - 1)).unwrap();
        assert_eq!(offer + 8, PI_PAGE_SIZE);
        // 504 slots fill 7.875 pages: the region rounds up to whole pages.
        assert_eq!(desc + PI_SLOT_SIZE, 4096 + 504 * 64);
        assert_eq!(full.region_size(), 9 * 4096);
        assert_eq!(
            PiPageHeader::decode([PI_PAGE_MAGIC, 0, 505]),
            Err(PageError::TooManySlots(505))
        );
        assert_eq!(
            PiPageHeader::decode([PI_PAGE_MAGIC, 0, 1 << 40]),
            Err(PageError::TooManySlots(u32::MAX))
        );
        assert_eq!(PiPageHeader::decode([1, 0, 1]), Err(PageError::BadMagic(1)));
        let empty = PiPageHeader::decode([PI_PAGE_MAGIC, 1, 0]).unwrap();
        assert_eq!(empty.slot(ApicId(0)), None);
        assert_eq!(empty.region_size(), 4096);
    }

    #[test]
    fn offers() {
        assert!(offered(PI_PAGE_ENABLED, PI_SLOT_OFFERED));
        assert!(offered(
            PI_PAGE_ENABLED | (9 << 32),
            PI_SLOT_OFFERED | (9 << 32)
        ));
        assert!(!offered(0, PI_SLOT_OFFERED));
        assert!(!offered(PI_PAGE_ENABLED, 0));
        assert_eq!(
            PostStep::start(offered(0, 1)),
            PostStep::Fallback(Fallback::Absent)
        );
    }

    #[test]
    fn notification() {
        let icr = notification_icr(POSTED_INTR_WAKEUP_VECTOR, 0x1234);
        assert!(icr.is_fixed_physical());
        assert_eq!(icr.vector(), POSTED_INTR_WAKEUP_VECTOR);
        assert_eq!(icr.dest(), ApicId(0x1234));
        let c = PiControl::default()
            .with_nv(POSTED_INTR_VECTOR)
            .with_ndst(u32::MAX);
        assert_eq!(notification_icr(c.nv(), c.ndst()).dest(), c.dest(true));
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
