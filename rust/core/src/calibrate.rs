// SPDX-License-Identifier: GPL-2.0

//! Calibration math: raw cycle samples -> robust costs, fitted lines and crossovers.
//!
//! For each transport the module times sends to a few target counts, many
//! samples each. Every sample set is reduced to its median (robust against the
//! occasional interrupt or preemption in the timed region) and checked for noise
//! with the median absolute deviation; a line `fixed + per_target * targets` is then
//! fitted to the medians with the Theil–Sen estimator (median of pairwise slopes),
//! which ignores a minority of bad points. Everything is integer math; any
//! failure returns an error and leaves the cost table untouched.

#![forbid(unsafe_code)]

use super::profile::Cost;
use super::profile::Costs;
use super::profile::Transport;
use super::sort;

/// Most target counts one fit accepts (pairwise slopes are kept on the stack).
pub const MAX_POINTS: usize = 16;

/// Number of pairs of [`MAX_POINTS`] points.
const MAX_PAIRS: usize = MAX_POINTS * (MAX_POINTS - 1) / 2;

/// Why calibration refused to produce costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalError {
    /// A point has fewer samples than [`Limits::min_samples`].
    TooFewSamples {
        /// The target count of the point.
        targets: u32,
    },
    /// A point's spread exceeds [`Limits::max_spread_pct`].
    TooNoisy {
        /// The target count of the point.
        targets: u32,
        /// Its median absolute deviation, in percent of its median.
        spread_pct: u64,
    },
    /// Too few distinct target counts to fit (two for a window transport, one otherwise).
    TooFewPoints,
    /// More than [`MAX_POINTS`] points.
    TooManyPoints,
    /// A fitted cost does not fit the cost table's `u32`.
    OutOfRange,
    /// The limits themselves are unusable (zero samples, trim of 50 % or more).
    BadLimits,
}

/// Acceptance limits for sample sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Fewest samples per point.
    pub min_samples: usize,
    /// Largest median absolute deviation, in percent of the median.
    pub max_spread_pct: u64,
    /// Share of samples dropped at each end for the trimmed mean, in percent (< 50).
    pub trim_pct: u64,
}

impl Limits {
    /// Defaults: 16 samples, spread at most 25 %, 10 % trimmed at each end.
    pub const DEFAULT: Self = Self {
        min_samples: 16,
        max_spread_pct: 25,
        trim_pct: 10,
    };
}

/// Robust statistics of one sample set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Summary {
    /// Median (the lower middle for an even count).
    pub median: u64,
    /// Median absolute deviation from the median.
    pub mad: u64,
    /// Mean of the samples left after trimming both ends.
    pub trimmed_mean: u64,
    /// Smallest sample.
    pub min: u64,
}

/// Returns the lower median of a sorted slice.
fn lower_median<T: Copy>(sorted: &[T]) -> Option<T> {
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// Summarizes `samples`, sorting them in place.
///
/// ```
/// use ipi_core::calibrate::{summarize, Limits};
/// let mut s = [100u64, 102, 98, 101, 99, 100, 5000, 100];
/// let lim = Limits { min_samples: 8, max_spread_pct: 10, trim_pct: 13 };
/// let sum = summarize(&mut s, &lim).unwrap();
/// assert_eq!((sum.median, sum.mad, sum.trimmed_mean), (100, 1, 100));
/// ```
pub fn summarize(samples: &mut [u64], limits: &Limits) -> Result<Summary, CalError> {
    if limits.min_samples == 0 || limits.trim_pct >= 50 {
        return Err(CalError::BadLimits);
    }
    if samples.len() < limits.min_samples {
        return Err(CalError::TooFewSamples { targets: 0 });
    }
    sort::sort(samples);
    let median = lower_median(samples).ok_or(CalError::TooFewSamples { targets: 0 })?;
    let min = samples.first().copied().unwrap_or(0);

    // MAD without a second buffer: the deviations left of the median are
    // decreasing and those right of it increasing, so merge the two runs and
    // stop at the middle element.
    let n = samples.len();
    let want = n.saturating_sub(1) / 2;
    let (left, right) = samples
        .split_at_checked(n.saturating_add(1) / 2)
        .unwrap_or((&[], &[]));
    let mut l = left
        .iter()
        .rev()
        .map(|&x| median.saturating_sub(x))
        .peekable();
    let mut r = right.iter().map(|&x| x.saturating_sub(median)).peekable();
    let mut mad = 0;
    for _ in 0..=want {
        mad = match (l.peek().copied(), r.peek().copied()) {
            (Some(a), Some(b)) if a <= b => l.next().unwrap_or(a),
            (Some(_), Some(b)) => r.next().unwrap_or(b),
            (Some(a), None) => l.next().unwrap_or(a),
            (None, Some(b)) => r.next().unwrap_or(b),
            (None, None) => break,
        };
    }

    let n64 = u64::try_from(n).unwrap_or(u64::MAX);
    let cut = usize::try_from(n64.saturating_mul(limits.trim_pct) / 100).unwrap_or(0);
    let kept = samples.get(cut..n.saturating_sub(cut)).unwrap_or(&[]);
    // 64-bit only: the kernel has no 128-bit division.  Cycle samples are far
    // below 2^48, so the sum of even a million of them cannot saturate.
    let sum: u64 = kept.iter().fold(0u64, |acc, &x| acc.saturating_add(x));
    let count = u64::try_from(kept.len()).unwrap_or(1).max(1);
    let trimmed_mean = sum.checked_div(count).unwrap_or(0);
    Ok(Summary {
        median,
        mad,
        trimmed_mean,
        min,
    })
}

/// One measured point: the samples of sending to `targets` targets.
#[derive(Debug)]
pub struct Point<'a> {
    /// Number of targets per timed send.
    pub targets: u32,
    /// Raw cycle counts, one per timed send; sorted in place by calibration.
    pub samples: &'a mut [u64],
}

/// A fitted line `fixed + per_target * targets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Fit {
    /// Intercept (clamped at 0).
    pub fixed: u64,
    /// Slope (clamped at 0).
    pub per_target: u64,
}

/// Divides rounding to nearest, ties away from zero; `den` must be positive.
///
/// 64-bit: the kernel has no 128-bit division helpers.
fn div_round(num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let half = den / 2;
    let biased = if num >= 0 {
        num.saturating_add(half)
    } else {
        num.saturating_sub(half)
    };
    biased.checked_div(den).unwrap_or(0)
}

/// Returns the median of `v` (average of the two middles for an even count), sorting it.
fn median_i64(v: &mut [i64]) -> Option<i64> {
    sort::sort(v);
    let n = v.len();
    let hi = v.get(n / 2).copied()?;
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = v.get(n.checked_sub(1)? / 2).copied()?;
    Some(div_round(lo.saturating_add(hi), 2))
}

/// Fits `y = fixed + per_target * x` to `(x, y)` points with Theil–Sen.
///
/// Points sharing an `x` do not form a slope. With a single distinct `x` the
/// slope is 0 and the intercept is the median `y`.
///
/// ```
/// use ipi_core::calibrate::{theil_sen, Fit};
/// // 1000 + 100 x, one outlier.
/// let pts = [(1, 1100), (2, 1200), (4, 1400), (8, 9999), (16, 2600)];
/// assert_eq!(theil_sen(&pts), Ok(Fit { fixed: 1000, per_target: 100 }));
/// ```
pub fn theil_sen(points: &[(u32, u64)]) -> Result<Fit, CalError> {
    if points.is_empty() {
        return Err(CalError::TooFewPoints);
    }
    if points.len() > MAX_POINTS {
        return Err(CalError::TooManyPoints);
    }
    // Cycle counts stay far below 2^63; larger values saturate.
    let y64 = |y: u64| i64::try_from(y).unwrap_or(i64::MAX);
    let mut slopes = [0i64; MAX_PAIRS];
    let mut n_slopes: usize = 0;
    for (i, &(xi, yi)) in points.iter().enumerate() {
        for &(xj, yj) in points.iter().skip(i.saturating_add(1)) {
            let dx = i64::from(xj).saturating_sub(i64::from(xi));
            let dy = y64(yj).saturating_sub(y64(yi));
            if dx == 0 {
                continue;
            }
            let (dx, dy) = if dx < 0 {
                (dx.saturating_neg(), dy.saturating_neg())
            } else {
                (dx, dy)
            };
            if let Some(slot) = slopes.get_mut(n_slopes) {
                *slot = div_round(dy, dx);
                n_slopes = n_slopes.saturating_add(1);
            }
        }
    }
    let slope = match slopes.get_mut(..n_slopes) {
        Some(s) if !s.is_empty() => median_i64(s).unwrap_or(0),
        _ => 0,
    };
    let mut intercepts = [0i64; MAX_POINTS];
    for (slot, &(x, y)) in intercepts.iter_mut().zip(points) {
        *slot = y64(y).saturating_sub(slope.saturating_mul(i64::from(x)));
    }
    let fixed = intercepts
        .get_mut(..points.len())
        .and_then(median_i64)
        .unwrap_or(0);
    let clamp = |v: i64| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
    Ok(Fit {
        fixed: clamp(fixed),
        per_target: clamp(slope),
    })
}

/// Reduces every point to its median minus `overhead` and fits a line to them.
///
/// `overhead` is the median cost of an empty timed region (the timer itself).
pub fn fit(points: &mut [Point<'_>], overhead: u64, limits: &Limits) -> Result<Fit, CalError> {
    if points.len() > MAX_POINTS {
        return Err(CalError::TooManyPoints);
    }
    let mut medians = [(0u32, 0u64); MAX_POINTS];
    for (slot, p) in medians.iter_mut().zip(points.iter_mut()) {
        let targets = p.targets;
        let s = summarize(p.samples, limits).map_err(|e| match e {
            CalError::TooFewSamples { .. } => CalError::TooFewSamples { targets },
            other => other,
        })?;
        let spread_pct = s
            .mad
            .saturating_mul(100)
            .checked_div(s.median.max(1))
            .unwrap_or(u64::MAX);
        if spread_pct > limits.max_spread_pct {
            return Err(CalError::TooNoisy {
                targets,
                spread_pct,
            });
        }
        *slot = (targets, s.median.saturating_sub(overhead));
    }
    theil_sen(medians.get(..points.len()).unwrap_or(&[]))
}

/// Number of distinct target counts among `points`.
fn distinct_targets(points: &[Point<'_>]) -> usize {
    let mut xs = [0u32; MAX_POINTS];
    for (slot, p) in xs.iter_mut().zip(points) {
        *slot = p.targets;
    }
    let xs = xs
        .get_mut(..points.len().min(MAX_POINTS))
        .unwrap_or(&mut []);
    sort::sort(xs);
    sort::dedup_sorted(xs)
}

/// Turns a fit into the cost-table entry of `transport`.
///
/// A window transport keeps both terms; a unicast transport sends one target per
/// operation, so its per-target slope becomes the per-operation cost (the
/// intercept is harness overhead), unless only one target count was measured.
pub fn cost_from_fit(transport: Transport, fit: Fit, distinct: usize) -> Result<Cost, CalError> {
    let to_u32 = |v: u64| u32::try_from(v).map_err(|_| CalError::OutOfRange);
    if transport.is_window() {
        if distinct < 2 {
            return Err(CalError::TooFewPoints);
        }
        Ok(Cost {
            per_op: to_u32(fit.fixed)?,
            per_target: to_u32(fit.per_target)?,
        })
    } else if distinct < 2 {
        Ok(Cost {
            per_op: to_u32(fit.fixed)?,
            per_target: 0,
        })
    } else {
        Ok(Cost {
            per_op: to_u32(fit.per_target)?,
            per_target: 0,
        })
    }
}

/// The measurements of one transport.
#[derive(Debug)]
pub struct Series<'a, 'b> {
    /// The transport that was timed.
    pub transport: Transport,
    /// Its points.
    pub points: &'a mut [Point<'b>],
}

/// Calibrates every series and, only if all succeed, stores the new costs in `costs`.
///
/// On error `costs` is unchanged. Transports without a series keep their cost.
pub fn calibrate(
    costs: &mut Costs,
    series: &mut [Series<'_, '_>],
    overhead: u64,
    limits: &Limits,
) -> Result<Costs, CalError> {
    let mut next = *costs;
    for s in series.iter_mut() {
        let distinct = distinct_targets(s.points);
        if distinct == 0 {
            return Err(CalError::TooFewPoints);
        }
        let f = fit(s.points, overhead, limits)?;
        next.set(s.transport, cost_from_fit(s.transport, f, distinct)?);
    }
    *costs = next;
    Ok(next)
}

/// Returns the smallest target count in `1..=max` at which `b` is strictly cheaper than `a`.
///
/// Costs are for densely packed ids (see [`Costs::dense_total`]).
///
/// ```
/// use ipi_core::calibrate::crossover;
/// use ipi_core::profile::{Costs, Transport};
/// let c = Costs::SPR_IPIV; // ICR 3645 per target; hypercall 4188 + 150 per target
/// assert_eq!(crossover(&c, Transport::X2apicIcr, Transport::KvmHcSendIpi, 64), Some(2));
/// ```
pub fn crossover(costs: &Costs, a: Transport, b: Transport, max: u32) -> Option<u32> {
    (1..=max).find(|&k| costs.dense_total(b, u64::from(k)) < costs.dense_total(a, u64::from(k)))
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

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *seed >> 33
    }

    #[test]
    fn summary_matches_naive() {
        let mut seed = 1;
        for len in 1..60usize {
            let mut s = [0u64; 60];
            for x in s.iter_mut().take(len) {
                *x = lcg(&mut seed) % 1000;
            }
            let lim = Limits {
                min_samples: 1,
                max_spread_pct: 100,
                trim_pct: 0,
            };
            let sum = summarize(&mut s[..len], &lim).unwrap();
            let mut all = s;
            let sorted = &mut all[..len];
            sorted.sort_unstable();
            let med = sorted[(len - 1) / 2];
            let mut dev: [u64; 60] = [0; 60];
            for (d, x) in dev.iter_mut().zip(sorted.iter()) {
                *d = x.abs_diff(med);
            }
            dev[..len].sort_unstable();
            assert_eq!(sum.median, med);
            assert_eq!(sum.mad, dev[(len - 1) / 2], "len {len}");
            let mean = sorted.iter().sum::<u64>() / len as u64;
            assert_eq!(sum.trimmed_mean, mean);
        }
    }

    #[test]
    fn errors_leave_table() {
        let mut costs = Costs::SKYLAKE;
        let mut few = [1u64; 3];
        let mut pts = [Point {
            targets: 1,
            samples: &mut few,
        }];
        let mut series = [Series {
            transport: Transport::X2apicIcr,
            points: &mut pts,
        }];
        let r = calibrate(&mut costs, &mut series, 0, &Limits::DEFAULT);
        assert_eq!(r, Err(CalError::TooFewSamples { targets: 1 }));
        assert_eq!(costs, Costs::SKYLAKE);

        let mut noisy = [0u64; 32];
        for (i, x) in noisy.iter_mut().enumerate() {
            *x = 100 + 30 * i as u64;
        }
        let mut pts = [Point {
            targets: 1,
            samples: &mut noisy,
        }];
        let mut series = [Series {
            transport: Transport::X2apicIcr,
            points: &mut pts,
        }];
        let r = calibrate(&mut costs, &mut series, 0, &Limits::DEFAULT);
        assert!(matches!(r, Err(CalError::TooNoisy { targets: 1, .. })));
        assert_eq!(costs, Costs::SKYLAKE);
    }

    #[test]
    fn calibrates_hypercall_and_icr() {
        let mut seed = 3;
        let mut bufs = [[0u64; 32]; 8];
        let ks = [1u32, 2, 4, 8, 16, 32, 64, 128];
        for (b, &k) in bufs.iter_mut().zip(&ks) {
            for x in b.iter_mut() {
                // 50 cycles of timer overhead, 4000 + 200 k, +-2 % jitter, rare spikes.
                let base = 50 + 4000 + 200 * u64::from(k);
                let jitter = lcg(&mut seed) % (base / 25 + 1);
                *x = base - base / 50 + jitter + if lcg(&mut seed) % 20 == 0 { 50_000 } else { 0 };
            }
        }
        let [b0, b1, b2, b3, b4, b5, b6, b7] = &mut bufs;
        let mut pts = [
            Point {
                targets: 1,
                samples: b0,
            },
            Point {
                targets: 2,
                samples: b1,
            },
            Point {
                targets: 4,
                samples: b2,
            },
            Point {
                targets: 8,
                samples: b3,
            },
            Point {
                targets: 16,
                samples: b4,
            },
            Point {
                targets: 32,
                samples: b5,
            },
            Point {
                targets: 64,
                samples: b6,
            },
            Point {
                targets: 128,
                samples: b7,
            },
        ];
        let mut costs = Costs::default();
        let mut series = [Series {
            transport: Transport::KvmHcSendIpi,
            points: &mut pts,
        }];
        let new = calibrate(&mut costs, &mut series, 50, &Limits::DEFAULT).unwrap();
        assert_eq!(costs, new);
        let c = new.kvm_hc;
        assert!(c.per_op.abs_diff(4000) < 200, "{c:?}");
        assert!(c.per_target.abs_diff(200) < 10, "{c:?}");
    }

    #[test]
    fn unicast_cost_mapping() {
        let fit = Fit {
            fixed: 70,
            per_target: 4000,
        };
        assert_eq!(
            cost_from_fit(Transport::X2apicIcr, fit, 3),
            Ok(Cost {
                per_op: 4000,
                per_target: 0
            })
        );
        assert_eq!(
            cost_from_fit(Transport::X2apicIcr, fit, 1),
            Ok(Cost {
                per_op: 70,
                per_target: 0
            })
        );
        assert_eq!(
            cost_from_fit(Transport::KvmHcSendIpi, fit, 1),
            Err(CalError::TooFewPoints)
        );
        let huge = Fit {
            fixed: u64::MAX,
            per_target: 0,
        };
        assert_eq!(
            cost_from_fit(Transport::KvmHcSendIpi, huge, 2),
            Err(CalError::OutOfRange)
        );
    }

    #[test]
    fn theil_sen_edges() {
        assert_eq!(theil_sen(&[]), Err(CalError::TooFewPoints));
        assert_eq!(
            theil_sen(&[(4, 10), (4, 30), (4, 20)]),
            Ok(Fit {
                fixed: 20,
                per_target: 0
            })
        );
        // Decreasing data clamps at zero.
        assert_eq!(theil_sen(&[(1, 100), (2, 50)]).map(|f| f.per_target), Ok(0));
        let extreme = [(0, u64::MAX), (u32::MAX, 0), (1, u64::MAX)];
        assert!(theil_sen(&extreme).is_ok());
    }

    #[test]
    fn crossovers() {
        let c = Costs::SKYLAKE;
        assert_eq!(
            crossover(&c, Transport::X2apicIcr, Transport::KvmHcSendIpi, 100),
            Some(2)
        );
        assert_eq!(
            crossover(&c, Transport::KvmHcSendIpi, Transport::X2apicIcr, 100),
            None
        );
        assert_eq!(
            crossover(&c, Transport::Posted, Transport::X2apicIcr, 100),
            None
        );
    }
}
