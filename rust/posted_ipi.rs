// SPDX-License-Identifier: GPL-2.0

//! The posted-interrupt transport: set the vector's bit in the target's PIR
//! and ON in its posted-interrupt descriptor, which the host shares with the
//! guest, and send the notification only when this sender turned ON on; no
//! VM exit.
//!
//! The steps and their order are [`PostStep`]'s, the sender the protocol
//! model (`rust/model`) checks against KVM's handling of the target vCPU.
//! How a host shares the descriptors is `docs/ABI/kvm-posted-ipi`, which
//! host-patches/0007-0009 implement for VMX (never executed here).  The
//! module does not register a region yet, so [`descriptor`] finds none, and
//! the policy never plans this transport because `Features::posted_ipi` is
//! never set.

use kernel::sync::atomic::Atomic;
use kernel::sync::atomic::Full;
use kernel::sync::atomic::Relaxed;

use crate::apic::ApicId;
use crate::apic::Icr;
use crate::apic::Vector;
use crate::posted::notification_icr;
use crate::posted::pir_bit;
use crate::posted::Fallback;
use crate::posted::PiControl;
use crate::posted::PirBit;
use crate::posted::PostStep;
use crate::posted::Posted;
use crate::posted::PIR_WORDS;

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
    _reserved: [u64; 3],
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
            _reserved: [0; 3],
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

/// Returns the descriptor of the vCPU with APIC id `id` if the host offers
/// it now.
///
/// With the proposed region this reads the header's enabled flag and the
/// slot's offer word (`posted::offered`) right before each post.  No host
/// provides the region yet, so every target is absent.
#[inline]
pub(crate) fn descriptor(_id: ApicId) -> Option<&'static PiDescView> {
    None
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
