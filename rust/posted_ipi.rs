// SPDX-License-Identifier: GPL-2.0

//! The posted-interrupt transport: set the vector's bit in the target's PIR
//! and ON in its posted-interrupt descriptor, which the host shares with the
//! guest, and send the notification only when this sender turned ON on; no
//! VM exit.
//!
//! The steps and their order are [`PostStep`]'s, the sender the protocol
//! model (`rust/model`) checks against KVM's handling of the target vCPU.
//! How a host shares the descriptors is `docs/ABI/kvm-posted-ipi`, which
//! host-patches/0007-0009 implement for VMX (never executed here): at load
//! the module registers a [`Region`] on every CPU, and only a host that
//! fills its header makes `Features::posted_ipi` true; any other host
//! refuses the MSR write or leaves the header empty, and the policy never
//! plans this transport.

use core::ptr::NonNull;

use kernel::prelude::*;
use kernel::sync::atomic::Acquire;
use kernel::sync::atomic::Atomic;
use kernel::sync::atomic::Full;
use kernel::sync::atomic::Relaxed;

use crate::apic::ApicId;
use crate::apic::Icr;
use crate::apic::Vector;
use crate::glue;
use crate::posted::notification_icr;
use crate::posted::offered;
use crate::posted::pir_bit;
use crate::posted::region_size;
use crate::posted::registered;
use crate::posted::registration_msr;
use crate::posted::slots_for;
use crate::posted::Fallback;
use crate::posted::PiControl;
use crate::posted::PiPageHeader;
use crate::posted::PirBit;
use crate::posted::PostStep;
use crate::posted::Posted;
use crate::posted::RegionError;
use crate::posted::PIR_WORDS;
use crate::posted::PI_SLOT_SIZE;
use crate::profile::Features;
use crate::profile::Transport;

/// A posted-interrupt descriptor as the guest sees it in the shared region.
///
/// # Invariants
///
/// The guest touches only the PIR words and the control word, and only with
/// atomic operations, as KVM and the CPU do; the rest belongs to the host.
#[repr(C, align(64))]
pub(crate) struct PiDescView {
    pir: [Atomic<u64>; PIR_WORDS],
    control: Atomic<u64>,
    // The host's; atomic so that a reference never claims them unchanging.
    _reserved: [Atomic<u64>; 3],
}

impl PiDescView {
    /// Loads the control word (`READ_ONCE`).
    #[inline]
    fn control(&self) -> PiControl {
        PiControl(self.control.load(Relaxed))
    }

    /// Sets `bit` in the PIR and tells whether it was already set; `None`
    /// (nothing touched) if the word does not exist.
    ///
    /// A bit seen set needs no write: it is pending at that moment, as
    /// `test_and_set_bit()` would report.
    #[inline]
    fn test_and_set_pir(&self, bit: PirBit) -> Option<bool> {
        let word = self.pir.get(bit.word)?;
        let mut old = word.load(Relaxed);
        loop {
            if old & bit.mask != 0 {
                return Some(true);
            }
            match word.cmpxchg(old, old | bit.mask, Full) {
                Ok(_) => return Some(false),
                Err(now) => old = now,
            }
        }
    }

    /// Sets ON unless ON or SN is set ([`PiControl::claim_on`]); returns the
    /// control word the decision was made on, for [`PostStep::after_on`].
    ///
    /// NV and NDST come from the same word as the ON transition, so a
    /// notification goes where the host pointed it at that moment.
    #[inline]
    fn set_on(&self) -> PiControl {
        let mut seen = self.control();
        loop {
            let Some(next) = seen.claim_on() else {
                return seen;
            };
            match self.control.cmpxchg(seen.0, next.0, Full) {
                Ok(_) => return seen,
                Err(now) => seen = PiControl(now),
            }
        }
    }
}

#[cfg(CONFIG_IPI_STEER_KUNIT_TEST)]
impl PiDescView {
    /// A descriptor with an empty PIR and control word `control`, for tests.
    pub(crate) fn new(control: PiControl) -> Self {
        Self {
            pir: [const { Atomic::new(0u64) }; PIR_WORDS],
            control: Atomic::new(control.0),
            _reserved: [const { Atomic::new(0u64) }; 3],
        }
    }

    /// Returns the control word, for tests.
    pub(crate) fn control_word(&self) -> PiControl {
        self.control()
    }

    /// Tells whether `vector`'s PIR bit is set, for tests.
    pub(crate) fn pending(&self, vector: Vector) -> bool {
        let b = pir_bit(vector);
        self.pir
            .get(b.word)
            .is_some_and(|w| w.load(Relaxed) & b.mask != 0)
    }
}

const _: () = assert!(core::mem::size_of::<PiDescView>() == PI_SLOT_SIZE);
const _: () = assert!(core::mem::align_of::<PiDescView>() == PI_SLOT_SIZE);

/// Byte offset of the header's flags word (enabled, generation).
const FLAGS_OFFSET: usize = 8;

/// Zeroed, physically contiguous pages from the glue.
///
/// # Invariants
///
/// `base` points to `size` bytes, page aligned, owned by this value; they
/// are accessed only with atomic operations (the host may write them).
struct Pages {
    base: NonNull<u8>,
    size: usize,
}

impl Pages {
    /// Allocates `size` zeroed bytes; returns them and their guest-physical
    /// address.
    fn new(size: usize) -> Option<(Self, u64)> {
        let (base, gpa) = glue::region_alloc(size)?;
        // INVARIANT: the glue gave `size` page-aligned bytes.
        Some((Self { base, size }, gpa))
    }

    /// Returns the address of the `len` bytes at `offset` if they lie in the
    /// region and `offset` is a multiple of `align`.
    fn at(&self, offset: usize, len: usize, align: usize) -> Option<*mut u8> {
        if offset.checked_add(len)? > self.size || offset % align != 0 {
            return None;
        }
        // SAFETY: `offset + len` is within the allocation (checked above).
        Some(unsafe { self.base.as_ptr().add(offset) })
    }

    /// Returns the 64-bit word at byte `offset`.
    fn word(&self, offset: usize) -> Option<&Atomic<u64>> {
        let p = self.at(offset, 8, 8)?;
        // SAFETY: in bounds and aligned (page-aligned base); valid for as
        // long as `self`; every access to the region is atomic (invariant).
        Some(unsafe { Atomic::from_ptr(p.cast::<u64>()) })
    }

    /// Returns the descriptor at byte `offset`.
    fn desc(&self, offset: usize) -> Option<&PiDescView> {
        let p = self.at(offset, PI_SLOT_SIZE, PI_SLOT_SIZE)?;
        // SAFETY: in bounds and 64-byte aligned; `PiDescView` is only
        // atomics, any bit pattern is valid, and every access to the region
        // is atomic (invariant).
        Some(unsafe { &*p.cast::<PiDescView>() })
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: from `glue::region_alloc`; `Region` drops its registration
        // before its pages, so the host no longer writes them.
        unsafe { glue::region_free(self.base, self.size) }
    }
}

/// The registration of a region on every CPU (`MSR_KVM_POSTED_IPI`),
/// withdrawn on drop.
struct Registration;

impl Drop for Registration {
    fn drop(&mut self) {
        glue::posted_withdraw();
    }
}

/// Why the host does not offer posted IPIs to this guest.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NotOffered {
    /// Not tried: posting needs x2APIC, KVM's PV_SEND_IPI and no TDX.
    Features,
    /// The region could not be allocated.
    NoMemory(usize),
    /// The registration could not be set up (CPU hotplug state).
    Register(Error),
    /// The host refused the MSR write on this many online CPUs (#GP).
    Refused(u32),
    /// The host took the write but did not fill the header as expected.
    Region(RegionError),
}

impl core::fmt::Display for NotOffered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Features => write!(f, "not tried, needs x2apic and pv_send_ipi outside TDX"),
            Self::NoMemory(n) => write!(f, "no memory for a region of {} bytes", n),
            Self::Register(e) => write!(f, "registration not set up ({:?})", e),
            Self::Refused(n) => write!(f, "MSR_KVM_POSTED_IPI refused on {} CPUs", n),
            Self::Region(RegionError::Header(e)) => {
                write!(f, "header not filled by the host ({:?})", e)
            }
            Self::Region(e) => write!(f, "region not accepted ({:?})", e),
        }
    }
}

// For `pr_*!`, which take the kernel's `Display`.
impl kernel::fmt::Display for NotOffered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// The region of posted-interrupt descriptors the host shares with this
/// guest: a header page, then one descriptor per x2APIC id.
///
/// # Invariants
///
/// While `_registration` is `Some`, every online CPU has the region
/// registered; it is withdrawn (field order) before `pages` are freed.
pub(crate) struct Region {
    _registration: Option<Registration>,
    pages: Pages,
    header: PiPageHeader,
}

// SAFETY: the region is shared memory accessed only atomically; the
// registration is global and may be withdrawn from any thread.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` only loads and atomically updates words.
unsafe impl Sync for Region {}

impl Region {
    /// Registers a region with the host on every CPU if `features` allow
    /// posting, and keeps it if the host filled its header.
    pub(crate) fn register(features: &Features) -> Result<Self, NotOffered> {
        // The planner's own rule for posting, but for the host's part.
        let if_offered = Features {
            posted_ipi: true,
            ..*features
        };
        if !if_offered.available(Transport::Posted) {
            return Err(NotOffered::Features);
        }
        let slots = slots_for(glue::max_apicid());
        let size = region_size(slots);
        let (pages, gpa) = Pages::new(size).ok_or(NotOffered::NoMemory(size))?;
        let msr = registration_msr(gpa, slots).map_err(NotOffered::Region)?;
        // SAFETY: `pages` lives until after the registration is withdrawn:
        // `Region` drops them in that order, and so does this function on
        // every error path (`registration` is declared after `pages`, so it is
        // dropped first).
        let refused = unsafe { glue::posted_register(msr) }.map_err(NotOffered::Register)?;
        let registration = Registration;
        if refused > 0 {
            return Err(NotOffered::Refused(refused));
        }
        let words = [0, FLAGS_OFFSET, 2 * FLAGS_OFFSET]
            .map(|o| pages.word(o).map_or(0, |w| w.load(Acquire)));
        let header = registered(words, slots).map_err(NotOffered::Region)?;
        Ok(Self {
            _registration: Some(registration),
            pages,
            header,
        })
    }

    /// Returns the number of slots and the header's generation at
    /// registration.
    pub(crate) fn header(&self) -> PiPageHeader {
        self.header
    }

    /// Returns the descriptor of the vCPU with APIC id `id` if the host
    /// offers it now: the header's enabled flag and the slot's offer word
    /// (`posted::offered`), read right before each post.
    #[inline]
    pub(crate) fn descriptor(&self, id: ApicId) -> Option<&PiDescView> {
        let (offer, desc) = self.header.slot(id)?;
        let flags = self.pages.word(FLAGS_OFFSET)?.load(Relaxed);
        // The host writes NV and NDST before it sets the offer.
        let offer = self.pages.word(offer)?.load(Acquire);
        if !offered(flags, offer) {
            return None;
        }
        self.pages.desc(desc)
    }
}

#[cfg(CONFIG_IPI_STEER_KUNIT_TEST)]
impl Region {
    /// A zeroed region of `slots` slots that is not registered, for tests
    /// that play the host with [`Region::host_write`].
    pub(crate) fn unregistered(slots: u32) -> Option<Self> {
        let (pages, _) = Pages::new(region_size(slots))?;
        Some(Self {
            _registration: None,
            pages,
            header: PiPageHeader {
                enabled: false,
                generation: 0,
                slots,
            },
        })
    }

    /// Writes the word at byte `offset` as the host would.
    pub(crate) fn host_write(&self, offset: usize, value: u64) {
        if let Some(w) = self.pages.word(offset) {
            w.store(value, kernel::sync::atomic::Release);
        }
    }

    /// Reads the word at byte `offset`.
    pub(crate) fn read(&self, offset: usize) -> Option<u64> {
        self.pages.word(offset).map(|w| w.load(Relaxed))
    }
}

/// Posts `vector` through `desc` (`None`: not offered), calling `notify`
/// with the notification's ICR value when one is needed.
///
/// `Err` means the PIR was not touched and the IPI must go by the fallback
/// transport (`Features::fallback`); once the PIR bit is set the post never
/// falls back, since KVM could then deliver the vector twice.
#[inline]
pub(crate) fn post(
    desc: Option<&PiDescView>,
    vector: Vector,
    mut notify: impl FnMut(Icr),
) -> Result<Posted, Fallback> {
    let bit = pir_bit(vector);
    let mut step = PostStep::start(desc.is_some());
    loop {
        step = match (step, desc) {
            (PostStep::Fallback(why), _) => return Err(why),
            (PostStep::Done(how), _) => return Ok(how),
            (_, None) => return Err(Fallback::Absent),
            (PostStep::LoadControl, Some(d)) => PostStep::after_load(d.control()),
            (PostStep::SetPir, Some(d)) => match d.test_and_set_pir(bit) {
                Some(was) => PostStep::after_pir(was),
                None => return Err(Fallback::Absent),
            },
            (PostStep::SetOn, Some(d)) => PostStep::after_on(d.set_on()),
            (PostStep::Notify { nv, ndst }, Some(_)) => {
                notify(notification_icr(nv, ndst));
                PostStep::Done(Posted::Notified)
            }
        };
    }
}
