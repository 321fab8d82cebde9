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

/// Most targets one plan may have (2^31), which keeps every partial cost below 2^63.
pub const MAX_TARGETS: usize = 1 << 31;

/// Per-target and per-window costs are capped here inside the search.
const COST_MAX: u64 = u32::MAX as u64;

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
    /// More than [`MAX_TARGETS`] targets.
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
    /// The plan for a single target.
    one: (Op, Plan),
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
        let mut policy = Self {
            unicast,
            u,
            u_exits,
            windows,
            f: u64::from(hc.per_op),
            h: u64::from(hc.per_target),
            one: (Op::EMPTY, Plan::default()),
        };
        let window = match unicast {
            None => true,
            Some(_) => windows && policy.f.saturating_add(policy.h) < u,
        };
        let op = match unicast {
            Some(transport) if !window => Op::Unicast {
                transport,
                start: 0,
                count: 1,
            },
            _ => Op::Window { start: 0, count: 1 },
        };
        policy.one = (op, policy.summary(1, 1, u64::from(window)));
        Ok(policy)
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
    /// `out[..plan.ops]`. Sorted input costs nothing extra: the planning pass
    /// itself notices unsorted or repeated ids, and only then are they sorted
    /// (insertion sort when short, heapsort otherwise) and planned again.
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
    /// // One hypercall for 0..=2; 130 and 300 have no other target within 127,
    /// // and alone an ICR write is no dearer than a hypercall.
    /// assert_eq!(plan.ops, 3);
    /// assert_eq!(plan.hypercalls, 1);
    /// ```
    #[inline]
    pub fn plan(
        &self,
        ids: &mut [ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        if ids.len() == 1 {
            return self.plan_one(out);
        }
        match self.plan_sorted(ids, out, scratch) {
            Err(PlanError::NotSorted) => {
                sort::sort(ids);
                let n = sort::dedup_sorted(ids);
                self.plan_sorted(ids.get(..n).unwrap_or(&[]), out, scratch)
            }
            r => r,
        }
    }

    /// Plans an IPI to `ids`, which must be strictly increasing ([`PlanError::NotSorted`] otherwise).
    pub fn plan_sorted(
        &self,
        ids: &[ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let n = ids.len();
        if n > MAX_TARGETS {
            return Err(PlanError::TooManyTargets);
        }
        // Fits: n <= MAX_TARGETS < u32::MAX.
        let count = u32::try_from(n).unwrap_or(u32::MAX);
        let Some(unicast) = self.unicast else {
            return self.plan_windows(ids, out);
        };
        if n == 1 {
            return self.plan_one(out);
        }
        let slot = out.first_mut().ok_or(PlanError::OutTooSmall);
        if !self.windows || self.u <= self.h {
            // A window never beats sending its members one by one.
            if !sort::is_strictly_increasing(ids) {
                return Err(PlanError::NotSorted);
            }
            if n == 0 {
                return Ok(Plan::default());
            }
            *slot? = Op::Unicast {
                transport: unicast,
                start: 0,
                count,
            };
            return Ok(self.summary(n, 1, 0));
        }
        if self.f <= self.u.wrapping_sub(self.h) {
            // A window costs no more than sending any one of its members alone
            // (F <= u - h), so covering everything with the fewest windows is optimal.
            return self.plan_windows(ids, out);
        }
        if n <= KVM_IPI_CLUSTER_SIZE as usize {
            // Fast path: everything fits one window, then it is all or nothing.
            if !sort::is_strictly_increasing(ids) {
                return Err(PlanError::NotSorted);
            }
            if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
                if last.0.wrapping_sub(first.0) <= WINDOW_SPAN {
                    let n64 = u64::from(count);
                    let window = self.f.saturating_add(self.h.saturating_mul(n64))
                        < self.u.saturating_mul(n64);
                    *slot? = if window {
                        Op::Window { start: 0, count }
                    } else {
                        Op::Unicast {
                            transport: unicast,
                            start: 0,
                            count,
                        }
                    };
                    return Ok(self.summary(n, 1, u64::from(window)));
                }
            }
        }
        self.plan_mixed(ids, unicast, out, scratch)
    }

    /// Plans for exactly one target: O(1), the choice was made in [`Policy::new`].
    #[inline]
    pub fn plan_one(&self, out: &mut [Op]) -> Result<Plan, PlanError> {
        *out.first_mut().ok_or(PlanError::OutTooSmall)? = self.one.0;
        Ok(self.one.1)
    }

    /// Returns the summary of a one-operation plan: one window holding every
    /// target, or every target unicast.
    fn summary(&self, targets: usize, ops: usize, windows: u64) -> Plan {
        let n = u64::try_from(targets).unwrap_or(u64::MAX);
        let (unicast, in_windows) = if windows == 0 { (n, 0) } else { (0, n) };
        Plan {
            targets,
            ops,
            cost: self
                .u
                .saturating_mul(unicast)
                .saturating_add(self.f.saturating_mul(windows))
                .saturating_add(self.h.saturating_mul(in_windows)),
            exits: self.u_exits.saturating_mul(unicast).saturating_add(windows),
            hypercalls: windows,
        }
    }

    /// Covers strictly increasing ids with the fewest windows (greedy, optimal on a line).
    ///
    /// A window left with a single target becomes a unicast write when that is no
    /// dearer. Unsorted or repeated ids end the pass with [`PlanError::NotSorted`].
    fn plan_windows(&self, ids: &[ApicId], out: &mut [Op]) -> Result<Plan, PlanError> {
        let lone_unicast = match self.unicast {
            Some(t) if self.u <= self.f.saturating_add(self.h) => Some(t),
            _ => None,
        };
        let mut slots = out.iter_mut();
        let mut ops: usize = 0;
        let mut windows: u64 = 0;
        let mut singles: u64 = 0;
        let mut push = |start: u32, end: u32| -> Result<(), PlanError> {
            let count = end.wrapping_sub(start);
            let op = match lone_unicast {
                Some(transport) if count == 1 => {
                    singles = singles.wrapping_add(1);
                    Op::Unicast {
                        transport,
                        start,
                        count,
                    }
                }
                _ => {
                    windows = windows.wrapping_add(1);
                    Op::Window { start, count }
                }
            };
            *slots.next().ok_or(PlanError::OutTooSmall)? = op;
            ops = ops.wrapping_add(1);
            Ok(())
        };
        let mut start: u32 = 0;
        let mut end: u32 = 0;
        let mut lo = ids.first().map_or(0, |id| id.0);
        let mut prev: Option<u32> = None;
        for id in ids {
            if prev.is_some_and(|p| id.0 <= p) {
                return Err(PlanError::NotSorted);
            }
            prev = Some(id.0);
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
        let n = u64::from(end);
        let in_windows = n.saturating_sub(singles);
        Ok(Plan {
            targets: ids.len(),
            ops,
            cost: self
                .f
                .saturating_mul(windows)
                .saturating_add(self.h.saturating_mul(in_windows))
                .saturating_add(self.u.saturating_mul(singles)),
            exits: windows.saturating_add(self.u_exits.saturating_mul(singles)),
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
        // Only called with u > h, so d > 0. Both d and f are below 2^32 and
        // n <= MAX_TARGETS = 2^31, so g[i] <= i * max(d, f) < 2^63 and g + f
        // cannot overflow: plain wrapping adds are exact here.
        let d = self.u.wrapping_sub(self.h).min(COST_MAX);
        let f = self.f.min(COST_MAX);

        // Forward pass. `g` is g[i]; ring[k % RING] holds g[k] for the last RING prefixes.
        // INVARIANT: ids are distinct and increasing (checked on the fly), so
        // i - j <= 127 < RING - 1 and g[j] is still in the ring when it is read.
        // Choice bits are gathered 64 targets at a time, first target in bit 0.
        let mut g: u64 = 0;
        ring[0] = 0;
        let mut j: usize = 0;
        let mut lo = ids.first().map_or(0, |id| id.0);
        // The smallest id the next target may have (u64: u32::MAX + 1 must not wrap).
        let mut next_min = u64::from(lo);
        let mut i: usize = 0;
        // Index arithmetic rather than `chunks()`: its division by the chunk
        // size carries a panic path the kernel's objtool cannot follow.
        let mut base: usize = 0;
        for slot in bits.iter_mut() {
            let chunk = ids.get(base..base.saturating_add(64).min(n)).unwrap_or(&[]);
            if chunk.is_empty() {
                break;
            }
            base = base.saturating_add(chunk.len());
            let mut word: u64 = 0;
            for id in chunk {
                let id = id.0;
                if u64::from(id) < next_min {
                    return Err(PlanError::NotSorted);
                }
                next_min = u64::from(id).wrapping_add(1);
                while id.wrapping_sub(lo) > WINDOW_SPAN {
                    j = j.wrapping_add(1);
                    lo = ids.get(j).map_or(id, |x| x.0);
                }
                let via_unicast = g.wrapping_add(d);
                let via_window = ring.get(j % RING).map_or(u64::MAX, |gj| gj.wrapping_add(f));
                let window = via_window < via_unicast;
                g = if window { via_window } else { via_unicast };
                i = i.wrapping_add(1);
                if let Some(r) = ring.get_mut(i % RING) {
                    *r = g;
                }
                word = (word >> 1) | (u64::from(window) << 63);
            }
            // Fewer than 64 targets in the last chunk: move bit 0 back to the bottom.
            let len = u32::try_from(chunk.len()).unwrap_or(64);
            *slot = word.checked_shr(64u32.saturating_sub(len)).unwrap_or(0);
        }

        // Backward pass: rebuild the operations from the choice bits.
        let bits = &*bits;
        let mut k: usize = 0;
        let mut end = n;
        let mut windows: u64 = 0;
        let mut unicast_targets: u64 = 0;
        while let Some(last) = end.checked_sub(1) {
            let is_window = bit(bits, last);
            let start = if is_window {
                let top = ids.get(last).map_or(0, |id| id.0);
                let base = last.saturating_sub(WINDOW_SPAN as usize);
                let below = ids.get(base..last).map_or(0, |s| {
                    s.partition_point(|x| top.wrapping_sub(x.0) > WINDOW_SPAN)
                });
                windows = windows.wrapping_add(1);
                base.wrapping_add(below)
            } else {
                let start = prev_set_bit(bits, last).map_or(0, |e| e.wrapping_add(1));
                unicast_targets = unicast_targets
                    .wrapping_add(u64::try_from(end.wrapping_sub(start)).unwrap_or(0));
                start
            };
            *out.get_mut(k).ok_or(PlanError::OutTooSmall)? = op_for(is_window, unicast, start, end);
            k = k.wrapping_add(1);
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
