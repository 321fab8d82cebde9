// SPDX-License-Identifier: GPL-2.0

//! The planner: target APIC ids + features + costs -> the cheapest list of operations.
//!
//! # Model
//!
//! Every target is sent exactly once, either by the cheapest allowed unicast
//! transport (cost `u` per target) or inside a `KVM_HC_SEND_IPI` window (cost `F`
//! per window plus `h` per target; one window covers ids `[lo, lo + 127]`).
//!
//! # Algorithm
//!
//! Sort the ids (the caller's scratch, in place) and drop duplicates. If `u <= h`
//! a window never pays off and every target goes unicast; otherwise an optimal
//! plan uses windows that start at a target and cover contiguous runs of the sorted
//! ids, so with `d = u - h`:
//!
//! ```text
//! g[0] = 0
//! g[i + 1] = min(g[i] + d, g[j] + F)    j = first index with ids[i] - ids[j] <= 127
//! cost = g[n] + n * h
//! ```
//!
//! `j` only moves forward (two pointers), so the pass is O(n). The window start
//! `j` always lies within the last 128 prefixes (ids are distinct), so the `g`
//! values live in a 256-entry ring; only one choice bit per target is kept, and
//! the plan is rebuilt backwards from those bits. Fast paths: if all targets
//! fit in one window (always true for one target), the plan is a single
//! operation chosen in O(1); with one usable transport there is no search at all.
//!
//! # Buffers
//!
//! Nothing is allocated. The caller provides:
//! - `ids`: the target APIC ids; [`Policy::plan`] sorts and deduplicates them in
//!   place, and every [`Op`] refers to a range of that sorted prefix;
//! - `out`: room for the operations; a plan never has more operations than
//!   distinct targets, so `out.len() >= ids.len()` is always enough;
//! - `scratch`: [`scratch_words`]`(ids.len())` words (256 + one bit per target);
//!   only the mixed search touches it.

#![forbid(unsafe_code)]

use core::ops::Range;

use super::apic::ApicId;
use super::apic::Vector;
use super::kvm::KvmHcSendIpi;
use super::kvm::WindowError;
use super::kvm::KVM_IPI_CLUSTER_SIZE;
use super::profile::ApicMode;
use super::profile::Config;
use super::profile::Mode;
use super::profile::Transport;
use super::sort;

/// Largest `ids[last] - ids[first]` of one window (127).
pub const WINDOW_SPAN: u32 = KVM_IPI_CLUSTER_SIZE - 1;

/// Number of scratch words holding the ring of partial costs.
pub const RING: usize = 256;

/// Returns the scratch length [`Policy::plan`] needs for `targets` ids.
///
/// ```
/// assert_eq!(ipi_core::plan::scratch_words(8192), 256 + 128);
/// ```
pub const fn scratch_words(targets: usize) -> usize {
    RING.saturating_add(targets.div_ceil(64))
}

/// One operation of a plan; `start` and `count` index the sorted target ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Send to each of `ids[start..start + count]` with a unicast transport.
    Unicast {
        /// The unicast transport (ICR write, `TDVMCALL` or posted write).
        transport: Transport,
        /// Index of the first target.
        start: u32,
        /// Number of targets.
        count: u32,
    },
    /// One `KVM_HC_SEND_IPI` for `ids[start..start + count]`, with `a2 = ids[start]`.
    Window {
        /// Index of the first (lowest) target.
        start: u32,
        /// Number of targets, all within 127 of the first.
        count: u32,
    },
}

impl Default for Op {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Op {
    /// An empty operation, for initializing output buffers.
    pub const EMPTY: Self = Self::Window { start: 0, count: 0 };

    /// Returns the index range of the targets this operation covers.
    pub fn range(&self) -> Range<usize> {
        let (Self::Unicast { start, count, .. } | Self::Window { start, count }) = *self;
        let s = usize::try_from(start).unwrap_or(usize::MAX);
        let e = usize::try_from(start.saturating_add(count)).unwrap_or(usize::MAX);
        s..e
    }

    /// Returns the targets this operation covers, given the sorted ids the plan was made for.
    pub fn targets<'a>(&self, ids: &'a [ApicId]) -> &'a [ApicId] {
        ids.get(self.range()).unwrap_or(&[])
    }

    /// Returns the transport of this operation.
    pub fn transport(&self) -> Transport {
        match *self {
            Self::Unicast { transport, .. } => transport,
            Self::Window { .. } => Transport::KvmHcSendIpi,
        }
    }

    /// Builds the hypercall arguments of a window operation.
    pub fn hypercall(&self, ids: &[ApicId], vector: Vector) -> Result<KvmHcSendIpi, WindowError> {
        match self {
            Self::Window { .. } => KvmHcSendIpi::from_sorted(self.targets(ids), vector),
            Self::Unicast { .. } => Err(WindowError::Empty),
        }
    }
}

/// The summary of a plan written to the caller's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Plan {
    /// Number of distinct targets: the plan refers to `ids[..targets]`.
    pub targets: usize,
    /// Number of operations written to `out[..ops]`.
    pub ops: usize,
    /// Modeled cost.
    pub cost: u64,
    /// Modeled VM exits.
    pub exits: u64,
    /// Number of hypercalls.
    pub hypercalls: u64,
}

/// The error returned when a configuration cannot send IPIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// No transport is available in auto mode.
    NoTransport,
    /// The forced transport is not available in this guest.
    Unavailable(Transport),
}

/// The error returned when a plan cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// `out` has no room for the next operation; `out.len() >= ids.len()` always suffices.
    OutTooSmall,
    /// `scratch` is shorter than [`scratch_words`].
    ScratchTooSmall,
    /// [`Policy::plan_sorted`] got ids that are not strictly increasing.
    NotSorted,
    /// More than `u32::MAX` targets.
    TooManyTargets,
}

/// The planning parameters derived once from a [`Config`], read on every IPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The unicast transport, if any may be used.
    unicast: Option<Transport>,
    /// Cost of one unicast target.
    u: u64,
    /// Exits of one unicast target.
    u_exits: u64,
    /// Whether hypercall windows may be used.
    windows: bool,
    /// Cost of one window.
    f: u64,
    /// Cost of one target inside a window.
    h: u64,
}

impl Policy {
    /// Derives the planning parameters from a configuration.
    ///
    /// In auto mode the unicast transport is the cheapest available one (ties go
    /// to the earlier entry of [`Transport::ALL`]); in xAPIC mode with
    /// `PV_SEND_IPI` the xAPIC ICR is never used (two exits against one).
    pub fn new(config: &Config) -> Result<Self, PolicyError> {
        let f = &config.features;
        let costs = &config.costs;
        let (unicast, windows) = match config.mode {
            Mode::Forced(t) if !f.available(t) => return Err(PolicyError::Unavailable(t)),
            Mode::Forced(t) if t.is_window() => (None, true),
            Mode::Forced(t) => (Some(t), false),
            Mode::Auto => {
                let xapic_pv = matches!(f.apic_mode, ApicMode::Xapic) && f.pv_send_ipi;
                let mut best: Option<Transport> = None;
                for t in Transport::ALL {
                    let allowed =
                        !t.is_window() && f.available(t) && !(xapic_pv && t == Transport::XapicIcr);
                    let cheaper = match best {
                        None => true,
                        Some(b) => costs.get(t).unicast() < costs.get(b).unicast(),
                    };
                    if allowed && cheaper {
                        best = Some(t);
                    }
                }
                if best.is_none() && !f.pv_send_ipi {
                    return Err(PolicyError::NoTransport);
                }
                (best, f.pv_send_ipi)
            }
        };
        let (u, u_exits) = match unicast {
            Some(t) => (costs.get(t).unicast(), u64::from(f.exits_per_op(t))),
            None => (u64::MAX, 0),
        };
        let hc = costs.kvm_hc;
        Ok(Self {
            unicast,
            u,
            u_exits,
            windows,
            f: u64::from(hc.per_op),
            h: u64::from(hc.per_target),
        })
    }

    /// Returns the unicast transport this policy uses, if any.
    pub fn unicast(&self) -> Option<Transport> {
        self.unicast
    }

    /// Tells whether this policy may use hypercall windows.
    pub fn uses_windows(&self) -> bool {
        self.windows
    }

    /// Plans an IPI to `ids` (any order, duplicates allowed), sorting them in place.
    ///
    /// On success the plan covers `ids[..plan.targets]` (sorted, distinct) with
    /// `out[..plan.ops]`. Already sorted input is detected in one pass.
    ///
    /// ```
    /// use ipi_core::apic::ApicId;
    /// use ipi_core::plan::{scratch_words, Op, Policy};
    /// use ipi_core::profile::{Config, Costs, Features, Mode};
    ///
    /// let policy = Policy::new(&Config {
    ///     features: Features::KVM_X2APIC,
    ///     costs: Costs::SKYLAKE,
    ///     mode: Mode::Auto,
    /// })
    /// .unwrap();
    /// let mut ids = [ApicId(300), ApicId(2), ApicId(1), ApicId(0), ApicId(130)];
    /// let mut out = [Op::EMPTY; 5];
    /// let mut scratch = [0u64; scratch_words(5)];
    /// let plan = policy.plan(&mut ids, &mut out, &mut scratch).unwrap();
    /// assert_eq!(&ids, &[ApicId(0), ApicId(1), ApicId(2), ApicId(130), ApicId(300)]);
    /// // One hypercall for 0..=130, one ICR write each for 300.
    /// assert_eq!(plan.ops, 2);
    /// assert_eq!(plan.hypercalls, 1);
    /// ```
    pub fn plan(
        &self,
        ids: &mut [ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let n = if sort::is_strictly_increasing(ids) {
            ids.len()
        } else {
            sort::sort(ids);
            sort::dedup_sorted(ids)
        };
        self.plan_unique(ids.get(..n).unwrap_or(&[]), out, scratch)
    }

    /// Plans an IPI to `ids`, which must be strictly increasing.
    pub fn plan_sorted(
        &self,
        ids: &[ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        if !sort::is_strictly_increasing(ids) {
            return Err(PlanError::NotSorted);
        }
        self.plan_unique(ids, out, scratch)
    }

    /// Plans for strictly increasing ids.
    fn plan_unique(
        &self,
        ids: &[ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let n = ids.len();
        let count = u32::try_from(n).map_err(|_| PlanError::TooManyTargets)?;
        let n64 = u64::from(count);
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(Plan::default());
        };
        let unicast = match self.unicast {
            Some(t) if !self.windows || self.u <= self.h => t,
            None => return self.plan_windows(ids, out),
            Some(t) => {
                if last.0.wrapping_sub(first.0) > WINDOW_SPAN {
                    return self.plan_mixed(ids, t, out, scratch);
                }
                // One window holds everything: all of it in one hypercall, or all unicast.
                let all_unicast = self.u.saturating_mul(n64);
                let window = self.f.saturating_add(self.h.saturating_mul(n64));
                if window < all_unicast {
                    return self.plan_windows(ids, out);
                }
                t
            }
        };
        let slot = out.first_mut().ok_or(PlanError::OutTooSmall)?;
        *slot = Op::Unicast {
            transport: unicast,
            start: 0,
            count,
        };
        Ok(Plan {
            targets: n,
            ops: 1,
            cost: self.u.saturating_mul(n64),
            exits: self.u_exits.saturating_mul(n64),
            hypercalls: 0,
        })
    }

    /// Covers strictly increasing ids with the fewest windows (greedy, optimal on a line).
    fn plan_windows(&self, ids: &[ApicId], out: &mut [Op]) -> Result<Plan, PlanError> {
        let mut slots = out.iter_mut();
        let mut ops: usize = 0;
        let mut start: u32 = 0;
        let mut lo = ids.first().map_or(0, |id| id.0);
        let mut push = |start: u32, end: u32| -> Result<(), PlanError> {
            let slot = slots.next().ok_or(PlanError::OutTooSmall)?;
            *slot = Op::Window {
                start,
                count: end.wrapping_sub(start),
            };
            ops = ops.wrapping_add(1);
            Ok(())
        };
        let mut end: u32 = 0;
        for id in ids {
            if id.0.wrapping_sub(lo) > WINDOW_SPAN {
                push(start, end)?;
                start = end;
                lo = id.0;
            }
            end = end.wrapping_add(1);
        }
        if end > start {
            push(start, end)?;
        }
        let n64 = u64::from(end);
        let windows = u64::try_from(ops).unwrap_or(u64::MAX);
        Ok(Plan {
            targets: ids.len(),
            ops,
            cost: self
                .f
                .saturating_mul(windows)
                .saturating_add(self.h.saturating_mul(n64)),
            exits: windows,
            hypercalls: windows,
        })
    }

    /// Finds the cheapest mix of `unicast` targets and windows (the O(n) program above).
    fn plan_mixed(
        &self,
        ids: &[ApicId],
        unicast: Transport,
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let n = ids.len();
        let (ring, bits) = scratch
            .split_first_chunk_mut::<RING>()
            .ok_or(PlanError::ScratchTooSmall)?;
        if bits.len() < n.div_ceil(64) {
            return Err(PlanError::ScratchTooSmall);
        }
        // Only called with u > h (else all unicast is optimal), so d > 0.
        let d = self.u.saturating_sub(self.h);
        let f = self.f;

        // Forward pass. `g` is g[i]; ring[k % RING] holds g[k] for the last RING prefixes.
        // INVARIANT: ids are distinct and increasing, so i - j <= 127 < RING - 1 and
        // g[j] is still in the ring when it is read.
        let mut g: u64 = 0;
        if let Some(r0) = ring.first_mut() {
            *r0 = 0;
        }
        let mut j: usize = 0;
        let mut lo = ids.first().map_or(0, |id| id.0);
        let mut word: u64 = 0;
        let mut words = bits.iter_mut();
        for (i, id) in ids.iter().enumerate() {
            while id.0.wrapping_sub(lo) > WINDOW_SPAN {
                j = j.wrapping_add(1);
                lo = ids.get(j).map_or(id.0, |x| x.0);
            }
            let via_unicast = g.saturating_add(d);
            let via_window = ring
                .get(j % RING)
                .map_or(u64::MAX, |gj| gj.saturating_add(f));
            let window = via_window < via_unicast;
            g = if window { via_window } else { via_unicast };
            if let Some(slot) = ring.get_mut(i.wrapping_add(1) % RING) {
                *slot = g;
            }
            word |= u64::from(window) << (i % 64);
            if i % 64 == 63 {
                if let Some(w) = words.next() {
                    *w = word;
                }
                word = 0;
            }
        }
        if n % 64 != 0 {
            if let Some(w) = words.next() {
                *w = word;
            }
        }

        // Backward pass: rebuild the operations from the choice bits.
        let bits = &*bits;
        let mut k: usize = 0;
        let mut end = n;
        let mut windows: u64 = 0;
        let mut unicast_targets: u64 = 0;
        while let Some(last) = end.checked_sub(1) {
            let start = if bit(bits, last) {
                let top = ids.get(last).map_or(0, |id| id.0);
                let base = last.saturating_sub(WINDOW_SPAN as usize);
                let below = ids.get(base..last).map_or(0, |s| {
                    s.partition_point(|x| top.wrapping_sub(x.0) > WINDOW_SPAN)
                });
                windows = windows.saturating_add(1);
                base.saturating_add(below)
            } else {
                let start = prev_set_bit(bits, last).map_or(0, |e| e.saturating_add(1));
                unicast_targets = unicast_targets
                    .saturating_add(u64::try_from(end.saturating_sub(start)).unwrap_or(0));
                start
            };
            let op = op_for(bit(bits, last), unicast, start, end);
            let slot = out.get_mut(k).ok_or(PlanError::OutTooSmall)?;
            *slot = op;
            k = k.saturating_add(1);
            end = start;
        }
        if let Some(done) = out.get_mut(..k) {
            done.reverse();
        }
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        Ok(Plan {
            targets: n,
            ops: k,
            cost: g.saturating_add(self.h.saturating_mul(n64)),
            exits: windows.saturating_add(unicast_targets.saturating_mul(self.u_exits)),
            hypercalls: windows,
        })
    }
}

/// The totals of a list of operations, as [`Policy::tally`] recomputes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Tally {
    /// Modeled cost.
    pub cost: u64,
    /// Modeled VM exits.
    pub exits: u64,
    /// Number of hypercalls.
    pub hypercalls: u64,
}

/// Why a list of operations is not a valid plan for a target list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// Operation `k` does not start where the previous one ended, is empty or runs past the end.
    Gap(usize),
    /// Operation `k` is a window wider than 128 ids.
    TooWide(usize),
    /// Operation `k` uses a transport this policy does not allow.
    Disallowed(usize),
    /// The operations end before the last target.
    Short,
}

impl Policy {
    /// Checks that `ops` send to every one of the sorted, distinct `ids` exactly once,
    /// with allowed transports and windows of at most 128 ids, and returns their totals.
    ///
    /// The planner's own output always passes; tests and fuzzers use this to cost
    /// any candidate plan with the same model.
    pub fn tally(&self, ids: &[ApicId], ops: &[Op]) -> Result<Tally, CheckError> {
        let mut next: usize = 0;
        let mut t = Tally::default();
        for (k, op) in ops.iter().enumerate() {
            let r = op.range();
            let members = match ids.get(r.clone()) {
                Some(m) if r.start == next && !m.is_empty() => m,
                _ => return Err(CheckError::Gap(k)),
            };
            let n = u64::try_from(members.len()).unwrap_or(u64::MAX);
            match *op {
                Op::Unicast { transport, .. } => {
                    if self.unicast != Some(transport) {
                        return Err(CheckError::Disallowed(k));
                    }
                    t.cost = t.cost.saturating_add(self.u.saturating_mul(n));
                    t.exits = t.exits.saturating_add(self.u_exits.saturating_mul(n));
                }
                Op::Window { .. } => {
                    if !self.windows {
                        return Err(CheckError::Disallowed(k));
                    }
                    let (Some(lo), Some(hi)) = (members.first(), members.last()) else {
                        return Err(CheckError::Gap(k));
                    };
                    if hi.0.wrapping_sub(lo.0) > WINDOW_SPAN || hi.0 < lo.0 {
                        return Err(CheckError::TooWide(k));
                    }
                    let c = self.f.saturating_add(self.h.saturating_mul(n));
                    t.cost = t.cost.saturating_add(c);
                    t.exits = t.exits.saturating_add(1);
                    t.hypercalls = t.hypercalls.saturating_add(1);
                }
            }
            next = r.end;
        }
        if next == ids.len() {
            Ok(t)
        } else {
            Err(CheckError::Short)
        }
    }

    /// Returns the cost of one unicast target and of a window (`per window`, `per target`).
    pub fn unit_costs(&self) -> (u64, u64, u64) {
        (self.u, self.f, self.h)
    }
}

/// Builds the operation covering `start..end`.
fn op_for(window: bool, unicast: Transport, start: usize, end: usize) -> Op {
    // Both fit: the caller checked that the target count fits in u32.
    let s = u32::try_from(start).unwrap_or(u32::MAX);
    let count = u32::try_from(end.saturating_sub(start)).unwrap_or(0);
    if window {
        Op::Window { start: s, count }
    } else {
        Op::Unicast {
            transport: unicast,
            start: s,
            count,
        }
    }
}

/// Returns bit `i` of a bitmap stored in words.
fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 != 0)
}

/// Returns the highest set bit index below `i`, if any.
fn prev_set_bit(bits: &[u64], i: usize) -> Option<usize> {
    let mut w = i / 64;
    // Bits of word `w` strictly below position i % 64.
    let below = (1u64 << (i % 64)).wrapping_sub(1);
    let mut word = bits.get(w).map_or(0, |x| x & below);
    loop {
        if word != 0 {
            let top = 63usize.wrapping_sub(word.leading_zeros() as usize);
            return Some(w.wrapping_mul(64).wrapping_add(top));
        }
        w = w.checked_sub(1)?;
        word = bits.get(w).copied().unwrap_or(0);
    }
}
