// SPDX-License-Identifier: GPL-2.0

//! The host's answer to "how are my IPIs accelerated?": the
//! `KVM_HC_IPI_ACCEL_INFO` hypercall of ipi_steer's KVM host patches.
//!
//! No CPUID bit tells a guest whether its host virtualizes IPIs (Intel IPIv,
//! AMD AVIC/x2AVIC), so without the hypercall the guest can only measure.
//! ABI (host-patches/, Documentation/virt/kvm/x86/hypercalls.rst there):
//! `a0..a3` must be zero; a host without the patch, or with the hypercall
//! disabled, returns `-KVM_ENOSYS`; reserved arguments give `-KVM_EINVAL`.
//! On success, bits 0-7 are the acceleration of the calling vCPU's IPIs
//! ([`Kind`]), bits 8-39 a generation that changes whenever the answer may
//! have changed, bits 40-63 are zero.  A stale answer (after a live
//! migration) may only cost speed: every transport still delivers.

#![forbid(unsafe_code)]

use super::kvm::KVM_ENOSYS;
use super::profile::Costs;
use super::profile::HostAccel;

/// Hypercall number of `KVM_HC_IPI_ACCEL_INFO`.
pub const KVM_HC_IPI_ACCEL_INFO: u64 = 13;

/// Bit of `KVM_CPUID_FEATURES.EAX` advertising it (VMMs may filter it: the
/// guest asks the hypercall itself).
pub const KVM_FEATURE_IPI_ACCEL_INFO: u32 = 18;

/// The acceleration kinds the host reports (bits 0-7 of the answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every ICR write exits.
    None = 0,
    /// Intel IPI virtualization: ICR writes do not exit.
    Ipiv = 1,
    /// AMD AVIC, xAPIC mode: ICR writes to running targets do not exit.
    Avic = 2,
    /// AMD x2AVIC, x2APIC mode: ICR writes to running targets do not exit.
    X2avic = 3,
}

impl Kind {
    /// The name shown in sysfs.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Ipiv => "ipiv",
            Kind::Avic => "avic",
            Kind::X2avic => "x2avic",
        }
    }

    /// The profile's view of this kind.
    pub const fn host_accel(self) -> HostAccel {
        match self {
            Kind::None => HostAccel::None,
            Kind::Ipiv => HostAccel::Ipiv,
            Kind::Avic | Kind::X2avic => HostAccel::Avic,
        }
    }

    /// The cost table for a host that accelerates IPIs this way.
    ///
    /// No AVIC figure is published; an ICR write that does not exit is
    /// modeled with the IPIv figures.
    pub const fn costs(self) -> Costs {
        match self {
            Kind::None => Costs::SKYLAKE,
            Kind::Ipiv | Kind::Avic | Kind::X2avic => Costs::SPR_IPIV,
        }
    }
}

/// A decoded answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostHint {
    /// How the calling vCPU's IPIs are accelerated.
    pub kind: Kind,
    /// Changes whenever the answer may have changed.
    pub generation: u32,
}

/// Why there is no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HintError {
    /// The host does not implement the hypercall, or has it disabled.
    NotAvailable,
    /// Another error from the host (the raw, negative value).
    Refused(i64),
    /// A success value this guest does not understand (unknown kind or
    /// reserved bits set); treated as no answer.
    Unknown(i64),
}

const RESERVED: i64 = !((1i64 << 40) - 1);

/// Decodes the hypercall's return value.
///
/// ```
/// use ipi_core::hint::{decode, HintError, Kind};
/// let h = decode(0x1234_03).unwrap();
/// assert_eq!((h.kind, h.generation), (Kind::X2avic, 0x1234));
/// assert_eq!(decode(-1000), Err(HintError::NotAvailable));
/// assert_eq!(decode(0x07), Err(HintError::Unknown(7)));
/// ```
pub fn decode(ret: i64) -> Result<HostHint, HintError> {
    if ret < 0 {
        return Err(if ret == KVM_ENOSYS.wrapping_neg() {
            HintError::NotAvailable
        } else {
            HintError::Refused(ret)
        });
    }
    if ret & RESERVED != 0 {
        return Err(HintError::Unknown(ret));
    }
    let kind = match ret & 0xff {
        0 => Kind::None,
        1 => Kind::Ipiv,
        2 => Kind::Avic,
        3 => Kind::X2avic,
        _ => return Err(HintError::Unknown(ret)),
    };
    let generation =
        u32::try_from((ret >> 8) & 0xffff_ffff).map_err(|_| HintError::Unknown(ret))?;
    Ok(HostHint { kind, generation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_decodes() {
        for (v, k) in [
            (0, Kind::None),
            (1, Kind::Ipiv),
            (2, Kind::Avic),
            (3, Kind::X2avic),
        ] {
            assert_eq!(
                decode(v),
                Ok(HostHint {
                    kind: k,
                    generation: 0
                })
            );
            assert_eq!(
                decode(v | 0xffff_ffff << 8).map(|h| h.generation),
                Ok(u32::MAX)
            );
        }
    }

    #[test]
    fn errors_and_unknown_answers_are_no_answer() {
        assert_eq!(decode(-1000), Err(HintError::NotAvailable));
        assert_eq!(decode(-22), Err(HintError::Refused(-22)));
        assert_eq!(decode(i64::MIN), Err(HintError::Refused(i64::MIN)));
        assert_eq!(decode(4), Err(HintError::Unknown(4)));
        assert_eq!(decode(0xff), Err(HintError::Unknown(0xff)));
        assert_eq!(decode(1 << 40), Err(HintError::Unknown(1 << 40)));
        assert_eq!(decode(i64::MAX), Err(HintError::Unknown(i64::MAX)));
    }

    #[test]
    fn accelerated_kinds_make_icr_writes_free_of_exits() {
        use crate::profile::{Features, Transport};
        for k in [Kind::Ipiv, Kind::Avic, Kind::X2avic] {
            let f = Features {
                host_accel: k.host_accel(),
                ..Features::KVM_X2APIC
            };
            assert_eq!(f.exits_per_op(Transport::X2apicIcr), 0);
            assert!(
                k.costs().get(Transport::X2apicIcr).per_op
                    < Costs::SKYLAKE.get(Transport::X2apicIcr).per_op
            );
        }
        let f = Features {
            host_accel: Kind::None.host_accel(),
            ..Features::KVM_X2APIC
        };
        assert_eq!(f.exits_per_op(Transport::X2apicIcr), 1);
    }
}
