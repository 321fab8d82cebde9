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
//! The ids must be strictly increasing; every pass checks that as it goes and
//! [`Policy::plan`] sorts (and deduplicates) only when a pass fails. Which pass
//! runs is decided once, in [`Policy::new`], from `d = u - h` (what a target
//! saves inside a window):
//!
//! - `d <= 0`, no windows allowed, or `F >= 128 * d` (not even a full window
//!   pays): every target unicast, one operation.
//! - `F <= d` (a window never costs more than one unicast write), or no unicast
//!   transport: the fewest windows, cut greedily; a window left with one target
//!   becomes a unicast write when that is no dearer.
//! - otherwise the mixed search below.
//!
//! Before either search, targets that all fit one window (always true for one
//! target) get one operation, all-window or all-unicast, in O(1) plus the order
//! check.
//!
//! The mixed search sweeps the targets once, left to right, keeping only the
//! partial plans that can still win (costs relative to `n * h`):
//!
//! - `N`: no window is open, so the next target must pay `d` or open a window (`F`);
//! - open windows `(s, c)`: started at target `s` at cost `c`; every target up
//!   to `ids[s] + 127` joins them for free.
//!
//! A window is never closed early (its next targets cost nothing), and `N` is
//! dropped as soon as an open window costs no more: ending that window where
//! `N` stands gives the same cover at no higher cost. So `N` lives only while
//! it is cheaper than every open window; each window it opens costs `N + F`,
//! and `N` never gets cheaper, so the open windows form a queue sorted by start
//! and by cost alike: the front is the cheapest and ends first, and when it
//! ends it is the only candidate for the new `N`. A target costs work only when
//! the front ends before it or `N` is alive; everywhere else the scan checks the
//! order of eight ids at a time and compares the last with the front's end.
//! Each target enters and leaves the queue at most once, so the sweep is O(n).
//!
//! The plan is rebuilt backwards from two bits per target: whether `N` at that
//! target came from an expiring window (else from a unicast target), and
//! whether the window starting there was the one chosen when it expired.
//!
//! # Buffers
//!
//! Nothing is allocated. The caller provides:
//! - `ids`: the target APIC ids; [`Policy::plan`] sorts and deduplicates them in
//!   place, and every [`Op`] refers to a range of that sorted prefix;
//! - `out`: room for the operations; a plan never has more operations than
//!   distinct targets, so `out.len() >= ids.len()` is always enough;
//! - `scratch`: [`scratch_words`]`(ids.len())` words (a 256-word queue and two
//!   bits per target); only the mixed search and the sort of unsorted ids use it.

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

/// Number of scratch words holding the queue of open windows (128 entries of two words).
pub const RING: usize = 2 * QUEUE;

/// Most open windows the mixed search can hold: their starts are distinct ids within 127.
const QUEUE: usize = KVM_IPI_CLUSTER_SIZE as usize;

/// Most targets one plan may have (2^31), which keeps every partial cost below 2^63.
pub const MAX_TARGETS: usize = 1 << 31;

/// Returns the scratch length [`Policy::plan`] needs for `targets` ids.
///
/// ```
/// assert_eq!(ipi_core::plan::scratch_words(8192), 256 + 2 * 128);
/// ```
pub const fn scratch_words(targets: usize) -> usize {
    RING.saturating_add(targets.div_ceil(64).saturating_mul(2))
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
    /// How targets that do not fit one window are covered.
    strategy: Strategy,
    /// Fewest targets for which one window is strictly cheaper than sending
    /// each alone (`usize::MAX`: never; 0 without a unicast transport).
    window_from: usize,
    /// The plan for a single target.
    one: (Op, Plan),
}

/// How [`Policy::plan_sorted`] covers targets that do not fit one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Strategy {
    /// Every target by this transport: windows are not allowed or never pay.
    Unicast(Transport),
    /// The fewest windows; a lone target goes by this transport, if any, when no dearer.
    Windows(Option<Transport>),
    /// The search over mixes of this transport and windows.
    Mixed(Transport),
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
            strategy: Strategy::Windows(None),
            window_from: 0,
            one: (Op::EMPTY, Plan::default()),
        };
        // F + h * n < u * n  <=>  n > F / (u - h).
        policy.window_from = match unicast {
            None => 0,
            Some(_) if !windows || u <= policy.h => usize::MAX,
            Some(_) => {
                // u > h here, so the division is defined.
                let fewest = policy
                    .f
                    .checked_div(u.wrapping_sub(policy.h))
                    .unwrap_or(u64::MAX);
                let fewest = fewest.saturating_add(1);
                usize::try_from(fewest).unwrap_or(usize::MAX)
            }
        };
        policy.strategy = match unicast {
            None => Strategy::Windows(None),
            Some(t) if !windows || u <= policy.h => Strategy::Unicast(t),
            Some(t) => {
                let d = u.wrapping_sub(policy.h);
                if policy.f <= d {
                    let lone = u <= policy.f.saturating_add(policy.h);
                    Strategy::Windows(lone.then_some(t))
                } else if policy.f >= d.saturating_mul(u64::from(KVM_IPI_CLUSTER_SIZE)) {
                    // A window of at most 128 targets saves at most 128 * d.
                    Strategy::Unicast(t)
                } else {
                    Strategy::Mixed(t)
                }
            }
        };
        let window = policy.window_from <= 1;
        let op = match unicast {
            Some(transport) if !window => Op::Unicast {
                transport,
                start: 0,
                count: 1,
            },
            _ => Op::Window { start: 0, count: 1 },
        };
        policy.one = (op, policy.summary(1, 1, window));
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
    /// and planned again. The sort marks the ids in a bitmap in `scratch` when
    /// their range fits (O(n + range / 64), duplicates dropped on the way), and
    /// falls back to insertion sort or heapsort otherwise.
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
            Err(PlanError::NotSorted) => self.plan_unsorted(ids, out, scratch),
            r => r,
        }
    }

    /// Sorts and deduplicates `ids` in place, then plans them.
    #[inline(never)]
    fn plan_unsorted(
        &self,
        ids: &mut [ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let n = sort_ids(ids, scratch);
        self.plan_sorted(ids.get(..n).unwrap_or(&[]), out, scratch)
    }

    /// Plans an IPI to `ids`, which must be strictly increasing ([`PlanError::NotSorted`] otherwise).
    ///
    /// The O(1) cases (plus the order check) are inlined into the caller; the
    /// searches are not.
    #[inline]
    pub fn plan_sorted(
        &self,
        ids: &[ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(Plan::default());
        };
        // Unsorted ids may pass this test; the order check catches them.
        let one_window = last.0.wrapping_sub(first.0) <= WINDOW_SPAN;
        if one_window || matches!(self.strategy, Strategy::Unicast(_)) {
            // Everything in one window is all or nothing.
            self.plan_single(ids, out, one_window && ids.len() >= self.window_from)
        } else {
            self.plan_search(ids, out, scratch)
        }
    }

    /// Plans strictly increasing `ids` as one operation: one window, or every target unicast.
    #[inline]
    fn plan_single(&self, ids: &[ApicId], out: &mut [Op], window: bool) -> Result<Plan, PlanError> {
        let n = ids.len();
        if n > MAX_TARGETS {
            return Err(PlanError::TooManyTargets);
        }
        check_sorted(ids)?;
        // Fits: n <= MAX_TARGETS < u32::MAX.
        let count = u32::try_from(n).unwrap_or(u32::MAX);
        *out.first_mut().ok_or(PlanError::OutTooSmall)? = match self.unicast {
            Some(transport) if !window => Op::Unicast {
                transport,
                start: 0,
                count,
            },
            _ => Op::Window { start: 0, count },
        };
        Ok(self.summary(n, 1, window))
    }

    /// Runs the search of this policy over strictly increasing ids that do not fit one window.
    #[inline(never)]
    fn plan_search(
        &self,
        ids: &[ApicId],
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        if ids.len() > MAX_TARGETS {
            return Err(PlanError::TooManyTargets);
        }
        match self.strategy {
            Strategy::Mixed(unicast) => self.plan_mixed(ids, unicast, out, scratch),
            Strategy::Windows(lone) => self.plan_windows(ids, lone, out),
            Strategy::Unicast(_) => self.plan_single(ids, out, false),
        }
    }

    /// Plans for exactly one target: O(1), the choice was made in [`Policy::new`].
    #[inline]
    pub fn plan_one(&self, out: &mut [Op]) -> Result<Plan, PlanError> {
        *out.first_mut().ok_or(PlanError::OutTooSmall)? = self.one.0;
        Ok(self.one.1)
    }

    /// Returns the summary of a one-operation plan: one window holding every
    /// target, or every target unicast.
    fn summary(&self, targets: usize, ops: usize, window: bool) -> Plan {
        let n = u64::try_from(targets).unwrap_or(u64::MAX);
        if window {
            Plan {
                targets,
                ops,
                cost: self.f.saturating_add(self.h.saturating_mul(n)),
                exits: 1,
                hypercalls: 1,
            }
        } else {
            Plan {
                targets,
                ops,
                cost: self.u.saturating_mul(n),
                exits: self.u_exits.saturating_mul(n),
                hypercalls: 0,
            }
        }
    }

    /// Covers strictly increasing ids with the fewest windows (greedy, optimal on a line).
    ///
    /// A window left with a single target becomes a `lone` unicast write, if
    /// given. Unsorted or repeated ids end the pass with [`PlanError::NotSorted`].
    fn plan_windows(
        &self,
        ids: &[ApicId],
        lone: Option<Transport>,
        out: &mut [Op],
    ) -> Result<Plan, PlanError> {
        let n = ids.len();
        let mut slots = out.iter_mut();
        let mut windows: u64 = 0;
        let mut singles: u64 = 0;
        let mut rest = ids;
        let mut next_min: u64 = 0;
        let mut start: usize = 0;
        let mut limit: u64 = 0;
        let mut first = true;
        loop {
            let next = skip_below(&mut rest, &mut next_min, limit)?;
            // Index of `next`, or n at the end.
            let end = n
                .wrapping_sub(rest.len())
                .wrapping_sub(usize::from(next.is_some()));
            if !first {
                let op = match lone {
                    Some(transport) if end.wrapping_sub(start) == 1 => {
                        singles = singles.wrapping_add(1);
                        op_for(false, transport, start, end)
                    }
                    _ => {
                        windows = windows.wrapping_add(1);
                        op_for(true, Transport::KvmHcSendIpi, start, end)
                    }
                };
                *slots.next().ok_or(PlanError::OutTooSmall)? = op;
            }
            let Some(id) = next else { break };
            first = false;
            start = end;
            limit = id.wrapping_add(u64::from(KVM_IPI_CLUSTER_SIZE));
        }
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        let in_windows = n64.saturating_sub(singles);
        Ok(Plan {
            targets: n,
            ops: usize::try_from(windows.wrapping_add(singles)).unwrap_or(usize::MAX),
            cost: self
                .f
                .saturating_mul(windows)
                .saturating_add(self.h.saturating_mul(in_windows))
                .saturating_add(self.u.saturating_mul(singles)),
            exits: windows.saturating_add(self.u_exits.saturating_mul(singles)),
            hypercalls: windows,
        })
    }

    /// Finds the cheapest mix of `unicast` targets and windows (the sweep above).
    fn plan_mixed(
        &self,
        ids: &[ApicId],
        unicast: Transport,
        out: &mut [Op],
        scratch: &mut [u64],
    ) -> Result<Plan, PlanError> {
        let n = ids.len();
        let words = n.div_ceil(64);
        let too_small = PlanError::ScratchTooSmall;
        let (queue, bits) = scratch.split_first_chunk_mut::<RING>().ok_or(too_small)?;
        let bits = bits.get_mut(..words.saturating_mul(2)).ok_or(too_small)?;
        bits.fill(0);
        let (expired, chosen) = bits.split_at_mut_checked(words).ok_or(too_small)?;
        // Only called with h < u and d = u - h < F <= u32::MAX, and
        // n <= MAX_TARGETS = 2^31, so every cost stays below 2^63 and the
        // plain wrapping adds are exact.
        let d = self.u.wrapping_sub(self.h);
        let f = self.f;

        // The queue of open windows: entry k (head <= k < tail, taken modulo
        // QUEUE) costs `queue[2k]` and started at the target whose index and
        // id are the low and high halves of `queue[2k + 1]`.
        // INVARIANT: at most QUEUE entries, since their starts are distinct ids
        // within 127 of each other (expired ones leave before a new one enters).
        // The first target opens a window (F) or goes alone (d < F): both live.
        let Some((first, mut rest)) = ids.split_first() else {
            return Ok(Plan::default());
        };
        let first = u64::from(first.0);
        let mut head: usize = 0;
        let mut tail: usize = 1;
        if let Some([cost, start]) = queue.first_chunk_mut::<2>() {
            (*cost, *start) = (f, first << 32);
        }
        // The front entry's cost and the first id it does not cover.
        let (mut front_cost, mut front_end) = (f, first.wrapping_add(SPAN_END));
        // The cost of `N`, or MAX when an open window costs no more.
        let mut none: u64 = d;
        // Targets below `limit` need no work: 0 while `N` is alive, else `front_end`.
        let mut limit: u64 = 0;
        let mut next_min: u64 = first.wrapping_add(1);
        while let Some(id) = skip_below(&mut rest, &mut next_min, limit)? {
            // The index of `id`.
            let x = n.wrapping_sub(rest.len()).wrapping_sub(1);
            if id >= front_end {
                // The front window ends before `id`: as the cheapest open
                // window it may become `N` at `x`; the others ending there
                // cost more, and simply leave.
                if front_cost < none {
                    none = front_cost;
                    // x >= 1: the window started at an earlier target.
                    set_bit(expired, x.wrapping_sub(1));
                    set_bit(chosen, entry(queue, head).1);
                }
                loop {
                    head = head.wrapping_add(1);
                    (front_cost, front_end) = front(queue, head, tail);
                    if id < front_end {
                        break;
                    }
                }
            }
            if none < front_cost {
                // `N` opens a window here, or sends `id` alone. Every open
                // window costs more than `N` now and `N` never gets cheaper,
                // so the queue stays sorted by cost without removing anything.
                let c = none.wrapping_add(f);
                let k = tail % QUEUE;
                if let Some([cost, start]) =
                    queue.get_mut(k.wrapping_mul(2)..k.wrapping_mul(2).wrapping_add(2))
                {
                    *cost = c;
                    // x < 2^31: the index and the id share one word.
                    *start = (id << 32) | u64::try_from(x).unwrap_or(0);
                }
                tail = tail.wrapping_add(1);
                if tail.wrapping_sub(head) == 1 {
                    (front_cost, front_end) = (c, id.wrapping_add(SPAN_END));
                }
                none = none.wrapping_add(d);
            }
            if none < front_cost {
                limit = 0;
            } else {
                none = u64::MAX;
                limit = front_end;
            }
        }

        // Rebuild backwards: the final state is `N` or the cheapest open window.
        let best = front_cost.min(none);
        let (expired, chosen) = (&*expired, &*chosen);
        let mut slots = out.iter_mut();
        let mut k: usize = 0;
        let mut emit = |op: Op| -> Result<(), PlanError> {
            *slots.next().ok_or(PlanError::OutTooSmall)? = op;
            k = k.wrapping_add(1);
            Ok(())
        };
        let mut windows: u64 = 0;
        let mut singles: u64 = 0;
        let mut end = n;
        if front_cost <= none {
            let s = entry(queue, head).1.min(end.saturating_sub(1));
            emit(op_for(true, unicast, s, end))?;
            windows = windows.wrapping_add(1);
            end = s;
        }
        while let Some(last) = end.checked_sub(1) {
            let start = if bit(expired, last) {
                // `N` at `end` came from the window that `ids[end]` closed: the
                // highest chosen start that does not reach `ids[end]`.
                let stop = ids.get(end).map_or(0, |id| id.0);
                let mut below = end;
                let start = loop {
                    match prev_set_bit(chosen, below) {
                        Some(s)
                            if ids
                                .get(s)
                                .is_some_and(|id| stop.wrapping_sub(id.0) > WINDOW_SPAN) =>
                        {
                            break s
                        }
                        Some(s) => below = s,
                        // Cannot happen; a one-target window keeps the cover valid.
                        None => break last,
                    }
                };
                windows = windows.wrapping_add(1);
                emit(op_for(true, unicast, start, end))?;
                start
            } else {
                let start = prev_set_bit(expired, last).map_or(0, |e| e.wrapping_add(1));
                singles = singles.wrapping_add(u64::try_from(end.wrapping_sub(start)).unwrap_or(0));
                emit(op_for(false, unicast, start, end))?;
                start
            };
            end = start;
        }
        if let Some(done) = out.get_mut(..k) {
            done.reverse();
        }
        // Exact: best < 2^63 (above), h < 2^32 and n <= 2^31, u_exits <= 2.
        let n64 = u64::try_from(n).unwrap_or(0);
        Ok(Plan {
            targets: n,
            ops: k,
            cost: best.wrapping_add(self.h.wrapping_mul(n64)),
            exits: windows.wrapping_add(singles.wrapping_mul(self.u_exits)),
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

/// Consumes ids below `limit`, checking that each is at least `next_min` (then
/// raising it past the id); returns the first id at or above `limit`, consumed
/// too, or `None` at the end.
///
/// Every target goes through this loop, eight (then four) at a time: once a
/// chunk is known to increase, its last id tells whether any reaches `limit`,
/// and a count tells which one is first.
#[inline(always)]
fn skip_below(
    rest: &mut &[ApicId],
    next_min: &mut u64,
    limit: u64,
) -> Result<Option<u64>, PlanError> {
    if let Some(found) = skip_chunks::<8>(rest, next_min, limit) {
        return found;
    }
    if let Some(found) = skip_chunks::<4>(rest, next_min, limit) {
        return found;
    }
    while let Some((id, tail)) = rest.split_first() {
        *rest = tail;
        let id = u64::from(id.0);
        if id < *next_min {
            return Err(PlanError::NotSorted);
        }
        *next_min = id.wrapping_add(1);
        if id >= limit {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Runs [`skip_below`] over whole chunks of `W` ids; `None` when fewer than `W` are left.
#[inline(always)]
fn skip_chunks<const W: usize>(
    rest: &mut &[ApicId],
    next_min: &mut u64,
    limit: u64,
) -> Option<Result<Option<u64>, PlanError>> {
    while let Some((chunk, tail)) = rest.split_first_chunk::<W>() {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
            return None;
        };
        let (first, last) = (u64::from(first.0), u64::from(last.0));
        if first >= limit {
            // Most often `limit` is 0 here: no need to check the whole chunk.
            if first < *next_min {
                return Some(Err(PlanError::NotSorted));
            }
            *next_min = first.wrapping_add(1);
            *rest = rest.get(1..).unwrap_or(&[]);
            return Some(Ok(Some(first)));
        }
        let increasing = chunk.iter().zip(chunk.iter().skip(1)).all(|(a, b)| a < b);
        if first < *next_min || !increasing {
            return Some(Err(PlanError::NotSorted));
        }
        if last < limit {
            *next_min = last.wrapping_add(1);
            *rest = tail;
            continue;
        }
        // The chunk increases, so the ids below `limit` come first: 1..W of them.
        let below = chunk.iter().fold(0usize, |k, id| {
            k.wrapping_add(usize::from(u64::from(id.0) < limit))
        });
        let (id, after) = rest.get(below..).and_then(<[ApicId]>::split_first)?;
        let id = u64::from(id.0);
        *next_min = id.wrapping_add(1);
        *rest = after;
        return Some(Ok(Some(id)));
    }
    None
}

/// Fails with [`PlanError::NotSorted`] unless `ids` strictly increase.
#[inline(always)]
fn check_sorted(mut ids: &[ApicId]) -> Result<(), PlanError> {
    let mut next_min = 0;
    // No id reaches u64::MAX: this only checks the order.
    skip_below(&mut ids, &mut next_min, u64::MAX).map(|_| ())
}

/// The first id after a window starting at id 0.
const SPAN_END: u64 = KVM_IPI_CLUSTER_SIZE as u64;

/// Returns the cost and the start index of queue entry `k`.
#[inline(always)]
fn entry(queue: &[u64; RING], k: usize) -> (u64, usize) {
    let i = (k % QUEUE).wrapping_mul(2);
    let cost = queue.get(i).copied().unwrap_or(u64::MAX);
    let start = queue
        .get(i.wrapping_add(1))
        .map_or(0, |&w| w & u64::from(u32::MAX));
    (cost, usize::try_from(start).unwrap_or(0))
}

/// Returns the cost of the queue's front entry `head` and the first id it does
/// not cover, or MAX for both when the queue is empty.
#[inline(always)]
fn front(queue: &[u64; RING], head: usize, tail: usize) -> (u64, u64) {
    if head == tail {
        return (u64::MAX, u64::MAX);
    }
    let i = (head % QUEUE).wrapping_mul(2);
    let cost = queue.get(i).copied().unwrap_or(u64::MAX);
    let end = queue
        .get(i.wrapping_add(1))
        .map_or(u64::MAX, |&w| (w >> 32).wrapping_add(SPAN_END));
    (cost, end)
}

/// Sets bit `i` of a bitmap stored in words.
fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w |= 1 << (i % 64);
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

/// Sorts `ids` in place and drops duplicates; returns how many distinct ids remain.
///
/// When the ids span no more bits than `scratch` holds, and not many more words
/// than there are ids, they are marked in a bitmap and read back in order:
/// O(n + span / 64), typical of APIC ids, which are dense or nearly so.
/// Otherwise insertion sort or heapsort, then a dedup pass.
fn sort_ids(ids: &mut [ApicId], scratch: &mut [u64]) -> usize {
    let (lo, hi) = ids
        .iter()
        .fold((u32::MAX, 0), |(lo, hi), id| (lo.min(id.0), hi.max(id.0)));
    let words =
        usize::try_from(hi.wrapping_sub(lo) / 64).map_or(usize::MAX, |w| w.saturating_add(1));
    let budget = ids.len().saturating_mul(4).saturating_add(64);
    let map = match scratch.get_mut(..words) {
        Some(map) if !ids.is_empty() && words <= budget => map,
        _ => {
            sort::sort(ids);
            return sort::dedup_sorted(ids);
        }
    };
    map.fill(0);
    for id in ids.iter() {
        set_bit(
            map,
            usize::try_from(id.0.wrapping_sub(lo)).unwrap_or(usize::MAX),
        );
    }
    let mut slots = ids.iter_mut();
    let mut n: usize = 0;
    let mut base = lo;
    for &word in map.iter() {
        let mut w = word;
        while w != 0 {
            if let Some(slot) = slots.next() {
                *slot = ApicId(base.wrapping_add(w.trailing_zeros()));
                n = n.wrapping_add(1);
            }
            w &= w.wrapping_sub(1);
        }
        base = base.wrapping_add(64);
    }
    n
}
