// SPDX-License-Identifier: GPL-2.0

//! What the guest can use to send an IPI (the feature profile) and what each
//! transport costs (the cost table), in integer units (cycles by convention).

#![forbid(unsafe_code)]

/// A mechanism that delivers a fixed IPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// One WRMSR of the x2APIC ICR (MSR 0x830) per target.
    X2apicIcr,
    /// Two MMIO writes (ICR2, then ICR) per target in xAPIC mode.
    XapicIcr,
    /// One `KVM_HC_SEND_IPI` hypercall per 128-id window of targets.
    KvmHcSendIpi,
    /// One `TDVMCALL(WRMSR, ICR)` per target in a TDX guest.
    TdVmCall,
    /// One posted-interrupt descriptor write per target (host opt-in).
    Posted,
}

impl Transport {
    /// Every transport, in the order used for tie-breaking (earlier wins).
    pub const ALL: [Self; 5] = [
        Self::X2apicIcr,
        Self::TdVmCall,
        Self::Posted,
        Self::XapicIcr,
        Self::KvmHcSendIpi,
    ];

    /// Returns the short name used by knobs and tools.
    pub const fn name(self) -> &'static str {
        match self {
            Self::X2apicIcr => "x2apic",
            Self::XapicIcr => "xapic",
            Self::KvmHcSendIpi => "hypercall",
            Self::TdVmCall => "tdvmcall",
            Self::Posted => "posted",
        }
    }

    /// Parses a short name as returned by [`Transport::name`].
    ///
    /// ```
    /// use ipi_core::profile::Transport;
    /// assert_eq!(Transport::from_name("hypercall"), Some(Transport::KvmHcSendIpi));
    /// assert_eq!(Transport::from_name("nope"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Tells whether one operation of this transport covers a window of targets.
    pub const fn is_window(self) -> bool {
        matches!(self, Self::KvmHcSendIpi)
    }
}

/// The guest's local APIC mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApicMode {
    /// x2APIC: MSR interface, 32-bit ids.
    X2apic,
    /// xAPIC: MMIO interface, 8-bit ids.
    Xapic,
}

/// What the host is known to do to accelerate IPIs (no CPUID bit exists; a host hint or guess).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostAccel {
    /// No acceleration: every ICR write exits.
    None,
    /// Intel IPI virtualization: physical-mode x2APIC ICR writes do not exit.
    Ipiv,
    /// AMD AVIC / x2AVIC: ICR writes to running targets do not exit.
    Avic,
}

/// The features the guest sees, decided once at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Features {
    /// x2APIC or xAPIC mode.
    pub apic_mode: ApicMode,
    /// `KVM_FEATURE_PV_SEND_IPI`: the `KVM_HC_SEND_IPI` hypercall is exposed.
    pub pv_send_ipi: bool,
    /// `KVM_FEATURE_PV_SCHED_YIELD`: directed yield to preempted targets is exposed.
    pub pv_sched_yield: bool,
    /// The guest is a TDX trust domain (ICR writes would raise #VE).
    pub tdx: bool,
    /// The host's IPI acceleration, if known.
    pub host_accel: HostAccel,
    /// Guest posted-interrupt writes are enabled by the host.
    pub posted_ipi: bool,
}

impl Features {
    /// A plain x2APIC guest with `PV_SEND_IPI`, as stock KVM exposes it.
    pub const KVM_X2APIC: Self = Self {
        apic_mode: ApicMode::X2apic,
        pv_send_ipi: true,
        pv_sched_yield: true,
        tdx: false,
        host_accel: HostAccel::None,
        posted_ipi: false,
    };

    /// Tells whether `t` can deliver an IPI in this guest.
    ///
    /// In a TD the ICR write is replaced by the direct `TDVMCALL`; the xAPIC ICR
    /// exists only in xAPIC mode. Posting needs x2APIC mode (the notification
    /// is an x2APIC ICR write to the descriptor's NDST) outside a TD, and
    /// `KVM_HC_SEND_IPI`, which takes a target whose descriptor is suppressed
    /// or withdrawn (see [`Features::fallback`]).
    pub const fn available(&self, t: Transport) -> bool {
        let x2apic = matches!(self.apic_mode, ApicMode::X2apic);
        match t {
            Transport::X2apicIcr => x2apic && !self.tdx,
            Transport::XapicIcr => !x2apic && !self.tdx,
            Transport::KvmHcSendIpi => self.pv_send_ipi,
            Transport::TdVmCall => self.tdx,
            Transport::Posted => self.posted_ipi && self.pv_send_ipi && x2apic && !self.tdx,
        }
    }

    /// Returns the transport that resends the targets of an operation of `t`
    /// that did not deliver, or `None` for the kernel's own IPI path.
    ///
    /// A post that cannot use the descriptor goes by hypercall: KVM then posts
    /// into the same PIR and wakes the target, which the guest cannot do. A
    /// refused hypercall or `TDVMCALL` goes by x2APIC ICR write, also in a TD,
    /// where the write raises #VE and the kernel's #VE handler issues the
    /// `TDVMCALL` again, exactly as for the kernel's own IPIs. In xAPIC mode
    /// the kernel's path sends (ICR2 and ICR writes, as the kernel does).
    ///
    /// ```
    /// use ipi_core::profile::{Features, Transport};
    /// let td = Features { tdx: true, ..Features::KVM_X2APIC };
    /// assert_eq!(td.fallback(Transport::TdVmCall), Some(Transport::X2apicIcr));
    /// ```
    pub const fn fallback(&self, t: Transport) -> Option<Transport> {
        match t {
            Transport::Posted if self.pv_send_ipi => Some(Transport::KvmHcSendIpi),
            _ if matches!(self.apic_mode, ApicMode::X2apic) => Some(Transport::X2apicIcr),
            _ => None,
        }
    }

    /// Returns the VM exits one operation of `t` costs (per target, or per window).
    pub const fn exits_per_op(&self, t: Transport) -> u32 {
        match t {
            Transport::X2apicIcr => match self.host_accel {
                HostAccel::None => 1,
                HostAccel::Ipiv | HostAccel::Avic => 0,
            },
            Transport::XapicIcr => 2,
            Transport::KvmHcSendIpi | Transport::TdVmCall => 1,
            // At most one: the notification, which the host traps
            // (docs/ABI/kvm-posted-ipi); none when the target's ON was set.
            Transport::Posted => 1,
        }
    }
}

/// The modeled cost of one transport.
///
/// An operation is one hypercall (window) for [`Transport::KvmHcSendIpi`] and one
/// target for every other transport, so a unicast transport costs
/// `per_op + per_target` per target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Cost {
    /// Cost of one operation, whatever its target count.
    pub per_op: u32,
    /// Extra cost for each target an operation covers.
    pub per_target: u32,
}

impl Cost {
    /// Returns the cost of one operation covering `targets` targets.
    pub fn op(self, targets: u64) -> u64 {
        u64::from(self.per_op).saturating_add(u64::from(self.per_target).saturating_mul(targets))
    }

    /// Returns the cost of one target sent alone (`per_op + per_target`).
    pub fn unicast(self) -> u64 {
        self.op(1)
    }
}

/// The cost of every transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Costs {
    /// x2APIC ICR write.
    pub x2apic_icr: Cost,
    /// xAPIC ICR2 + ICR writes.
    pub xapic_icr: Cost,
    /// `KVM_HC_SEND_IPI` hypercall.
    pub kvm_hc: Cost,
    /// TDX `TDVMCALL(WRMSR, ICR)`.
    pub tdvmcall: Cost,
    /// Posted-interrupt write.
    pub posted: Cost,
}

/// Builds a [`Cost`] in a const context.
const fn c(per_op: u32, per_target: u32) -> Cost {
    Cost { per_op, per_target }
}

impl Costs {
    /// Skylake, every ICR write a full exit (LKML IPIv cover letter, 2021: x2APIC
    /// 4238 cycles).
    ///
    /// The hypercall is modeled as the same exit with the per-target delivery
    /// (an estimated 150 cycles) split out: 4088 + 150 per target, so one target
    /// costs the same either way. Posted write: 2000 (ByteDance RFC, 2020);
    /// TDVMCALL: an estimate of two exits (no published figure).
    pub const SKYLAKE: Self = Self {
        x2apic_icr: c(4238, 0),
        xapic_icr: c(6059, 0),
        kvm_hc: c(4088, 150),
        tdvmcall: c(8476, 0),
        posted: c(2000, 0),
    };

    /// Skylake with KVM's ICR fastpath (same cover letter: x2APIC 3293 cycles).
    pub const SKYLAKE_FASTPATH: Self = Self {
        x2apic_icr: c(3293, 0),
        ..Self::SKYLAKE
    };

    /// Sapphire Rapids with IPIv (same cover letter: x2APIC 4338 -> 3645, xAPIC
    /// 6059 -> 4713); the hypercall keeps the full exit of the unaccelerated ICR
    /// write (4338 = 4188 + 150 per target).
    pub const SPR_IPIV: Self = Self {
        x2apic_icr: c(3645, 0),
        xapic_icr: c(4713, 0),
        kvm_hc: c(4188, 150),
        tdvmcall: c(8676, 0),
        posted: c(2000, 0),
    };

    /// The same table for a host whose posted-interrupt notifications trap,
    /// as with layout version 1 of the shared descriptors
    /// (docs/ABI/kvm-posted-ipi): a post that must notify costs the trapped
    /// x2APIC ICR write of the notification, so posting is modeled at the ICR
    /// write's cost and the planner prefers the plain ICR write (ties go to
    /// it).  The published 2000 cycles assume a notification without exit
    /// (the ICR passed through), which no proposed host gives.
    ///
    /// ```
    /// use ipi_core::profile::Costs;
    /// let c = Costs::SKYLAKE.with_trapped_notifications();
    /// assert_eq!(c.posted, Costs::SKYLAKE.x2apic_icr);
    /// ```
    #[must_use]
    pub const fn with_trapped_notifications(self) -> Self {
        Self {
            posted: self.x2apic_icr,
            ..self
        }
    }

    /// Returns the cost of `t`.
    pub const fn get(&self, t: Transport) -> Cost {
        match t {
            Transport::X2apicIcr => self.x2apic_icr,
            Transport::XapicIcr => self.xapic_icr,
            Transport::KvmHcSendIpi => self.kvm_hc,
            Transport::TdVmCall => self.tdvmcall,
            Transport::Posted => self.posted,
        }
    }

    /// Replaces the cost of `t`.
    pub fn set(&mut self, t: Transport, cost: Cost) {
        let slot = match t {
            Transport::X2apicIcr => &mut self.x2apic_icr,
            Transport::XapicIcr => &mut self.xapic_icr,
            Transport::KvmHcSendIpi => &mut self.kvm_hc,
            Transport::TdVmCall => &mut self.tdvmcall,
            Transport::Posted => &mut self.posted,
        };
        *slot = cost;
    }

    /// Returns the cost of sending to `targets` APIC ids packed as densely as possible with `t` alone.
    ///
    /// A window transport needs `ceil(targets / 128)` operations.
    ///
    /// ```
    /// use ipi_core::profile::{Costs, Transport};
    /// let c = Costs::SKYLAKE;
    /// assert_eq!(c.dense_total(Transport::X2apicIcr, 3), 3 * 4238);
    /// assert_eq!(c.dense_total(Transport::KvmHcSendIpi, 129), 2 * 4088 + 129 * 150);
    /// ```
    pub fn dense_total(&self, t: Transport, targets: u64) -> u64 {
        let cost = self.get(t);
        if t.is_window() {
            let ops = targets.div_ceil(128);
            u64::from(cost.per_op)
                .saturating_mul(ops)
                .saturating_add(u64::from(cost.per_target).saturating_mul(targets))
        } else {
            cost.unicast().saturating_mul(targets)
        }
    }
}

/// How the planner may choose transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Cheapest modeled mix of the available transports.
    Auto,
    /// Always this one transport.
    Forced(Transport),
}

/// A complete configuration snapshot: what exists, what it costs, what is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// The guest's features.
    pub features: Features,
    /// The cost table.
    pub costs: Costs,
    /// Auto or forced.
    pub mode: Mode,
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
    fn names_roundtrip() {
        for t in Transport::ALL {
            assert_eq!(Transport::from_name(t.name()), Some(t));
        }
    }

    #[test]
    fn availability() {
        let f = Features::KVM_X2APIC;
        assert!(f.available(Transport::X2apicIcr));
        assert!(f.available(Transport::KvmHcSendIpi));
        assert!(!f.available(Transport::XapicIcr));
        assert!(!f.available(Transport::TdVmCall));
        assert!(!f.available(Transport::Posted));
        let td = Features { tdx: true, ..f };
        assert!(!td.available(Transport::X2apicIcr));
        assert!(td.available(Transport::TdVmCall));
        let x = Features {
            apic_mode: ApicMode::Xapic,
            ..f
        };
        assert!(x.available(Transport::XapicIcr));
        assert_eq!(x.exits_per_op(Transport::XapicIcr), 2);
        let ipiv = Features {
            host_accel: HostAccel::Ipiv,
            ..f
        };
        assert_eq!(ipiv.exits_per_op(Transport::X2apicIcr), 0);
        assert_eq!(f.exits_per_op(Transport::X2apicIcr), 1);
    }

    /// Every combination of the feature flags, with each host acceleration.
    fn all_features() -> impl Iterator<Item = Features> {
        (0u32..32).flat_map(|bits| {
            [HostAccel::None, HostAccel::Ipiv, HostAccel::Avic].map(move |host_accel| Features {
                apic_mode: if bits & 1 != 0 {
                    ApicMode::X2apic
                } else {
                    ApicMode::Xapic
                },
                pv_send_ipi: bits & 2 != 0,
                pv_sched_yield: bits & 4 != 0,
                tdx: bits & 8 != 0,
                host_accel,
                posted_ipi: bits & 16 != 0,
            })
        })
    }

    #[test]
    fn tdx_and_posted_need_their_features() {
        for f in all_features() {
            assert_eq!(f.available(Transport::TdVmCall), f.tdx, "{f:?}");
            if f.available(Transport::Posted) {
                assert!(f.posted_ipi && f.pv_send_ipi && !f.tdx, "{f:?}");
                assert_eq!(f.apic_mode, ApicMode::X2apic);
            }
            if f.tdx {
                assert!(!f.available(Transport::X2apicIcr));
                assert!(!f.available(Transport::XapicIcr));
                assert!(!f.available(Transport::Posted));
            }
        }
        let posted = Features {
            posted_ipi: true,
            ..Features::KVM_X2APIC
        };
        assert!(posted.available(Transport::Posted));
        assert!(!Features::KVM_X2APIC.available(Transport::Posted));
    }

    #[test]
    fn fallbacks() {
        for f in all_features() {
            for t in Transport::ALL {
                let to = f.fallback(t);
                assert!(matches!(
                    to,
                    None | Some(Transport::KvmHcSendIpi | Transport::X2apicIcr)
                ));
                match to {
                    // Posting falls back only to the hypercall, which exists.
                    Some(Transport::KvmHcSendIpi) => {
                        assert_eq!(t, Transport::Posted);
                        assert!(f.available(Transport::KvmHcSendIpi));
                    }
                    // The ICR write is a fallback in x2APIC mode, in a TD too.
                    Some(Transport::X2apicIcr) => {
                        assert_eq!(f.apic_mode, ApicMode::X2apic);
                        assert!(t != Transport::Posted || !f.pv_send_ipi);
                    }
                    None => assert_eq!(f.apic_mode, ApicMode::Xapic),
                    Some(_) => {}
                }
            }
        }
        let td = Features {
            tdx: true,
            ..Features::KVM_X2APIC
        };
        assert_eq!(td.fallback(Transport::TdVmCall), Some(Transport::X2apicIcr));
        assert_eq!(
            td.fallback(Transport::KvmHcSendIpi),
            Some(Transport::X2apicIcr)
        );
        let posted = Features {
            posted_ipi: true,
            ..Features::KVM_X2APIC
        };
        assert_eq!(
            posted.fallback(Transport::Posted),
            Some(Transport::KvmHcSendIpi)
        );
    }

    #[test]
    fn costs_get_set() {
        let mut c = Costs::SKYLAKE;
        for t in Transport::ALL {
            let new = Cost {
                per_op: 1,
                per_target: 2,
            };
            c.set(t, new);
            assert_eq!(c.get(t), new);
        }
        assert_eq!(Costs::SKYLAKE_FASTPATH.x2apic_icr.per_op, 3293);
        assert_eq!(Cost::default().op(5), 0);
        let big = Cost {
            per_op: u32::MAX,
            per_target: u32::MAX,
        };
        assert_eq!(big.op(u64::MAX), u64::MAX);
    }
}
